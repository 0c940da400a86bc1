import { z } from 'zod';
import { hqKafkaEnv, logEnv, parseEnv, postgresServerEnv, storeKafkaEnv } from '@tillstream/config';
import { infraConfigFromEnv } from '@tillstream/infra';
import type { Logger } from '@tillstream/observability';

/** Defaults the CLI takes from the environment; flags override them. */
export const cliEnv = parseEnv(
  z.object({
    ...logEnv.shape,
    /** POSTGRES_URL: a store's database is tillstream_store_<store id, lower-case> on it. */
    ...postgresServerEnv.shape,
    /** The administrator's password (a secret file), added to POSTGRES_URL by `tillstream migrate`. */
    POSTGRES_PASSWORD_FILE: z.string().min(1).optional(),
    /** KAFKA_BROKERS, HQ_KAFKA_BROKERS: where `dlq replay` re-produces (the store's broker, or HQ's). */
    ...storeKafkaEnv.shape,
    ...hqKafkaEnv.shape,
    /** A store database URL, when it is not the default name. */
    DATABASE_URL: z.url().optional(),
    /** The stores' time zone for simulated business days (as the services' STORE_TIME_ZONE). */
    STORE_TIME_ZONE: z.string().min(1).default('UTC'),
    /** HQ's database URL, when it is not tillstream_hq on POSTGRES_URL. */
    HQ_DATABASE_URL: z.url().optional(),
    /** Where `tillstream certs` writes the chain CA and certificates, and `store add` finds the CA. */
    CERTS_DIR: z.string().min(1).default('certs'),
  }),
  process.env,
);

/** The local infrastructure's settings (ports, state and cache folders), from the same variables as `npm run infra:up`. */
export const infraConfig = (logger: Logger) => infraConfigFromEnv(process.env, logger);
