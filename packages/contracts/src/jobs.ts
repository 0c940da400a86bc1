import { z } from 'zod';
import { BatchId, ReplayRequestV1 } from './sync.ts';

/**
 * BullMQ job catalogs: for each queue, the schema of each job name's data.
 * A typed queue (`@tillstream/queue`) validates data against these when a
 * job is added and again when a worker takes it, so a job Redis hands back
 * in another shape (an older version's, a hand-edited one) fails as poison
 * instead of being cast and misread.
 */
export type JobCatalog = Readonly<Record<string, z.ZodType>>;

/** The data of job `name` of catalog `C`. */
export type JobData<C extends JobCatalog, N extends keyof C & string> = z.infer<C[N]>;

/** Store -> HQ sync's upload queue. */
export const syncUploadJobs = {
  /** Make sure HQ has this outbox batch (and every unacknowledged batch before it). */
  upload: z.strictObject({ batchId: BatchId }),
  /**
   * Send HQ the journal range it asked to be replayed. Enqueued by earlier
   * versions only (replays are now sent by the sweeper from PostgreSQL); a
   * worker still takes those left in Redis.
   */
  replay: ReplayRequestV1,
} as const satisfies JobCatalog;
export type SyncUploadJobs = typeof syncUploadJobs;
