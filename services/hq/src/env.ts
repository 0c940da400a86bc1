import { z } from 'zod';
import { hqKafkaEnv, httpEnv, logEnv, parseEnv, positiveInt, postgresEnv } from '@tillstream/config';

/** Everything the HQ service reads from the environment; fails at boot with every bad variable named. */
export const hqEnv = z.object({
  ...logEnv.shape,
  ...hqKafkaEnv.shape,
  ...httpEnv(8090).shape,
  HQ_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/).default('').describe("Prefix for HQ's topic names (tests share one broker)."),
  ...postgresEnv('hq', 'tillstream_hq').shape,
  TLS_CLIENT_CA_FILE: z.string().min(1).describe("PEM chain CA that signs the stores' client certificates (`npx tillstream certs`); every store route requires one (mutual TLS)."),
  STORE_TOKEN_CACHE_MS: positiveInt.default(5000).describe("How long a credential lookup (a store's or a person's token, a session) and the revoked client certificate list are trusted; bounds how long a revoked one works."),
  CATALOG_BODY_LIMIT_BYTES: positiveInt.default(8 * 1024 * 1024).describe("Largest catalog publish body (50,000 items of about 160 bytes); read only after the HQ admin's token was checked."),
  RECONCILE_INTERVAL_MS: positiveInt.default(1000).describe('How often manifests waiting for verification are checked.'),
  REVERIFY_AFTER_MS: positiveInt.default(600_000).describe("A verified manifest is verified again against HQ's data this long after (detects data HQ lost since)."),
  OFFLINE_AFTER_SECONDS: positiveInt.default(120).describe('A store not heard from for this long is reported offline.'),
  BATCH_BODY_LIMIT_BYTES: positiveInt.default(32 * 1024 * 1024).describe('Largest upload batch body; larger gets 413.'),
  CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(10_000).describe("How long after a crash the broker hands HQ's partitions to the restarted process."),
});

export type HqEnv = z.output<typeof hqEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): HqEnv {
  return parseEnv(hqEnv, env);
}
