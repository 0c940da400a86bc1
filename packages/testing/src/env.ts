import { z } from 'zod';
import { hqKafkaEnv, parseEnv, postgresServerEnv, redisEnv, storeKafkaEnv } from '@tillstream/config';

/** Where tests find the local infrastructure (the infra tool's defaults). */
export const testEnv = parseEnv(
  z.object({
    KAFKA_BROKERS: storeKafkaEnv.shape.KAFKA_BROKERS,
    ...hqKafkaEnv.shape,
    ...postgresServerEnv.shape,
    ...redisEnv.shape,
    /** The sync service's Redis URL with this run's ACL user (set by the global setup; see syncRedisUrl()). */
    TEST_SYNC_REDIS_URL: z.url().optional(),
    TEST_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('silent'),
    /**
     * Suffix of the template databases' names. Two checkouts testing at once
     * against one PostgreSQL server (git worktrees with different
     * migrations) each set their own, or one run's template replaces the
     * other's mid-clone.
     */
    /** Set by the global setup: where the run's test CA and server certificate are (tls.ts). */
    TILLSTREAM_TEST_TLS_DIR: z.string().min(1).optional(),
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
