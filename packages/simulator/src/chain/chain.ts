import { setTimeout as sleep } from 'node:timers/promises';
import type { ManifestResult } from '@tillstream/contracts';
import { HqClient, HqRejected, HqUnavailable, type HqTls, type RetrySettings } from '@tillstream/hq-client';
import { DEFAULT_SHAPE, TODAY, type StoreDayShape, type TrafficProfile } from './profile.ts';
import { StoreDay, type OutboxBatch, type StoreDayCounts } from './store-day.ts';

/** A store the chain simulator plays: a real HQ identity (its token and client certificate). */
export interface ChainStore {
  storeId: string;
  token: string;
  tls?: HqTls;
}

export interface ChainOptions {
  /** HQ's API; several (API processes without a load balancer in front): store i uploads to the (i mod n)-th, as DNS round robin would spread them. */
  hqUrl: string | readonly string[];
  stores: readonly ChainStore[];
  businessDay: string;
  profile?: TrafficProfile;
  shape?: StoreDayShape;
  /** Trading hours played of each store's day (default all); each store closes after them and sends its manifest. */
  playedHours?: number;
  /** Wall seconds a whole store-day (shape.tradingHours) takes: time compression. */
  daySeconds: number;
  /** How often each store tells HQ it is alive (wall seconds), as sync's HEARTBEAT_INTERVAL_MS. */
  heartbeatSeconds?: number;
  /** Once its day is over, how long a store keeps trying to upload what is left and its manifest (wall ms). */
  drainTimeoutMs?: number;
  timeoutMs?: number;
  retry?: RetrySettings;
  seed?: number;
  signal?: AbortSignal;
  onProgress?(tally: ChainTally): void;
  /** A batch HQ acknowledged, with the wall time (performance.now()) its upload started and ended. */
  onAcknowledged?(storeId: string, batch: OutboxBatch, sentAt: number, ackedAt: number): void;
  /** A batch HQ refused (a bug: the simulator sends only what sync would). */
  onRejected?(storeId: string, batchId: string, status: number, detail: string): void;
}

export interface ChainTally {
  stores: number;
  /** Stores whose day is over, everything acknowledged and the manifest accepted. */
  storesDone: number;
  generated: StoreDayCounts;
  /** Batches and records HQ acknowledged (201, or 200 for a batch it had). */
  acknowledgedBatches: number;
  acknowledgedRecords: number;
  replayedBatches: number;
  /** Records cut into batches and not yet acknowledged: the chain's upload backlog. */
  backlogRecords: number;
  /** HQ's answers that meant "later", by status ("unreachable" for no answer). */
  deferred: Record<string, number>;
  /** Retry-After HQ sent, summed (ms): how long it asked stores to wait. */
  retryAfterMs: number;
  rejectedBatches: number;
  heartbeats: number;
  manifests: number;
  /** HQ's verdicts on the manifests as it answered them (usually pending: verification follows). */
  manifestStatus: Record<string, number>;
  /** Replay requests HQ asked for (the simulator loses nothing, so none are expected). */
  replayRequests: number;
  /** Records left unacknowledged when the run stopped (abort or drain timeout). */
  abandonedRecords: number;
}

export interface ChainResult {
  tally: ChainTally;
  elapsedMs: number;
  /** Per store: its day's manifest, net total and counts, for checking HQ against. */
  stores: Array<{ storeId: string; transactions: number; netTotal: number; records: number; manifestTransactions: number; tenders: Record<string, number> }>;
}

const zeroCounts = (): StoreDayCounts => ({ transactions: 0, aggregates: 0, levels: 0, alerts: 0, records: 0, batches: 0, windows: 0, bytes: 0 });

/**
 * Plays N stores' sync clients against a running HQ, in one process and
 * without their store stacks: each store trades a (compressed) day through
 * `StoreDay` and uploads its batches in order, one request in flight, over
 * its own mutual-TLS connection (`HqClient`, as sync), honouring HQ's
 * Retry-After and backing off when HQ fails; it heartbeats while trading
 * and, once everything it cut is acknowledged, sends the day's manifest.
 */
