import { z } from 'zod';
import { InventoryAlertV1, InventoryLevelV1, ReplenishmentSuggestionV1, StockQuantity } from './inventory.ts';
import { LossPreventionAlertV1 } from './loss-prevention.ts';
import { MinorUnits, Quantity } from './money.ts';
import { BusinessDay, Identifier, PosTransactionV1, Rfc3339, Sku, TenderType, type PosTransaction, type TransactionType } from './pos-transaction.ts';
import { QuarantineEntryV1 } from './quarantine.ts';
import { Dimension, Granularity, SalesAggregateV1 } from './sales.ts';
import { Text } from './text.ts';
import { RequestId } from './tracing.ts';

/**
 * Store -> HQ synchronisation: what a store uploads (batches of its sync
 * outbox, day manifests), what HQ answers, and the catalog HQ publishes.
 */

/** The kinds of record a store's sync outbox carries to HQ. */
export const SyncStream = z.enum(['transaction', 'aggregate', 'level', 'alert', 'quarantine', 'replenishment', 'lossprevention']);
export type SyncStream = z.infer<typeof SyncStream>;

/** One outbox record: its stream, its identity within the stream, and the event data as the store published it. */
export const SyncRecord = z.discriminatedUnion('stream', [
  /**
   * `requestId`: the terminal's request that brought the transaction in (X-Request-Id at ingest), so HQ's
   * log lines about it name the same id as the store's. Optional: stores before it upload without one.
   */
  z.strictObject({ stream: z.literal('transaction'), key: z.string().min(1).max(200), data: PosTransactionV1, requestId: RequestId.optional() }),
  z.strictObject({ stream: z.literal('aggregate'), key: z.string().min(1).max(200), data: SalesAggregateV1 }),
  z.strictObject({ stream: z.literal('level'), key: z.string().min(1).max(200), data: InventoryLevelV1 }),
  z.strictObject({ stream: z.literal('alert'), key: z.string().min(1).max(200), data: InventoryAlertV1 }),
  /** A quarantine entry at one revision (key "<entryId>#<revision>"): HQ keeps the latest per (store, entry id). */
  z.strictObject({ stream: z.literal('quarantine'), key: z.string().min(1).max(200), data: QuarantineEntryV1 }),
  /** A replenishment suggestion as computed at one time (key "<sku>#<computedAt>"): HQ keeps the latest per (store, SKU). */
  z.strictObject({ stream: z.literal('replenishment'), key: z.string().min(1).max(200), data: ReplenishmentSuggestionV1 }),
  /** A loss-prevention alert (key: its alertId; HQ keeps each once). */
  z.strictObject({ stream: z.literal('lossprevention'), key: z.string().min(1).max(200), data: LossPreventionAlertV1 }),
]);
export type SyncRecord = z.infer<typeof SyncRecord>;

/** Most records in one upload batch. */
export const MAX_BATCH_RECORDS = 5000;

/**
 * A batch id: "<store>-<first outbox id>-<last outbox id>" or
 * "<store>-replay-<request id>"; deterministic, so a re-sent batch is the
 * same batch. It is machine-made and its numbers are joined by "-", so the
 * identifier rule (no 13 digits in a row) cannot hold for it; instead each
 * number has at most 12 digits (a trillion outbox records), so no card
 * number fits in one, and the store id is an Identifier.
 */
export const BatchId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}-(\d{1,12}-\d{1,12}|replay-\d{1,12})$/, 'must be "<store>-<first>-<last>" or "<store>-replay-<id>", each number of at most 12 digits')
  .refine((id) => Identifier.safeParse(id.replace(/-(\d+-\d+|replay-\d+)$/, '')).success, 'must start with a valid store id');

export const SyncBatchV1 = z.strictObject({
  batchId: BatchId,
  /** The replay request this batch answers, if it is a replay. */
  replayOf: z.number().int().positive().optional(),
  records: z.array(SyncRecord).max(MAX_BATCH_RECORDS),
  /** The store's view of its own backlog when it sent this batch: HQ shows it as the store's sync lag. */
  backlog: z.strictObject({ records: z.number().int().min(0), oldestAt: Rfc3339.nullable() }),
});
export type SyncBatch = z.infer<typeof SyncBatchV1>;

