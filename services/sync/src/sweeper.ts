import { repeatEvery } from '@tillstream/consumer-service';
import type { SyncLimits } from '@tillstream/contracts';
import { withTransaction, type Pool } from '@tillstream/db';
import type { Logger } from '@tillstream/observability';
import { appliedCatalogVersion, applyCatalog, markCatalogAcked } from './catalog.ts';
import { HqUnavailable, type HqClient } from './hq-client.ts';
import { dueManifestDays, recordManifest, storeManifest, type PosConsumer } from './manifests.ts';
import { ackedThrough, backlog, cutBatches, pruneOutbox, saveHqReads, unackedBatches, type BatchLimits } from './outbox.ts';
import { releaseReplayedRefusals } from './quarantine.ts';
import { pendingReplays, recordReplayRequest, sendReplay } from './replays.ts';
import type { Uploader } from './uploader.ts';

export interface SweeperOptions {
  pool: Pool;
  hq: HqClient;
  uploader: Uploader;
  storeId: string;
  /** Sync's consumer of the POS topic: a day's manifest waits until it has read past the day's journal. */
  posConsumer: PosConsumer;
  logger: Logger;
  batchRecords: number;
  /** Most bytes of records in one batch (below HQ's published limit once it is known). */
  batchBytes: number;
  intervalMs: number;
  manifestIntervalMs: number;
  manifestDays: number;
  catalogIntervalMs: number;
  heartbeatIntervalMs: number;
  retentionDays: number;
  /** Longest a round waits for one chore; a chore past it goes on alone and is not started again until it ends. */
  choreDeadlineMs: number;
  /** Windows and levels wait this long for newer revisions before they are cut (SYNC_COALESCE_MS). */
  coalesceMs?: number;
  /** Records are cut into batches once this many wait (SYNC_BATCH_MIN_RECORDS)... */
  batchMinRecords?: number;
  /** ...or once the oldest waited this long (SYNC_BATCH_MAX_DELAY_MS). */
  batchMaxDelayMs?: number;
  /** The cutter's clock; default the database's. */
  now?: () => Date;
}

/**
 * What one batch may carry: the configured caps, lowered to HQ's published
 * limits (less room for the batch's envelope: id and backlog) once known.
 */
export function batchLimits(o: Pick<SweeperOptions, 'batchRecords' | 'batchBytes'>, hq: SyncLimits | undefined): BatchLimits {
  if (!hq) return { records: o.batchRecords, bytes: o.batchBytes };
  return { records: Math.min(o.batchRecords, hq.batchRecords), bytes: Math.max(1, Math.min(o.batchBytes, hq.batchBodyBytes - ENVELOPE_BYTES)) };
}

/** Room a batch body needs besides its records: `{"batchId":..., "records":[], "backlog":{...}}`. */
const ENVELOPE_BYTES = 1024;

interface Chore {
  name: string;
  /** Runs at most this often (0: every tick). */
  everyMs: number;
  run(): Promise<void>;
}

/**
 * The sync service's clock. Every interval it cuts new outbox records into
 * batches and (re-)enqueues every batch HQ has not acknowledged: Redis can
 * lose its jobs (FLUSHALL, a restart without persistence) and nothing is
 * lost, since PostgreSQL says what is unacknowledged. Less often it sends
 * day manifests, sends the replays HQ asked for, tells HQ it is alive and
 * checks for a new catalog.
 *
 * Each chore runs on its own timer with its own deadline and fails on its
 * own: a chore that hangs (Redis away under an enqueue, HQ not answering)
 * holds up no other, and only the enqueue needs Redis, so a Redis outage
 * stops uploads and nothing else: HQ keeps hearing heartbeats, manifests and
 * replays and the catalog keeps arriving. HQ being away only means they are
 * tried again next time.
 */
export class Sweeper {
  private loops: Array<{ stop(): Promise<void> }> = [];
  private readonly lastRun = new Map<string, number>();
  /** Chore runs not ended yet (one per chore at most): a run past its deadline is waited for, never doubled. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Last failure of each chore: a failure repeated every tick (Redis away) is logged once, not every second. */
  private readonly lastFailure = new Map<string, string>();
  private readonly chores: readonly Chore[];
  /** Resolved when stop() no longer waits for chores in progress. */
  private giveUp: () => void = () => undefined;
  private readonly givenUp = new Promise<void>((resolve) => (this.giveUp = resolve));

  constructor(private readonly options: SweeperOptions) {
    const o = options;
    this.chores = [
      { name: 'batches', everyMs: 0, run: () => this.batches() },
      {
        name: 'released',
        everyMs: 0,
        run: async () => {
          const released = await releaseReplayedRefusals(o.pool);
          if (released > 0) o.logger.info({ released }, 'records HQ refused are uploaded again: their quarantine entries were replayed');
        },
      },
      { name: 'manifests', everyMs: o.manifestIntervalMs, run: () => this.manifests() },
      { name: 'replays', everyMs: o.manifestIntervalMs, run: () => this.replays() },
      {
        name: 'heartbeat',
        everyMs: o.heartbeatIntervalMs,
        run: async () => {
          const { records, oldestAt } = await backlog(o.pool);
          await o.hq.heartbeat({ records, oldestAt });
        },
      },
      { name: 'catalog', everyMs: o.catalogIntervalMs, run: () => this.catalog() },
      // What HQ's views read: the granularities left out of the uploads once it said (kept in PostgreSQL).
      { name: 'reads', everyMs: o.catalogIntervalMs, run: () => this.reads() },
      // What HQ takes in one upload: batches are cut below it (HQ may change it: asked as often as the catalog).
      { name: 'limits', everyMs: o.catalogIntervalMs, run: async () => void (await o.hq.limits()) },
      {
        name: 'prune',
        everyMs: 3_600_000,
        run: async () => {
          const pruned = await pruneOutbox(o.pool, o.retentionDays);
          if (pruned > 0) o.logger.info({ pruned }, 'pruned acknowledged outbox records past retention');
        },
      },
    ];
  }

