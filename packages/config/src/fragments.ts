import { z } from 'zod';
import { bool, csv, port } from './env.ts';

/**
 * Env fragments services compose in their own env.ts with `.extend()`.
 * Defaults are the local ones of ARCHITECTURE.md, so a service started on a
 * developer machine without any variable talks to the local infrastructure.
 */

export const logEnv = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
});

/**
 * How a service authenticates to its Kafka cluster: TLS (the broker's
 * certificate checked against this CA) and SASL SCRAM-SHA-512 as the
 * service's own principal, which the broker's ACLs limit to what the service
 * needs. Unset: PLAINTEXT, for an unsecured broker. The password is never
 * defaulted; credentials without TLS are refused at start (packages/kafka
 * kafkaSecurityFromEnv: the rule spans fields, and refined schemas cannot be
 * extended by the services).
 */
export const kafkaSecurityEnv = z.object({
  KAFKA_TLS_CA_FILE: z.string().min(1).optional().describe("PEM file of the CA that issued the Kafka broker's certificate; set, the client speaks TLS."),
  KAFKA_SASL_USERNAME: z.string().min(1).optional().describe("This service's Kafka principal (SASL SCRAM-SHA-512)."),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional().describe("The principal's SCRAM password (a secret: from the environment or the orchestrator's secrets)."),
  KAFKA_SASL_PASSWORD_FILE: z.string().min(1).optional().describe("File holding the principal's SCRAM password (a secret, e.g. a compose secret); overrides KAFKA_SASL_PASSWORD."),
});

export const storeKafkaEnv = z.object({
  KAFKA_BROKERS: csv.default(['127.0.0.1:9092']).describe("Comma-separated bootstrap brokers of the store's own cluster."),
  TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/).default('').describe('Prefix for every topic name, so several demo stores can share one broker.'),
  ...kafkaSecurityEnv.shape,
});

export const hqKafkaEnv = z.object({
  HQ_KAFKA_BROKERS: csv.default(['127.0.0.1:9192']).describe("Comma-separated bootstrap brokers of HQ's cluster."),
  ...kafkaSecurityEnv.shape,
});

/**
 * Overrides of a cluster's topic placement for the command that provisions
 * it (packages/kafka CLUSTER_PROFILES: store RF 1; HQ RF 3, min ISR 2, 12
 * partitions). Unset: the cluster's profile.
 */
export const kafkaPlacementEnv = z.object({
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(16).optional().describe("Replication factor of the provisioned cluster's topics (default: store 1, HQ 3). HQ below 3 is for development only and is warned about."),
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(16).optional().describe('min.insync.replicas of those topics (default: store 1, HQ 2; never above the replication factor).'),
  HQ_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).optional().describe('Partitions of each hq.* topic at least (default 12); existing topics get more only while they hold no record.'),
});

/**
 * A service's PostgreSQL connection. Each service logs in with a role of its
 * own (tillstream_<service>, DML on its own tables only; created by
 * `npx tillstream migrate`), never as the owner or a superuser, so the
 * default URL names that role. A password is never defaulted: it comes from
 * DATABASE_PASSWORD_FILE (a secret) or the URL.
 */
export function postgresEnv(service: 'ingest' | 'inventory' | 'trends' | 'sync' | 'hq', database = 'tillstream_store') {
  return z.object({
    DATABASE_URL: z
      .url()
      .default(`postgres://tillstream_${service}@127.0.0.1:5432/${database}`)
      .describe(`The service's PostgreSQL database, as its own role tillstream_${service}; add ?sslmode=verify-full&sslrootcert=<file> or set DATABASE_CA_FILE for TLS.`),
    DATABASE_PASSWORD_FILE: z.string().min(1).optional().describe("File holding the role's password (a secret); overrides a password in DATABASE_URL."),
    DATABASE_CA_FILE: z.string().min(1).optional().describe("CA certificate of the PostgreSQL server: connect over TLS, checking the server's certificate and host name (sslmode=verify-full)."),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10).describe('Pool size; small, because a store server has 2 cores and PostgreSQL shares them.'),
  });
}

/** The PostgreSQL server (any database on it; tools create and address databases by name). */
export const postgresServerEnv = z.object({
  POSTGRES_URL: z.url().default('postgres://postgres@127.0.0.1:5432/postgres').describe('PostgreSQL server, for tools that create databases.'),
});

export const redisEnv = z.object({
  REDIS_URL: z
    .url()
    .default('redis://127.0.0.1:6379')
    .describe('Redis for BullMQ jobs: redis://<ACL user>@host:port, or rediss:// for TLS. The sync service connects as its ACL user (`npm start` creates it locally; the tests, one per run).'),
  REDIS_PASSWORD_FILE: z.string().min(1).optional().describe("File holding the Redis ACL user's password (a secret); overrides a password in REDIS_URL."),
  REDIS_CA_FILE: z.string().min(1).optional().describe('CA certificate of a rediss:// server, checked with its host name.'),
});

export const storeIdentityEnv = z.object({
  STORE_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'must be letters, digits, "-" or "_"').describe('This store.'),
});

/**
 * HTTP listen address and its TLS; the default port differs per service, so
 * it is a function. A listener serves HTTPS when TLS_CERT_FILE and
 * TLS_KEY_FILE are set; without them it serves plain HTTP only on a loopback
 * address, or when ALLOW_PLAIN_HTTP says the operator chose so (a TLS proxy
 * in front): listen() in @tillstream/http enforces it.
 */
export function httpEnv(defaultPort: number) {
  return z.object({
    HOST: z.string().default('127.0.0.1').describe('Address to listen on.'),
    PORT: port.default(defaultPort).describe('Port to listen on (0 picks a free one).'),
    TLS_CERT_FILE: z.string().min(1).optional().describe('PEM certificate (chain) this listener serves HTTPS with; `npx tillstream certs` makes one. Unset = plain HTTP, allowed only on loopback or with ALLOW_PLAIN_HTTP.'),
    TLS_KEY_FILE: z.string().min(1).optional().describe("PEM private key of TLS_CERT_FILE (keep it 0600)."),
    ALLOW_PLAIN_HTTP: bool.default(false).describe('Serve plain HTTP on a non-loopback address anyway (only behind a TLS-terminating proxy on the same host).'),
  });
}