export const BatchResultV1 = z.strictObject({
  batchId: BatchId,
  storeId: Identifier,
  records: z.number().int().min(0),
  appliedAt: Rfc3339,
});
export type BatchResult = z.infer<typeof BatchResultV1>;

/**
 * What HQ takes in one upload (GET /v1/stores/{store}/limits): stores cut
 * their batches below these, so a backlog of large legal transactions never
 * makes a batch HQ must refuse.
 */
export const SyncLimitsV1 = z.strictObject({
  /** Largest batch body HQ reads, in bytes (larger gets 413). */
  batchBodyBytes: z.number().int().positive(),
  /** Most records in one batch. */
  batchRecords: z.number().int().positive(),
});
export type SyncLimits = z.infer<typeof SyncLimitsV1>;

/**
 * What HQ reads of a store's uploads (GET /v1/stores/<id>/reads): the sales
 * window granularities and dimensions its views use. A store uploads only
 * windows of these once it has this declaration (kept across restarts), and
 * every window before (an older HQ answers 404: nothing is left out).
 * Transactions, levels, alerts and quarantine entries always go up.
 */
export const HqReadsV1 = z.strictObject({
  granularities: z.array(Granularity).min(1),
  /** Absent: every dimension of those granularities. */
  dimensions: z.array(Dimension).min(1).optional(),
});
export type HqReads = z.infer<typeof HqReadsV1>;

/** A store's heartbeat: it is alive, and how far behind its upload is. */
export const HeartbeatV1 = z.strictObject({ backlog: SyncBatchV1.shape.backlog });

// ---------------------------------------------------------------------------
// Manifests: what a store says it has for a business day.

const SequenceRange = z.strictObject({ from: z.number().int().min(0), to: z.number().int().min(0) });
export type SequenceRange = z.infer<typeof SequenceRange>;

export const TerminalManifest = z.strictObject({
  terminalId: Identifier,
  first: z.number().int().min(0),
  last: z.number().int().min(0),
  /** Distinct sequence numbers held (first..last minus gaps). */
  count: z.number().int().min(0),
  /** Sequence numbers between first and last that the store does not have. */
  gaps: z.array(SequenceRange),
});
export type TerminalManifest = z.infer<typeof TerminalManifest>;

export const DayManifestV1 = z.strictObject({
  storeId: Identifier,
  businessDay: BusinessDay,
  /** Every transaction (training included: it is part of the journal). */
  transactions: z.number().int().min(0),
  terminals: z.array(TerminalManifest),
  /** Money taken by tender type (amount - change) in minor units: sales count positive, returns negative; training, post-voids and no-sales count nothing. */
  tenders: z.partialRecord(TenderType, z.number().int()),
});
export type DayManifest = z.infer<typeof DayManifestV1>;

/** The fields of a transaction a manifest is computed from. */
export type ManifestTransaction = Pick<PosTransaction, 'terminalId' | 'sequenceNumber' | 'type' | 'trainingMode'> & {
  tenders: ReadonlyArray<{ type: TenderType; amount: number; change?: number | undefined }>;
};

/** Money a transaction moved through its tenders: in for a sale, out (negative) for a return, none for training. */
function tenderSign(type: TransactionType, training: boolean): number {
  if (training) return 0;
  return type === 'RETURN' ? -1 : type === 'SALE' ? 1 : 0;
}

/** Sorted, distinct numbers as inclusive ranges. */
function toRanges(sorted: readonly number[]): SequenceRange[] {
  const ranges: SequenceRange[] = [];
  for (const n of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && n === last.to + 1) last.to = n;
    else if (!last || n > last.to) ranges.push({ from: n, to: n });
  }
  return ranges;
}

/**
 * The manifest of a store's business day, from its transactions. The store
 * computes it over its journal and HQ over what it received: one function,
 * so the two can only differ where the data does.
 */
