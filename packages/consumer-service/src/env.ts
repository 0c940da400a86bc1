import { z } from 'zod';
import type { postgresEnv } from '@tillstream/config';
import type { TlsFileSettings } from '@tillstream/http';
import { logEnv, positiveInt, storeIdentityEnv, storeKafkaEnv } from '@tillstream/config';

/** The database variables of a consuming service; each service names its own role (postgresEnv('inventory')). */
type DatabaseEnv = z.output<ReturnType<typeof postgresEnv>>;

/** What every POS-consuming store service reads; services extend it with httpEnv(port) and their own settings. */
export const consumerServiceEnv = z.object({
  ...logEnv.shape,
  ...storeIdentityEnv.shape,
  ...storeKafkaEnv.shape,
  CONSUMER_GROUP: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional()
    .describe('Kafka consumer group; default "<TOPIC_PREFIX><service>". Its position is kept in PostgreSQL, Kafka only hints.'),
  CONSUMER_SESSION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(6000)
    .max(300_000)
    .default(10_000)
    .describe('How long after a crash the broker hands the POS partition to the restarted process (the broker allows 6000 at least).'),
  CONSUME_MAX_BATCH: positiveInt.default(5000).describe('Most POS transactions booked in one database transaction.'),
  PUBLISH_HOLD_LAG: positiveInt.default(20_000).describe('While the consumer is more records than this behind the POS topic (catching up), derived events wait and are published once caught up.'),
});

export type ConsumerServiceEnv = z.output<typeof consumerServiceEnv> & DatabaseEnv & { HOST: string; PORT: number } & TlsFileSettings;
