import { z } from 'zod';
import { hqKafkaEnv, parseEnv, postgresServerEnv, redisEnv, storeKafkaEnv } from '@tillstream/config';

/** Where tests find the local infrastructure (the infra tool's defaults). */
export const testEnv = parseEnv(
  z.object({
    KAFKA_BROKERS: storeKafkaEnv.shape.KAFKA_BROKERS,
    ...hqKafkaEnv.shape,
    ...postgresServerEnv.shape,
    ...redisEnv.shape,
    TEST_LOG_LEVEL: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('silent'),
  }),
  process.env,
);

/** Template databases the global setup migrates once per run; tests clone them. */
export const TEMPLATE_DB = { store: 'tillstream_template_store', hq: 'tillstream_template_hq' } as const;