export async function simulateChain(options: ChainOptions): Promise<ChainResult> {
  const profile = options.profile ?? TODAY;
  const shape = options.shape ?? DEFAULT_SHAPE;
  const speed = (shape.tradingHours * 3600) / options.daySeconds;
  const heartbeatMs = (options.heartbeatSeconds ?? 15) * 1000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 120_000;
  const retry = options.retry ?? { baseMs: 500, maxMs: 10_000 };
  const tally: ChainTally = {
    stores: options.stores.length,
    storesDone: 0,
    generated: zeroCounts(),
    acknowledgedBatches: 0,
    acknowledgedRecords: 0,
    replayedBatches: 0,
    backlogRecords: 0,
    deferred: {},
    retryAfterMs: 0,
    rejectedBatches: 0,
    heartbeats: 0,
    manifests: 0,
    manifestStatus: {},
    replayRequests: 0,
    abandonedRecords: 0,
  };
  const days = options.stores.map((s, i) => new StoreDay({ storeId: s.storeId, businessDay: options.businessDay, seed: (options.seed ?? 1) * 100_003 + i, shape, profile, ...(options.playedHours === undefined ? {} : { playedHours: options.playedHours }) }));
  const started = performance.now();
  const storeNow = () => (performance.now() - started) * speed;
  const stopped = () => options.signal?.aborted ?? false;
  const wait = (ms: number) => sleep(ms, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);

  const progress = setInterval(() => {
    tally.generated = days.reduce((sum, d) => {
      for (const k of Object.keys(sum) as Array<keyof StoreDayCounts>) sum[k] += d.counts[k];
      return sum;
    }, zeroCounts());
    options.onProgress?.(tally);
  }, 500);

  const deferred = (err: HqUnavailable) => {
    const key = err.status === undefined ? 'unreachable' : String(err.status);
    tally.deferred[key] = (tally.deferred[key] ?? 0) + 1;
    if (err.status !== undefined && err.retryAfterMs !== undefined) tally.retryAfterMs += err.retryAfterMs;
  };
  /** How long to wait after HQ said "later": its Retry-After plus up to 20 % (as sync's retryDelayMs), else the base. */
  const later = (err: HqUnavailable) => Math.round((err.retryAfterMs ?? retry.baseMs) * (1 + 0.2 * Math.random()));

  const hqUrls = typeof options.hqUrl === 'string' ? [options.hqUrl] : options.hqUrl;
  if (hqUrls.length === 0) throw new Error('simulateChain needs at least one HQ URL');
  async function playStore(store: ChainStore, day: StoreDay, index: number): Promise<void> {
    const hq = new HqClient({ url: hqUrls[index % hqUrls.length]!, storeId: store.storeId, token: store.token, ...(store.tls ? { tls: store.tls } : {}), timeoutMs: options.timeoutMs ?? 30_000, retry });
    const queue: OutboxBatch[] = [];
    let queued = 0;
    let nextHeartbeat = performance.now() + Math.random() * heartbeatMs;
    let closedAt: number | undefined;
    const take = (batches: OutboxBatch[]) => {
      for (const b of batches) {
        queue.push(b);
        queued += b.records.length;
        tally.backlogRecords += b.records.length;
      }
    };
    const backlog = () => ({ records: queued, oldestAt: queue[0] ? new Date(Date.parse(`${options.businessDay}T08:00:00Z`) + queue[0].cutAtMs).toISOString() : null });
    try {
      for (;;) {
        if (stopped()) return;
        take(day.advance(storeNow()));
        if (day.closed && closedAt === undefined) closedAt = performance.now();
        if (closedAt !== undefined && performance.now() - closedAt > drainTimeoutMs) return;
        if (performance.now() >= nextHeartbeat) {
          nextHeartbeat = performance.now() + heartbeatMs;
          try {
            await hq.heartbeat(backlog());
            tally.heartbeats += 1;
          } catch (err) {
            if (err instanceof HqUnavailable) deferred(err);
            else throw err;
          }
        }
        const batch = queue[0];
        if (batch) {
          const sentAt = performance.now();
          try {
            const { replayed } = await hq.uploadBatch({ batchId: batch.batchId, records: batch.records, backlog: backlog() });
            queue.shift();
            queued -= batch.records.length;
            tally.backlogRecords -= batch.records.length;
            tally.acknowledgedBatches += 1;
            tally.acknowledgedRecords += batch.records.length;
            if (replayed) tally.replayedBatches += 1;
            options.onAcknowledged?.(store.storeId, batch, sentAt, performance.now());
          } catch (err) {
            if (err instanceof HqUnavailable) {
              deferred(err);
              await wait(later(err));
            } else if (err instanceof HqRejected) {
              queue.shift();
              queued -= batch.records.length;
              tally.backlogRecords -= batch.records.length;
              tally.rejectedBatches += 1;
              options.onRejected?.(store.storeId, batch.batchId, err.status, err.message);
            } else throw err;
          }
          continue;
        }
        if (day.closed) break;
        // Nothing to upload: wait for the store's next sale or cut (in wall time), at most until the next heartbeat.
        const untilNext = (day.nextEventMs() - storeNow()) / speed;
        await wait(Math.max(5, Math.min(untilNext, nextHeartbeat - performance.now(), 1000)));
      }
      // Everything acknowledged: the day's manifest (HQ verifies it against what it booked).
      for (;;) {
        if (stopped() || performance.now() - closedAt! > drainTimeoutMs) return;
        try {
          const result: ManifestResult = await hq.sendManifest(day.manifest());
          tally.manifests += 1;
          tally.manifestStatus[result.status] = (tally.manifestStatus[result.status] ?? 0) + 1;
          tally.replayRequests += result.replayRequests.length;
          tally.storesDone += 1;
          return;
        } catch (err) {
          if (!(err instanceof HqUnavailable)) throw err;
          deferred(err);
          await wait(later(err));
        }
      }
    } finally {
      tally.abandonedRecords += queued;
      await hq.close();
    }
  }

  try {
    await Promise.all(options.stores.map((s, i) => playStore(s, days[i]!, i)));
  } finally {
    clearInterval(progress);
  }
  tally.generated = days.reduce((sum, d) => {
    for (const k of Object.keys(sum) as Array<keyof StoreDayCounts>) sum[k] += d.counts[k];
    return sum;
  }, zeroCounts());
  options.onProgress?.(tally);
  return {
    tally,
    elapsedMs: performance.now() - started,
    stores: options.stores.map((s, i) => {
      const day = days[i]!;
      const manifest = day.manifest();
      return { storeId: s.storeId, transactions: day.counts.transactions, netTotal: day.netTotal, records: day.counts.records, manifestTransactions: manifest.transactions, tenders: manifest.tenders };
    }),
  };
}
