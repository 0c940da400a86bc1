import { z } from 'zod';
import { csv, parseEnv } from '@tillstream/config';

/** Where tests find the local infrastructure (the infra tool's defaults). */
export const testEnv = parseEnv(
  z.object({
    KAFKA_BROKERS: csv.default(['127.0.0.1:9092']),
    HQ_KAFKA_BROKERS: csv.default(['127.0.0.1:9192']),
    POSTGRES_URL: z.url().default('postgres://postgres@127.0.0.1:5432/postgres'),
    REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
    TEST_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('silent'),
  }),
  process.env,
);

/** Template databases the global setup migrates once per run; tests clone them. */
export const TEMPLATE_DB = { store: 'tillstream_template_store', hq: 'tillstream_template_hq' } as const;
