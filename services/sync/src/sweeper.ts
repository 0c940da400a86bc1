import { repeatEvery } from '@tillstream/consumer-service';
import { withTransaction, type Pool } from '@tillstream/db';
import type { Logger } from '@tillstream/observability';
import { appliedCatalogVersion, applyCatalog, markCatalogAcked } from './catalog.ts';
import { HqUnavailable, type HqClient } from './hq-client.ts';
import { dueManifestDays, recordManifest, storeManifest, type PosConsumer } from './manifests.ts';
import { ackedThrough, backlog, cutBatches, pruneOutbox, unackedBatches } from './outbox.ts';
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
  intervalMs: number;
  manifestIntervalMs: number;
  manifestDays: number;
  catalogIntervalMs: number;
  heartbeatIntervalMs: number;
  retentionDays: number;
}

/**
 * The sync service's clock. Every interval it cuts new outbox records into
 * batches and (re-)enqueues every batch HQ has not acknowledged: Redis can
 * lose its jobs (FLUSHALL, a restart without persistence) and nothing is
 * lost, since PostgreSQL says what is unacknowledged. Less often it sends
 * day manifests, picks up HQ's replay requests, tells HQ it is alive and
 * checks for a new catalog. Each chore fails on its own; HQ being away only
 * means they are tried again next time.
 */
export class Sweeper {
  private loop: { stop(): Promise<void> } | undefined;
  private readonly lastRun = new Map<string, number>();

  constructor(private readonly options: SweeperOptions) {}

  start(): void {
    // Each chore catches its own failures (see chore()); nothing reaches this handler but a bug.
    this.loop = repeatEvery(this.options.intervalMs, () => this.round(), (err) => this.options.logger.error({ err }, 'sweep round failed'));
  }

  async stop(): Promise<void> {
    await this.loop?.stop();
  }

  /** Runs now whatever is due (tests and `sweep()` callers use it to skip waiting). */
  async round(): Promise<void> {
    const o = this.options;
    await this.chore('batches', 0, () => this.batches());
    await this.chore('manifests', o.manifestIntervalMs, () => this.manifests());
    await this.chore('replays', o.manifestIntervalMs, () => this.replays());
    await this.chore('heartbeat', o.heartbeatIntervalMs, async () => {
      const { records, oldestAt } = await backlog(o.pool);
      await o.hq.heartbeat({ records, oldestAt });
    });
    await this.chore('catalog', o.catalogIntervalMs, () => this.catalog());
    await this.chore('prune', 3_600_000, async () => {
      const pruned = await pruneOutbox(o.pool, o.retentionDays);
      if (pruned > 0) o.logger.info({ pruned }, 'pruned acknowledged outbox records past retention');
    });
  }

  private async chore(name: string, everyMs: number, fn: () => Promise<void>): Promise<void> {
    const now = Date.now();
    if (everyMs > 0 && now - (this.lastRun.get(name) ?? 0) < everyMs) return;
    try {
      await fn();
      this.lastRun.set(name, now);
    } catch (err) {
      const level = err instanceof HqUnavailable ? 'debug' : 'warn';
      this.options.logger[level]({ err, chore: name }, 'sync chore failed; trying again next round');
    }
  }

  private async batches(): Promise<void> {
    const o = this.options;
    const cut = await withTransaction(o.pool, (client) => cutBatches(client, o.storeId, o.batchRecords));
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
      for (const request of result.replayRequests) await this.acceptReplay(request);
    }
  }

  private async replays(): Promise<void> {
    for (const request of await this.options.hq.replayRequests()) await this.acceptReplay(request);
  }

  private async acceptReplay(request: Awaited<ReturnType<HqClient['replayRequests']>>[number]): Promise<void> {
    await this.options.pool.query(
      `INSERT INTO sync_replays (request_id, business_day, terminal_id, from_seq, to_seq) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (request_id) DO NOTHING`,
      [request.requestId, request.businessDay, request.terminalId, request.from, request.to],
    );
    await this.options.uploader.enqueueReplay(request);
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