export function buildManifest(storeId: string, businessDay: string, transactions: readonly ManifestTransaction[]): DayManifest {
  const byTerminal = new Map<string, number[]>();
  const tenders: Partial<Record<TenderType, number>> = {};
  for (const tx of transactions) {
    let seqs = byTerminal.get(tx.terminalId);
    if (!seqs) byTerminal.set(tx.terminalId, (seqs = []));
    seqs.push(tx.sequenceNumber);
    const sign = tenderSign(tx.type, tx.trainingMode);
    if (sign === 0) continue;
    for (const t of tx.tenders) tenders[t.type] = (tenders[t.type] ?? 0) + sign * (t.amount - (t.change ?? 0));
  }
  const terminals = [...byTerminal.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([terminalId, seqs]): TerminalManifest => {
      const held = toRanges([...seqs].sort((a, b) => a - b));
      const gaps = held.slice(1).map((r, i) => ({ from: held[i]!.to + 1, to: r.from - 1 }));
      return { terminalId, first: held[0]!.from, last: held[held.length - 1]!.to, count: held.reduce((n, r) => n + r.to - r.from + 1, 0), gaps };
    });
  return { storeId, businessDay, transactions: transactions.length, terminals, tenders };
}

/** Sequence numbers a terminal manifest says are held, as ranges. */
function heldRanges(t: TerminalManifest): SequenceRange[] {
  const held: SequenceRange[] = [];
  let from = t.first;
  for (const gap of t.gaps) {
    if (gap.from > from) held.push({ from, to: gap.from - 1 });
    from = gap.to + 1;
  }
  if (from <= t.last) held.push({ from, to: t.last });
  return held;
}

/** Ranges of `a` not covered by `b` (both sorted, disjoint). */
function subtract(a: readonly SequenceRange[], b: readonly SequenceRange[]): SequenceRange[] {
  const out: SequenceRange[] = [];
  for (const r of a) {
    let from = r.from;
    for (const c of b) {
      if (c.to < from || c.from > r.to) continue;
      if (c.from > from) out.push({ from, to: c.from - 1 });
      from = Math.max(from, c.to + 1);
    }
    if (from <= r.to) out.push({ from, to: r.to });
  }
  return out;
}

export const ReconciliationStatus = z.enum(['pending', 'complete', 'gaps', 'mismatch']);
export type ReconciliationStatus = z.infer<typeof ReconciliationStatus>;

export interface MissingRange extends SequenceRange {
  terminalId: string;
}

export interface ManifestComparison {
  status: Exclude<ReconciliationStatus, 'pending'>;
  /** Sequence ranges the store has and HQ does not: HQ asks the store to replay them. */
  missing: MissingRange[];
  /** Sequence ranges HQ has and the store's manifest does not list. */
  unexpected: MissingRange[];
  differences: string[];
  /**
   * Transactions of the day an open quarantine entry names (HQ fills it in:
   * acknowledged, then dead-lettered or refused somewhere): while any is
   * listed the day is not complete, whatever the counts say.
   */
  quarantined?: string[];
}

/**
 * Compares what the store says it has with what HQ has: `gaps` when HQ
 * misses transactions the store holds (repairable by a replay), `mismatch`
 * when HQ holds something the store does not list or the totals differ with
 * nothing missing, `complete` when they agree exactly.
 */
