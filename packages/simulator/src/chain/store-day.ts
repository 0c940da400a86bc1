import { randomUUID } from 'node:crypto';
import {
  Granularity,
  PosTransactionV1,
  buildManifest,
  syncRecordKey,
  type DayManifest,
  type InventoryAlert,
  type InventoryLevel,
  type ManifestTransaction,
  type PosTransaction,
  type SalesAggregate,
  type SalesFigures,
  type StockState,
  type SyncRecord,
} from '@tillstream/contracts';
import { seededRandom } from '../synthetic.ts';
import { makeTransaction, type LineSpec } from '../transactions.ts';
import type { StoreDayShape, TrafficProfile } from './profile.ts';

/** A batch as a store's sync cuts it from its outbox: consecutive outbox ids, the batch id made of the first and last. */
export interface OutboxBatch {
  batchId: string;
  records: SyncRecord[];
  /** When it was cut, in store milliseconds since opening. */
  cutAtMs: number;
}

/** What a store-day generated so far, by stream. */
export interface StoreDayCounts {
  transactions: number;
  aggregates: number;
  levels: number;
  alerts: number;
  records: number;
  batches: number;
  /** Distinct windows (all granularities computed by the store, uploaded or not). */
  windows: number;
  /** Bytes of the records as JSON (what the batch bodies carry, without their envelope). */
  bytes: number;
}

export interface StoreDayOptions {
  storeId: string;
  /** The business day (YYYY-MM-DD); the store opens at `openHourUtc` UTC on it. */
  businessDay: string;
  openHourUtc?: number;
  seed?: number;
  shape: StoreDayShape;
  profile: TrafficProfile;
  /** Trading hours played (default all of them): the store closes after them and its day is what it sold until then. */
  playedHours?: number;
}

const ALL_GRANULARITIES = Granularity.options;
const GRANULARITY_MS: Record<Granularity, number> = { '5m': 300_000, '1h': 3_600_000, day: 86_400_000 };

const emptyFigures = (): SalesFigures => ({ units: 0, gross: 0, discounts: 0, net: 0, tax: 0, transactions: 0, items: 0, returns: 0, returnsUnits: 0, returnsAmount: 0 });

interface WindowState {
  granularity: Granularity;
  windowStart: string;
  dimension: SalesAggregate['dimension'];
  member: string;
  figures: SalesFigures;
  revision: number;
  updatedAt: string;
}

const stateOf = (onHand: number, reorderPoint: number): StockState => (onHand < 0 ? 'NEGATIVE' : onHand === 0 ? 'OUT' : onHand <= reorderPoint ? 'LOW' : 'OK');

/**
 * One store's trading day as its sync outbox sees it, generated on demand
 * in store time: sales (balanced v1 transactions over `shape`), the sales
 * windows trends would derive from them with every revision, the stock
 * levels and alerts inventory would publish, and the batches sync would cut,
 * all under `profile`. Records carry the keys sync gives them
 * (`syncRecordKey`) and batch ids "<store>-<first outbox id>-<last>".
 */
export class StoreDay {
  readonly counts: StoreDayCounts = { transactions: 0, aggregates: 0, levels: 0, alerts: 0, records: 0, batches: 0, windows: 0, bytes: 0 };
  /** Net sales of the day (sum of the transactions' totals.net), for checking HQ's day window. */
  netTotal = 0;
  /** The store's close, in store milliseconds since opening. */
  readonly endMs: number;
  closed = false;

  private readonly random: () => number;
  private readonly openMs: number;
  private readonly dayMs: number;
  private readonly sequences: number[];
  private readonly onHand = new Map<number, number>();
  private readonly windows = new Map<string, WindowState>();
  private readonly dirtyWindows = new Set<WindowState>();
  private readonly dirtyLevels = new Map<number, InventoryLevel>();
  private readonly journal: ManifestTransaction[] = [];
  private readonly uploaded: ReadonlySet<Granularity>;
  private readonly uploadedDimensions: ReadonlySet<SalesAggregate['dimension']> | undefined;
  private pending: Array<{ id: number; record: SyncRecord }> = [];
  private target: number;
  private nextOutboxId = 1;
  private movement = 0;
  private sales = 0;
  private nextSaleMs: number;
  private nextFlushMs: number;
  private nextCoalesceMs: number;

  constructor(private readonly options: StoreDayOptions) {
    const { shape, profile } = options;
    this.random = seededRandom(options.seed ?? 1);
    this.openMs = Date.parse(`${options.businessDay}T00:00:00Z`) + (options.openHourUtc ?? 8) * 3_600_000;
    this.dayMs = shape.tradingHours * 3_600_000;
    this.endMs = Math.min(this.dayMs, (options.playedHours ?? shape.tradingHours) * 3_600_000);
    this.sequences = Array.from({ length: shape.terminals }, () => 0);
    this.uploaded = new Set(profile.granularities);
    this.uploadedDimensions = profile.dimensions ? new Set(profile.dimensions) : undefined;
    this.target = this.drawTarget();
    this.nextSaleMs = this.saleTime(0);
    this.nextFlushMs = profile.flushSeconds * 1000;
    this.nextCoalesceMs = profile.coalesceSeconds > 0 ? profile.coalesceSeconds * 1000 : Infinity;
  }