  start(): void {
    // Each chore catches its own failures (see chore()); nothing reaches these handlers but a bug.
    this.loops = this.chores.map((c) => repeatEvery(this.options.intervalMs, () => this.chore(c), (err) => this.options.logger.error({ err, chore: c.name }, 'sync chore failed')));
  }

  /**
   * Stops the timers; waits for each chore's run in progress until its
   * deadline or `until` (epoch ms), whichever comes first. A run left behind
   * ends on its own (it fails once the pool and Redis are closed under it).
   */
  async stop(until = Infinity): Promise<void> {
    const timer = Number.isFinite(until) ? setTimeout(this.giveUp, Math.max(0, until - Date.now())) : undefined;
    await Promise.all(this.loops.map((l) => l.stop()));
    clearTimeout(timer);
  }

  /** Runs now whatever is due, each chore bounded by its deadline (tests and `sweep()` callers use it to skip waiting). */
  async round(): Promise<void> {
    await Promise.all(this.chores.map((c) => this.chore(c)));
  }

  private async chore(chore: Chore): Promise<void> {
    const { logger, choreDeadlineMs } = this.options;
    let run = this.inFlight.get(chore.name);
    if (!run) {
      const now = Date.now();
      if (chore.everyMs > 0 && now - (this.lastRun.get(chore.name) ?? 0) < chore.everyMs) return;
      run = chore
        .run()
        .then(
          () => {
            this.lastRun.set(chore.name, now);
            if (this.lastFailure.delete(chore.name)) logger.info({ chore: chore.name }, 'sync chore succeeded again');
          },
          (err: unknown) => {
            const message = (err as Error).message;
            const repeated = this.lastFailure.get(chore.name) === message;
            this.lastFailure.set(chore.name, message);
            const level = err instanceof HqUnavailable || repeated ? 'debug' : 'warn';
            logger[level]({ err, chore: chore.name }, 'sync chore failed; trying again next round');
          },
        )
        .finally(() => this.inFlight.delete(chore.name));
      this.inFlight.set(chore.name, run);
    }
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      run.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), choreDeadlineMs))),
      this.givenUp.then(() => 'stopping' as const),
    ]);
    clearTimeout(timer);
    if (ended === false) logger.warn({ chore: chore.name, deadlineMs: choreDeadlineMs }, 'sync chore passed its deadline; the other chores go on without it');
    if (ended === 'stopping') logger.warn({ chore: chore.name }, 'stopping without waiting any longer for a sync chore in progress');
  }

  private async batches(): Promise<void> {
    const o = this.options;
    const cut = await withTransaction(o.pool, (client) =>
      cutBatches(client, o.storeId, batchLimits(o, o.hq.knownLimits), {
        coalesceMs: o.coalesceMs ?? 0,
        minRecords: o.batchMinRecords ?? 1,
        maxDelayMs: o.batchMaxDelayMs ?? 0,
        ...(o.now ? { now: o.now } : {}),
      }),
    );
    if (cut > 0) o.logger.debug({ cut }, 'cut outbox into upload batches');
    await o.uploader.enqueue(await unackedBatches(o.pool));
  }

  private async manifests(): Promise<void> {
    const o = this.options;
    const days = await dueManifestDays(o.pool, { storeId: o.storeId, posConsumer: o.posConsumer, ackedThrough: await ackedThrough(o.pool), days: o.manifestDays, refreshMs: o.manifestIntervalMs * 10 });
    for (const day of days) {
      const manifest = await storeManifest(o.pool, o.storeId, day);
      const result = await o.hq.sendManifest(manifest);
      await recordManifest(o.pool, manifest, result.status);
      for (const request of result.replayRequests) await recordReplayRequest(o.pool, request);
    }
  }

  /** Records the replays HQ asks for, then sends every one not yet taken: PostgreSQL and HQ only, no Redis. */
  private async replays(): Promise<void> {
    const o = this.options;
    for (const request of await o.hq.replayRequests()) await recordReplayRequest(o.pool, request);
    for (const request of await pendingReplays(o.pool)) await sendReplay(o, request);
  }

  /** Keeps what HQ declares it reads; an HQ that declares nothing (404) leaves the last declaration, or none, as it is. */
  private async reads(): Promise<void> {
    const o = this.options;
    const reads = await o.hq.reads();
    if (reads && (await saveHqReads(o.pool, reads))) o.logger.info({ granularities: reads.granularities, dimensions: reads.dimensions ?? 'all' }, 'HQ declared the sales windows it reads; only these are uploaded from now on');
  }

  private async catalog(): Promise<void> {
    const o = this.options;
    const applied = await appliedCatalogVersion(o.pool);
    const catalog = await o.hq.catalog();
    if (catalog && (!applied || catalog.version > applied.version)) {
      await applyCatalog(o.pool, catalog);
      o.logger.info({ version: catalog.version, items: catalog.items.length }, 'applied HQ catalog version');
    }
    const now = await appliedCatalogVersion(o.pool);
    if (now && !now.acked) {
      await o.hq.acknowledgeCatalog(now.version);
      await markCatalogAcked(o.pool, now.version);
    }
  }
}
