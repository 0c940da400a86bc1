import { z } from 'zod';
import { hqKafkaEnv, parseEnv, postgresServerEnv, redisEnv, storeKafkaEnv } from '@tillstream/config';
import { infraConfigFromEnv, infraEnv, localKafkaSecurityEnv, readKafkaCredentials, type InfraConfig, type LocalKafkaCredentials } from '@tillstream/infra';
import type { Logger } from '@tillstream/observability';
import { KAFKA_ADMIN_PRINCIPAL, type KafkaPrincipal } from '@tillstream/kafka';

/** Where tests find the local infrastructure (the infra tool's defaults). */
export const testEnv = parseEnv(
  z.object({
    KAFKA_BROKERS: storeKafkaEnv.shape.KAFKA_BROKERS,
    HQ_KAFKA_BROKERS: hqKafkaEnv.shape.HQ_KAFKA_BROKERS,
    /** The infra tool's state: the brokers' CA and the principals' SCRAM passwords (kafka-credentials.json). */
    TILLSTREAM_STATE_DIR: infraEnv.shape.TILLSTREAM_STATE_DIR,
    ...postgresServerEnv.shape,
    ...redisEnv.shape,
    /** The sync service's Redis URL with this run's ACL user (set by the global setup; see syncRedisUrl()). */
    TEST_SYNC_REDIS_URL: z.url().optional(),
    /** Set by the global setup: where the run's test CA and server certificate are (tls.ts). */
    TILLSTREAM_TEST_TLS_DIR: z.string().min(1).optional(),
    TEST_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('silent'),
    /**
     * Suffix of the template databases' names. Two checkouts testing at once
     * against one PostgreSQL server (git worktrees with different
     * migrations) each set their own, or one run's template replaces the
     * other's mid-clone.
     */
    TEST_TEMPLATE_SUFFIX: z.string().regex(/^[a-z0-9_]{0,20}$/).default(''),
  }),
  process.env,
);

/** Template databases the global setup migrates once per run; tests clone them. */
export const TEMPLATE_DB = {
  store: `tillstream_template_store${testEnv.TEST_TEMPLATE_SUFFIX}`,
  hq: `tillstream_template_hq${testEnv.TEST_TEMPLATE_SUFFIX}`,
} as const;

/**
 * The Redis URL a sync service started by a test connects with: this run's
 * ACL user (keys under BullMQ's prefix, no dangerous commands), created by
 * the global setup, never the default user.
 */
export function syncRedisUrl(): string {
  if (!testEnv.TEST_SYNC_REDIS_URL) throw new Error('TEST_SYNC_REDIS_URL is not set: run tests through vitest (its global setup creates the sync Redis user)');
  return testEnv.TEST_SYNC_REDIS_URL;
}

let credentials: LocalKafkaCredentials | undefined;

/** The local brokers' credentials, as the global setup's `infra up` made them. */
export function testKafkaCredentials(): LocalKafkaCredentials {
  return (credentials ??= readKafkaCredentials(testEnv.TILLSTREAM_STATE_DIR));
}

/**
 * The Kafka env of a service started by a test: its cluster's brokers and its
 * own principal, so the broker's ACLs for that service are what the test
 * exercises (never the admin). `credentials` for a broker a test started itself.
 */
export function kafkaServiceEnv(principal: KafkaPrincipal, options: { brokers?: string[]; credentials?: LocalKafkaCredentials } = {}): Record<string, string> {
  const security = localKafkaSecurityEnv(options.credentials ?? testKafkaCredentials(), principal);
  return principal === 'hq'
    ? { HQ_KAFKA_BROKERS: (options.brokers ?? testEnv.HQ_KAFKA_BROKERS).join(','), ...security }
    : { KAFKA_BROKERS: (options.brokers ?? testEnv.KAFKA_BROKERS).join(','), ...security };
}

/** The environment of an operator's command run by a test: this process' own, connecting to the brokers as the admin principal. */
export function operatorEnv(): Record<string, string | undefined> {
  return { ...process.env, ...localKafkaSecurityEnv(testKafkaCredentials(), KAFKA_ADMIN_PRINCIPAL) };
}

/** The infra tool's settings as this run's environment gives them (the Kafka version and jar cache a test's own brokers use). */
export function testInfraConfig(logger: Logger): InfraConfig {
  return infraConfigFromEnv(process.env, logger);
}
