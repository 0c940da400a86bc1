import { z } from 'zod';
import { isLoopback } from '@tillstream/http';
import { httpEnv, logEnv, parseEnv, positiveInt, postgresEnv, redisEnv, storeIdentityEnv, storeKafkaEnv } from '@tillstream/config';

/** Everything the sync service reads from the environment; fails at boot with every bad variable named. */
export const syncEnv = z
  .object({
  ...logEnv.shape,
  ...storeIdentityEnv.shape,
  ...storeKafkaEnv.shape,
  ...postgresEnv('sync').shape,
  ...redisEnv.shape,
  ...httpEnv(8083).shape,
  HQ_URL: z.url().default('https://127.0.0.1:8090').describe("HQ's API; https:// (mutual TLS), plain http:// only to a loopback address."),
  HQ_CLIENT_CERT_FILE: z.string().min(1).optional().describe("This store's PEM client certificate for HQ (subject = STORE_ID; written by `npx tillstream store add`). Required for an https:// HQ_URL."),
  HQ_CLIENT_KEY_FILE: z.string().min(1).optional().describe('PEM private key of HQ_CLIENT_CERT_FILE (keep it 0600).'),
  HQ_CA_FILE: z.string().min(1).optional().describe("PEM CA that HQ's server certificate must chain to; default Node's trusted CAs (plus NODE_EXTRA_CA_CERTS)."),
  HQ_TOKEN: z.string().min(1).describe('This store\'s HQ credential (printed once by `npx tillstream store add --store <id>`).'),
  HQ_TIMEOUT_MS: positiveInt.default(15_000).describe('Longest wait for one HQ request before it counts as failed and is retried.'),
  SYNC_BATCH_RECORDS: z.coerce.number().int().min(1).max(5000).default(2000).describe('Most outbox records in one upload batch.'),
  SYNC_BATCH_BYTES: positiveInt
    .default(8 * 1024 * 1024)
    .describe("Most bytes of records in one upload batch; lowered to fit HQ's published limit (GET /v1/stores/<id>/limits) once HQ told it."),
  SYNC_COALESCE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(300_000)
    .describe('Sales windows and stock levels wait this long for newer revisions, then only the latest is uploaded (0: every revision at once). Transactions and alerts never wait.'),
  SYNC_BATCH_MIN_RECORDS: z.coerce.number().int().min(1).max(5000).default(500).describe('Records are cut into an upload batch once this many wait, or once the oldest waited SYNC_BATCH_MAX_DELAY_MS.'),
  SYNC_BATCH_MAX_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(60_000)
    .describe('Longest a record (a sale) waits for SYNC_BATCH_MIN_RECORDS others before it is cut into a batch anyway: HQ spends most per batch, so lower is fresher at HQ and costlier for it.'),
  SWEEP_INTERVAL_MS: positiveInt.default(1000).describe('How often new outbox records are cut into batches and every unacknowledged batch is (re-)enqueued.'),
  MANIFEST_INTERVAL_MS: positiveInt.default(30_000).describe('How often day manifests are sent (when changed, or not yet verified complete).'),
  MANIFEST_DAYS: positiveInt.default(7).describe('Business days back that manifests cover.'),
  CATALOG_INTERVAL_MS: positiveInt.default(60_000).describe("How often HQ's catalog is checked for a new version."),
  HEARTBEAT_INTERVAL_MS: positiveInt.default(15_000).describe('How often the store tells HQ it is alive and how far behind it is.'),
  RETRY_BASE_MS: positiveInt.default(1000).describe('First retry delay of a failed upload; doubles per attempt (with jitter) up to RETRY_MAX_MS.'),
  RETRY_MAX_MS: positiveInt.default(60_000).describe('Longest retry delay; an upload is retried at this pace for as long as HQ is away.'),
  SYNC_CHORE_DEADLINE_MS: positiveInt
    .default(30_000)
    .describe('Longest a sync chore (enqueue, manifests, replays, heartbeat, catalog) is waited for; past it the others go on without it.'),
  SYNC_STOP_DEADLINE_MS: positiveInt
    .default(10_000)
    .describe('On SIGTERM, longest wait for sync chores in progress and for Redis to take the upload queue\'s close; then they are left behind (nothing is lost: PostgreSQL holds the backlog).'),
  SYNC_RETENTION_DAYS: positiveInt.default(35).describe('Acknowledged outbox records are kept this long (replays read them), then pruned.'),
  SYNC_QUEUE: z.string().regex(/^[A-Za-z0-9._-]+$/).optional().describe('BullMQ queue name; default "tillstream-sync-<TOPIC_PREFIX><STORE_ID>".'),
  CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(10_000).describe('How long after a crash the broker hands the partitions to the restarted process.'),
  })
  // The store's token and every sale cross the WAN on this link.
  .refine((env) => new URL(env.HQ_URL).protocol === 'https:' || isLoopback(new URL(env.HQ_URL).hostname), { path: ['HQ_URL'], message: 'must be https:// (plain http:// only to a loopback address)' })
  .refine((env) => new URL(env.HQ_URL).protocol !== 'https:' || (env.HQ_CLIENT_CERT_FILE !== undefined && env.HQ_CLIENT_KEY_FILE !== undefined), {
    path: ['HQ_CLIENT_CERT_FILE'],
    message: 'HQ over https:// needs the store\'s client certificate: set HQ_CLIENT_CERT_FILE and HQ_CLIENT_KEY_FILE (`npx tillstream store add`)',
  });

export type SyncEnv = z.output<typeof syncEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): SyncEnv {
  return parseEnv(syncEnv, env);
}
