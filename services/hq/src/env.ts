import { z } from 'zod';
import { csv, hqKafkaEnv, httpEnv, logEnv, parseEnv, positiveInt, postgresEnv } from '@tillstream/config';

/** What one HQ process runs: the store/chain API, the view consumers, the reconciler (`all`: every one, for a small chain). */
export const HQ_ROLES = ['api', 'views', 'reconciler'] as const;
export type HqRole = (typeof HQ_ROLES)[number];

const roles = csv
  .pipe(z.array(z.enum([...HQ_ROLES, 'all'])))
  .transform((list): HqRole[] => (list.includes('all') ? [...HQ_ROLES] : [...new Set(list as HqRole[])]));

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
  REVERIFY_AFTER_MS: positiveInt.default(600_000).describe("A verified manifest of a recent day (RECONCILE_RECENT_DAYS) is verified again against HQ's data this long after (detects data HQ lost since)."),
  RECONCILE_RECENT_DAYS: z.coerce.number().int().min(0).max(366).default(7).describe('Business days this recent (counted back from today) are re-verified every REVERIFY_AFTER_MS; older days only when they change, and by the slow sweep.'),
  REVERIFY_OLD_AFTER_MS: positiveInt.default(7 * 86_400_000).describe('The slow sweep: a verified manifest of an older day is verified again this long after (catches data lost to a database restore).'),
  RECONCILE_BATCH: positiveInt.default(200).describe('Manifests one reconciler claims and verifies per round, one database transaction each.'),
  VERIFICATION_LOG_DAYS: positiveInt.default(7).describe('How long the log of verifications (hq_verifications: who verified which store day, from when to when) is kept.'),
  OFFLINE_AFTER_SECONDS: positiveInt.default(120).describe('A store not heard from for this long is reported offline.'),
  BATCH_BODY_LIMIT_BYTES: positiveInt.default(32 * 1024 * 1024).describe('Largest upload batch body; larger gets 413.'),
  HQ_ROLES: roles.default([...HQ_ROLES]).describe('What this process runs, comma-separated: api (store uploads and chain views; stateless, run N behind a load balancer), views (the view consumers, one group), reconciler (claims work; run one or more), or all.'),
  HQ_PRODUCERS: z.coerce.number().int().min(1).max(16).default(4).describe('Idempotent producers the API writes uploads with: one request in flight each (order within a batch kept), so this many batches produce at once.'),
  BATCH_CLAIM_LEASE_MS: positiveInt.default(60_000).describe('A batch being applied is claimed this long: another copy meanwhile gets 409; after a crash the next copy applies it (views count records once).'),
  ADMIT_MAX_BATCHES: positiveInt.default(32).describe('Upload batches this process applies at once; one more is answered 503 with Retry-After before its body is read.'),
  ADMIT_MAX_POOL_WAITING: positiveInt.default(20).describe('Uploads are refused (503, Retry-After) while more than this many queries wait for a database connection.'),
  ADMIT_MAX_EVENT_LOOP_LAG_MS: positiveInt.default(500).describe('Uploads are refused (503, Retry-After) while the event loop lags more than this (p99 over the last second).'),
  ADMIT_RETRY_AFTER_SECONDS: positiveInt.default(2).describe('The Retry-After of a refused upload.'),
  HQ_RETENTION_MONTHS: z.coerce.number().int().min(1).max(1200).default(24)
    .describe("Full months of transactions and sales aggregates kept before the current one; an older month's partitions are dropped (with its manifests, replay requests and stock alerts). docs/hq-storage.md."),
  HQ_PARTITIONS_AHEAD: z.coerce.number().int().min(0).max(120).default(3).describe('Months after the current one whose partitions are created in advance (a day without one still lands in the DEFAULT partition).'),
  HQ_BATCH_RETENTION_DAYS: positiveInt
    .default(35)
    .describe("How long an applied batch (and an answered replay request) is remembered; keep it at least the stores' SYNC_RETENTION_DAYS so a batch a store re-sends is recognised as applied."),
  HQ_STORAGE_INTERVAL_MS: positiveInt.default(3_600_000).describe('How often the storage upkeep runs (partitions ahead, retention, pruning); one HQ process at a time does it.'),
  CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(10_000).describe("How long after a crash the broker hands HQ's partitions to the restarted process."),
});

export type HqEnv = z.output<typeof hqEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): HqEnv {
  return parseEnv(hqEnv, env);
}
