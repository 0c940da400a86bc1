import { z } from 'zod';
import { csv, port } from './env.ts';

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

export const postgresEnv = z.object({
  DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/tillstream_store').describe("The service's PostgreSQL database."),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10).describe('Pool size; small, because a store server has 2 cores and PostgreSQL shares them.'),
});

/** The PostgreSQL server (any database on it; tools create and address databases by name). */
export const postgresServerEnv = z.object({
  POSTGRES_URL: z.url().default('postgres://postgres@127.0.0.1:5432/postgres').describe('PostgreSQL server, for tools that create databases.'),
});

export const redisEnv = z.object({
  REDIS_URL: z.url().default('redis://127.0.0.1:6379').describe('Redis for BullMQ jobs.'),
});

export const storeIdentityEnv = z.object({
  STORE_ID: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'must be letters, digits, "-" or "_"').describe('This store.'),
});

/** HTTP listen address; the default port differs per service, so it is a function. */
export function httpEnv(defaultPort: number) {
  return z.object({
    HOST: z.string().default('127.0.0.1').describe('Address to listen on.'),
    PORT: port.default(defaultPort).describe('Port to listen on (0 picks a free one).'),
  });
}