export function compareManifests(store: DayManifest, hq: DayManifest): ManifestComparison {
  const hqByTerminal = new Map(hq.terminals.map((t) => [t.terminalId, heldRanges(t)]));
  const storeByTerminal = new Map(store.terminals.map((t) => [t.terminalId, heldRanges(t)]));
  const missing: MissingRange[] = [];
  const unexpected: MissingRange[] = [];
  for (const [terminalId, held] of storeByTerminal) {
    for (const r of subtract(held, hqByTerminal.get(terminalId) ?? [])) missing.push({ terminalId, ...r });
  }
  for (const [terminalId, held] of hqByTerminal) {
    for (const r of subtract(held, storeByTerminal.get(terminalId) ?? [])) unexpected.push({ terminalId, ...r });
  }
  const differences: string[] = [];
  if (store.transactions !== hq.transactions) differences.push(`transactions: store ${store.transactions}, HQ ${hq.transactions}`);
  for (const type of TenderType.options) {
    const s = store.tenders[type] ?? 0;
    const h = hq.tenders[type] ?? 0;
    if (s !== h) differences.push(`tender ${type}: store ${s}, HQ ${h}`);
  }
  const status = missing.length > 0 ? 'gaps' : unexpected.length > 0 || differences.length > 0 ? 'mismatch' : 'complete';
  return { status, missing, unexpected, differences };
}

/** A replay HQ asks a store for: transactions of one terminal and day it is missing. */
export const ReplayRequestV1 = z.strictObject({
  requestId: z.number().int().positive(),
  businessDay: BusinessDay,
  terminalId: Identifier,
  from: z.number().int().min(0),
  to: z.number().int().min(0),
});
export type ReplayRequest = z.infer<typeof ReplayRequestV1>;

export const ManifestResultV1 = z.strictObject({
  storeId: Identifier,
  businessDay: BusinessDay,
  status: ReconciliationStatus,
  replayRequests: z.array(ReplayRequestV1),
});
export type ManifestResult = z.infer<typeof ManifestResultV1>;

// ---------------------------------------------------------------------------
// Catalog: what HQ publishes and stores apply, versioned.

export const CatalogItemV1 = z.strictObject({
  sku: Sku,
  description: Text(200),
  category: Text(64),
  unitPrice: MinorUnits,
  reorderPoint: StockQuantity.refine((q) => q >= 0, { message: 'must not be negative' }).nullable(),
  reorderQuantity: Quantity.nullable(),
  maximum: Quantity.nullable(),
});
export type CatalogItem = z.infer<typeof CatalogItemV1>;

export const MAX_CATALOG_ITEMS = 50_000;

export const CatalogPublishRequest = z.strictObject({
  items: z
    .array(CatalogItemV1)
    .min(1)
    .max(MAX_CATALOG_ITEMS)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (seen.has(item.sku)) ctx.addIssue({ code: 'custom', path: [i, 'sku'], message: 'appears twice' });
        seen.add(item.sku);
      });
    }),
});

export const CatalogV1 = z.strictObject({
  version: z.number().int().positive(),
  publishedAt: Rfc3339,
  items: z.array(CatalogItemV1),
});
export type Catalog = z.infer<typeof CatalogV1>;

export const CatalogAckV1 = z.strictObject({ version: z.number().int().positive() });

/**
 * The key each stream's record carries in a batch, as a store's sync outbox
 * writes it: a transaction's id, an aggregate window at one revision, a level
 * at one movement, an alert's id. HQ's batch ids and views rely on these being
 * stable per event; the chain simulator builds its records with them.
 */
export const syncRecordKey = {
  transaction: (tx: Pick<PosTransaction, 'transactionId'>) => tx.transactionId,
  aggregate: (a: Pick<z.infer<typeof SalesAggregateV1>, 'granularity' | 'windowStart' | 'dimension' | 'member' | 'revision'>) =>
    `${a.granularity}|${a.windowStart}|${a.dimension}|${a.member}#${a.revision}`,
  level: (l: Pick<z.infer<typeof InventoryLevelV1>, 'sku' | 'lastMovement' | 'updatedAt'>) => `${l.sku}#${l.lastMovement?.id ?? ''}#${l.updatedAt}`,
  alert: (a: Pick<z.infer<typeof InventoryAlertV1>, 'alertId'>) => a.alertId,
  replenishment: (r: Pick<z.infer<typeof ReplenishmentSuggestionV1>, 'sku' | 'computedAt'>) => `${r.sku}#${r.computedAt}`,
  lossprevention: (a: Pick<z.infer<typeof LossPreventionAlertV1>, 'alertId'>) => a.alertId,
};