  /** The day's manifest as the store computes it over its journal. */
  manifest(): DayManifest {
    return buildManifest(this.options.storeId, this.options.businessDay, this.journal);
  }

  /** Store milliseconds since opening of the next thing the store does, or Infinity once closed. */
  nextEventMs(): number {
    return this.closed ? Infinity : Math.min(this.nextSaleMs, this.nextFlushMs, this.nextCoalesceMs, this.endMs);
  }

  /**
   * Trades until `toMs` (store milliseconds since opening) and returns the
   * batches cut meanwhile. At or past the close it coalesces and cuts what
   * is left, and the day is closed.
   */
  advance(toMs: number): OutboxBatch[] {
    const out: OutboxBatch[] = [];
    if (this.closed) return out;
    const limit = Math.min(toMs, this.endMs);
    for (;;) {
      const t = Math.min(this.nextSaleMs, this.nextCoalesceMs, this.nextFlushMs);
      if (t > limit || t >= this.endMs) break; // sales fall before the close; the close itself flushes
      if (t === this.nextSaleMs) {
        this.sale(t);
        this.cutFull(out, t);
        this.nextSaleMs = this.saleTime(++this.sales);
      } else if (t === this.nextCoalesceMs) {
        this.coalesce();
        this.nextCoalesceMs += this.options.profile.coalesceSeconds * 1000;
      } else {
        this.cutAll(out, t);
        this.nextFlushMs += this.options.profile.flushSeconds * 1000;
      }
    }
    if (toMs >= this.endMs) {
      this.coalesce();
      this.cutAll(out, this.endMs);
      this.closed = true;
    }
    return out;
  }

  /** The i-th sale's time: the day's sales spread evenly with jitter, so a day has exactly `shape.transactions`. */
  private saleTime(i: number): number {
    if (i >= this.options.shape.transactions) return Infinity;
    const t = Math.floor(((i + this.random()) * this.dayMs) / this.options.shape.transactions);
    return t < this.endMs ? t : Infinity;
  }

