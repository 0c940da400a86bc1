import { z } from 'zod';
import { hqKafkaEnv, kafkaPlacementEnv, logEnv, parseEnv, postgresServerEnv, storeKafkaEnv } from '@tillstream/config';
import { infraConfigFromEnv } from '@tillstream/infra';
import type { Logger } from '@tillstream/observability';

/** Defaults the CLI takes from the environment; flags override them. `tillstream --help` lists them from here. */
export const cliEnvSchema = z.object({
  ...logEnv.shape,
  POSTGRES_URL: postgresServerEnv.shape.POSTGRES_URL.describe("PostgreSQL server, as an administrator; a store's database is tillstream_store_<store id, lower-case> on it."),
  POSTGRES_PASSWORD_FILE: z.string().min(1).optional().describe("The administrator's password (a secret file), added to POSTGRES_URL by `tillstream migrate`."),
  ...storeKafkaEnv.shape,
  ...hqKafkaEnv.shape,
  KAFKA_BROKERS: storeKafkaEnv.shape.KAFKA_BROKERS.describe("The store's brokers, where `dlq replay` re-produces a store's record and `kafka provision` provisions."),
  HQ_KAFKA_BROKERS: hqKafkaEnv.shape.HQ_KAFKA_BROKERS.describe("HQ's brokers (`dlq replay --hq`, `kafka provision --hq`)."),
  ...kafkaPlacementEnv.shape,
  DATABASE_URL: z.url().optional().describe('A store database URL, when it is not the default name.'),
  STORE_TIME_ZONE: z.string().min(1).default('UTC').describe("The stores' time zone for simulated business days (as the services' STORE_TIME_ZONE)."),
  HQ_DATABASE_URL: z.url().optional().describe("HQ's database URL, when it is not tillstream_hq on POSTGRES_URL."),
  CERTS_DIR: z.string().min(1).default('certs').describe('Where `tillstream certs` writes the chain CA and certificates, and `store add` finds the CA.'),
});

export const cliEnv = parseEnv(cliEnvSchema, process.env);

/** The local infrastructure's settings (ports, state and cache folders), from the same variables as `npm run infra:up`. */
export const infraConfig = (logger: Logger) => infraConfigFromEnv(process.env, logger);