  private drawTarget(): number {
    const { batchMinRecords: min, batchMaxRecords: max } = this.options.profile;
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private push(record: SyncRecord): void {
    this.pending.push({ id: this.nextOutboxId++, record });
    this.counts.records += 1;
    this.counts.bytes += JSON.stringify(record).length;
    if (record.stream === 'transaction') this.counts.transactions += 1;
    else if (record.stream === 'aggregate') this.counts.aggregates += 1;
    else if (record.stream === 'level') this.counts.levels += 1;
    else if (record.stream === 'alert') this.counts.alerts += 1;
  }

  private cut(out: OutboxBatch[], n: number, at: number): void {
    const taken = this.pending.slice(0, n);
    this.pending = this.pending.slice(n);
    out.push({ batchId: `${this.options.storeId}-${taken[0]!.id}-${taken[taken.length - 1]!.id}`, records: taken.map((p) => p.record), cutAtMs: at });
    this.counts.batches += 1;
  }

  private cutFull(out: OutboxBatch[], at: number): void {
    while (this.pending.length >= this.target) {
      this.cut(out, this.target, at);
      this.target = this.drawTarget();
    }
  }

  private cutAll(out: OutboxBatch[], at: number): void {
    while (this.pending.length > 0) this.cut(out, Math.min(this.pending.length, this.options.profile.batchMaxRecords), at);
  }

  /** The latest revision of each window and level that changed since the last time. */
  private coalesce(): void {
    for (const w of this.dirtyWindows) this.push(this.aggregateRecord(w));
    this.dirtyWindows.clear();
    for (const level of this.dirtyLevels.values()) this.push({ stream: 'level', key: syncRecordKey.level(level), data: level });
    this.dirtyLevels.clear();
  }

  private aggregateRecord(w: WindowState): SyncRecord {
    const data: SalesAggregate = {
      storeId: this.options.storeId,
      granularity: w.granularity,
      windowStart: w.windowStart,
      businessDay: this.options.businessDay,
      dimension: w.dimension,
      member: w.member,
      figures: { ...w.figures },
      revision: w.revision,
      updatedAt: w.updatedAt,
    };
    return { stream: 'aggregate', key: syncRecordKey.aggregate(data), data };
  }

  private sku(index: number): string {
    return `SKU-${String(index).padStart(5, '0')}`;
  }

  /** One basket: `linesPerSale` lines in distinct categories, one unit each. */
  private basket(): Array<LineSpec & { index: number }> {
    const { skus, categories, linesPerSale } = this.options.shape;
    const picked = new Set<number>();
    while (picked.size < Math.min(linesPerSale, categories)) picked.add(Math.floor(this.random() * categories));
    const perCategory = Math.ceil(skus / categories);
    return [...picked].map((c) => {
      const k = Math.floor(this.random() * perCategory);
      const index = c + k * categories < skus ? c + k * categories : c;
      return { index, sku: this.sku(index), category: `CAT-${c}`, quantity: 1, unitPrice: 100 + ((index * 7919) % 900) };
    });
  }

  private sale(t: number): void {
    const { storeId, businessDay, shape } = this.options;
    const at = new Date(this.openMs + t).toISOString();
    const terminalNo = this.sales % shape.terminals;
    const terminalId = `T${String(terminalNo + 1).padStart(2, '0')}`;
    const lines = this.basket();
    const input = makeTransaction(lines, {
      transactionId: randomUUID(),
      storeId,
      terminalId,
      sequenceNumber: ++this.sequences[terminalNo]!,
      businessDay,
      occurredAt: at,
      operatorId: `OP${1 + (terminalNo % 4)}`,
      currency: 'EUR',
    });
    const card = this.random() < 0.5;
    const grand = input.totals.grand;
    const tx: PosTransaction = PosTransactionV1.parse({
      ...input,
      tenders: card ? [{ type: 'CARD', amount: grand, card: { token: `tok_${randomUUID().slice(0, 8)}`, last4: '4242' } }] : [{ type: 'CASH', amount: grand, change: 0 }],
    });
    this.push({ stream: 'transaction', key: syncRecordKey.transaction(tx), data: tx });
    this.journal.push({ terminalId, sequenceNumber: tx.sequenceNumber, type: tx.type, trainingMode: tx.trainingMode, tenders: tx.tenders });
    this.netTotal += tx.totals.net;

    const units = tx.lines.reduce((n, l) => n + l.quantity, 0);
    const whole = (f: SalesFigures) => {
      f.units += units;
      f.gross += tx.totals.gross;
      f.discounts += tx.totals.discount;
      f.net += tx.totals.net;
      f.tax += tx.totals.tax;
      f.transactions += 1;
      f.items += units;
    };
    const tender = (f: SalesFigures) => {
      f.gross += grand;
      f.net += grand;
      f.transactions += 1;
    };
    const line = (l: PosTransaction['lines'][number]) => (f: SalesFigures) => {
      f.units += l.quantity;
      f.gross += l.extendedAmount + l.discount;
      f.discounts += l.discount;
      f.net += l.extendedAmount;
      f.tax += l.taxAmount;
      f.transactions += 1;
      f.items += l.quantity;
    };
    const members: Array<[SalesAggregate['dimension'], string, (f: SalesFigures) => void]> = [
      ['store', 'all', whole],
      ['terminal', terminalId, whole],
      ['tender', card ? 'CARD' : 'CASH', tender],
      ...tx.lines.map((l): [SalesAggregate['dimension'], string, (f: SalesFigures) => void] => ['sku', l.sku, line(l)]),
      ...tx.lines.map((l): [SalesAggregate['dimension'], string, (f: SalesFigures) => void] => ['category', l.category, line(l)]),
    ];
    const coalescing = this.options.profile.coalesceSeconds > 0;
    for (const granularity of ALL_GRANULARITIES) {
      const windowStart = granularity === 'day' ? `${businessDay}T00:00:00Z` : new Date(Math.floor(Date.parse(at) / GRANULARITY_MS[granularity]) * GRANULARITY_MS[granularity]).toISOString().replace('.000Z', 'Z');
      for (const [dimension, member, apply] of members) {
        const key = `${granularity}|${windowStart}|${dimension}|${member}`;
        let w = this.windows.get(key);
        if (!w) {
          this.windows.set(key, (w = { granularity, windowStart, dimension, member, figures: emptyFigures(), revision: 0, updatedAt: at }));
          this.counts.windows += 1;
        }
        apply(w.figures);
        w.revision += 1;
        w.updatedAt = at;
        if (!this.uploaded.has(granularity) || (this.uploadedDimensions && !this.uploadedDimensions.has(dimension))) continue;
        if (coalescing) this.dirtyWindows.add(w);
        else this.push(this.aggregateRecord(w));
      }
    }

    const { openingStock, reorderPoint } = shape;
    for (const l of lines) {
      const before = this.onHand.get(l.index) ?? openingStock;
      const after = before - (l.quantity ?? 1);
      this.onHand.set(l.index, after);
      const id = String(++this.movement);
      const level: InventoryLevel = {
        storeId,
        sku: l.sku,
        onHand: after,
        unitOfMeasure: 'EA',
        state: stateOf(after, reorderPoint),
        lastMovement: { id, kind: 'SALE', quantity: -(l.quantity ?? 1), at },
        updatedAt: at,
      };
      if (coalescing) this.dirtyLevels.set(l.index, level);
      else this.push({ stream: 'level', key: syncRecordKey.level(level), data: level });
      if (before > reorderPoint && after <= reorderPoint) {
        const alert: InventoryAlert = {
          alertId: `${l.sku}:${id}`,
          storeId,
          sku: l.sku,
          type: 'LOW_STOCK',
          state: stateOf(after, reorderPoint),
          previousState: stateOf(before, reorderPoint),
          onHand: after,
          reorderPoint,
          reorderQuantity: null,
          at,
        };
        this.push({ stream: 'alert', key: syncRecordKey.alert(alert), data: alert });
      }
    }
  }
}
