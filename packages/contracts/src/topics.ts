import type { z } from 'zod';
import { envelopeOf } from './envelope.ts';
import { ForecastDemandV1, type ForecastDemand } from './forecast.ts';
import { InventoryAlertV1, InventoryLevelV1, ReplenishmentSuggestionV1, type InventoryAlert, type InventoryLevel, type ReplenishmentSuggestion } from './inventory.ts';
import { LossPreventionAlertV1, type LossPreventionAlert } from './loss-prevention.ts';
import { PosTransactionV1, type PosTransaction } from './pos-transaction.ts';
import { SalesAggregateV1, SalesAnomalyV1, type SalesAggregate, type SalesAnomaly } from './sales.ts';

/** `compact,delete`: the latest record per key, and no key kept past the retention (docs/hq-storage.md). */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';

const DAY_MS = 24 * 3600_000;

/**
 * A topic in the registry: its base name (services add a per-store prefix),
 * the schema of its records, how a record's key is derived from its data, and
 * the settings the topic admin creates it with.
 */
export interface TopicSpec<Data = unknown, Id extends string = string> {
  /** Base name, with the major version: "pos.transactions.v1". */
  readonly name: string;
  /** Schema id carried in the envelope and the `schema` header. */
  readonly schemaId: Id;
  /** Schema of the whole envelope (validated on produce and on consume). */
  readonly envelope: z.ZodType<{ schema: Id; eventId: string; storeId: string; source: string; producedAt: string; data: Data }>;
  /** The record key: decides the partition, and so the order that is kept. */
  readonly key: (data: Data) => string;
  /**
   * Partitions where the cluster does not ask for more: a cluster's placement
   * (packages/kafka placement.ts) sets the replication factor and
   * min.insync.replicas of every topic, and may raise the partition count
   * (HQ's profile: 12 per hq.* topic). Those are the cluster's, never a spec's.
   */
  readonly partitions: number;
  readonly cleanupPolicy: CleanupPolicy;
  /** -1 keeps records forever (compacted topics keep the latest per key). */
  readonly retentionMs: number;
  /** Further broker topic configs (strings, as Kafka takes them). */
  readonly config?: Readonly<Record<string, string>>;
  readonly description: string;
  /**
   * Producers (the envelope's `source`) that validate every envelope with
   * this spec's schema before producing it and are the only principals
   * allowed to write the topic (packages/kafka security.ts). A consumer takes
   * the data of their records, bearing this schema in the `tillstream-schema`
   * header and not replayed, as validated: it checks the envelope's frame and
   * skips the data's full schema (ConsumerRunner's decode; docs/quarantine.md).
   */
  readonly validatedBy?: readonly string[];
}

/**
 * A spec of any topic, for code that handles several (an outbox publisher):
 * the schema stays checked on send, at run time.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous list; each spec validates its own data
export type AnyTopicSpec = TopicSpec<any>;

/** What the topic admin needs of a spec: the broker-side settings, not the schema. */
export type TopicSettings = Pick<TopicSpec, 'name' | 'partitions' | 'cleanupPolicy' | 'retentionMs' | 'config'>;

function topic<Data, Id extends string>(spec: TopicSpec<Data, Id>): TopicSpec<Data, Id> {
  return spec;
}

/**
 * The store's POS journal: the only copy of a sale until the consumers and HQ
 * have it, on a single broker. Keyed by storeId:terminalId so each terminal's
 * transactions keep their order.
 *
 * Durability: `flush.messages=1` makes the broker fsync every appended batch
 * before it acknowledges (acks=all on one replica means "in the leader's page
 * cache" otherwise, which survives a process crash but not a power cut).
 * BENCHMARKS.md records what this costs and why it is affordable.
 *
 * Kafka's flush also msyncs the partition's memory-mapped indexes, whose cost
 * grows with their preallocated size (10 MB by default): smaller indexes cut
 * the cost of each fsync'd append by about a third in BENCHMARKS.md's side
 * measurement (segments then roll at about 128 MB instead of 256 MB, which
 * only means more, smaller files).
 *
 * One partition: every fsync is per partition appended to, and a store's
 * volume (tens of transactions a second at peak) needs no more. The key still
 * keeps each terminal's order if a store ever needs more partitions.
 *
 * Retention of 35 days covers terminals that replay a month-old backlog and
 * rebuilding a consumer from offset 0.
 */
export const posTransactions = topic<PosTransaction, 'pos.transaction.v1'>({
  name: 'pos.transactions.v1',
  schemaId: 'pos.transaction.v1',
  envelope: envelopeOf('pos.transaction.v1', PosTransactionV1),
  key: (tx) => `${tx.storeId}:${tx.terminalId}`,
  partitions: 1,
  cleanupPolicy: 'delete',
  retentionMs: 35 * DAY_MS,
  config: { 'flush.messages': '1', 'segment.index.bytes': '262144' },
  description: 'Every POS transaction a terminal posted, as acknowledged by ingest.',
  // Ingest parses every transaction with PosTransactionV1 at its HTTP edge and produces the result; only its principal writes here.
  validatedBy: ['ingest'],
});

/**
 * The store's current stock per SKU, as the inventory service computes it.
 * Compacted: the latest record of each SKU is its level, forever, so a new
 * reader (the sync service, a dashboard) gets every SKU's level by reading
 * the topic from the start. Records are re-published after a crash at most
 * (at least once); the latest one is always right.
 */
export const inventoryLevels = topic<InventoryLevel, 'inventory.level.v1'>({
  name: 'inventory.levels.v1',
  schemaId: 'inventory.level.v1',
  envelope: envelopeOf('inventory.level.v1', InventoryLevelV1),
  key: (level) => level.sku,
  partitions: 1,
  cleanupPolicy: 'compact',
  retentionMs: -1,
  config: { 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': String(DAY_MS) },
  description: 'Latest stock level per SKU (compacted).',
});

/**
 * Stock alerts as they happen: LOW_STOCK, OUT_OF_STOCK, NEGATIVE_STOCK,
 * BACK_IN_STOCK. Each carries a stable alertId; a crash may re-publish one,
 * never lose one.
 */
export const inventoryAlerts = topic<InventoryAlert, 'inventory.alert.v1'>({
  name: 'inventory.alerts.v1',
  schemaId: 'inventory.alert.v1',
  envelope: envelopeOf('inventory.alert.v1', InventoryAlertV1),
  key: (alert) => alert.sku,
  partitions: 1,
  cleanupPolicy: 'delete',
  retentionMs: 35 * DAY_MS,
  description: 'Stock alerts with hysteresis (low, out, negative, back in stock).',
});

/** A window's record key on sales.aggregates.v1 (compaction keeps the latest per key): what the window is, not its figures. */
export function salesAggregateKey(a: Pick<SalesAggregate, 'storeId' | 'granularity' | 'windowStart' | 'dimension' | 'member'>): string {
  return `${a.storeId}|${a.granularity}|${a.windowStart}|${a.dimension}|${a.member}`;
}

/**
 * Sales aggregates per window and member, for HQ. Compacted, keyed by store,
 * granularity, window, dimension and member: the latest record of a key is
 * its figures at their highest revision (late data and voids restate a
 * window with a higher revision; nothing is dropped for being late).
 *
 * Compacted and deleted (`compact,delete`, 35 days): every window is a new
 * key (about 17,900 a store-day), so compaction alone would keep every
 * window ever, growing without end. The topic is a transport, not the
 * truth: the windows live in PostgreSQL (trends' sales_aggregates at the
 * store, hq_sales_aggregates at HQ), their readers (sync, HQ's view
 * consumer) store their offsets with their effects, and nothing rebuilds a
 * view by reading the topic from its start. So a window's records may go
 * once no reader can still need them: 35 days, as long as the POS journal
 * and the stores' outbox keep theirs (a reader down that long loses no more
 * here than there). Segments roll daily (`segment.ms`), so a day's windows go
 * about a day after the retention. Stock levels stay compacted only: one key
 * per SKU, a bounded set, and a new reader needs every SKU's level.
 */
export const salesAggregates = topic<SalesAggregate, 'sales.aggregate.v1'>({
  name: 'sales.aggregates.v1',
  schemaId: 'sales.aggregate.v1',
  envelope: envelopeOf('sales.aggregate.v1', SalesAggregateV1),
  key: salesAggregateKey,
  partitions: 1,
  cleanupPolicy: 'compact,delete',
  retentionMs: 35 * DAY_MS,
  // Record batches up to 4 MiB (the broker's default is 1 MiB): the trends publisher sends a catch-up's windows (1.4
  // per POS line) one request at a time, as the idempotent producer must, so larger requests mean fewer round trips
  // (kafka producer.ts requestBytesFor; BENCHMARKS.md, issue 19).
  config: { 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': String(DAY_MS), 'max.message.bytes': String(4 * 1024 * 1024) },
  description: 'Sales aggregates per window, dimension and member, with revisions (compacted; windows kept 35 days).',
});

/** Hours whose revenue, or a SKU's units, lie far from their baseline (median absolute deviation). */
export const salesAnomalies = topic<SalesAnomaly, 'sales.anomaly.v1'>({
  name: 'sales.anomalies.v1',
  schemaId: 'sales.anomaly.v1',
  envelope: envelopeOf('sales.anomaly.v1', SalesAnomalyV1),
  key: (a) => `${a.storeId}|${a.kind}|${a.member}`,
  partitions: 1,
  cleanupPolicy: 'delete',
  retentionMs: 35 * DAY_MS,
  description: 'Sales anomalies: an hour far from its robust baseline.',
});

/**
 * Demand forecasts per SKU, as the store computes them (forecast.ts).
 * Compacted, keyed by store and SKU: the latest record of a SKU is its
 * current forecast, so a new reader (inventory's replenishment, sync) gets
 * every SKU's forecast by reading the topic from the start. A forecast is
 * re-made at least hourly; a re-published one only replaces itself.
 */
export const forecastDemand = topic<ForecastDemand, 'forecast.demand.v1'>({
  name: 'forecast.demand.v1',
  schemaId: 'forecast.demand.v1',
  envelope: envelopeOf('forecast.demand.v1', ForecastDemandV1),
  key: (f) => `${f.storeId}|${f.sku}`,
  partitions: 1,
  cleanupPolicy: 'compact',
  retentionMs: -1,
  config: { 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': String(DAY_MS) },
  description: 'Demand forecast per SKU: next 7 days daily and hourly, with prediction intervals (compacted).',
});

/**
 * Replenishment suggestions per SKU (what to order, when, and why), as the
 * inventory service computes them from forecasts, its ledger and open
 * purchase orders. Compacted, key = SKU: the latest suggestion of each SKU.
 * Published when a SKU's suggestion changed (at most once per
 * REPLENISHMENT_PUBLISH_MS), for HQ (through sync).
 */
export const inventoryReplenishment = topic<ReplenishmentSuggestion, 'inventory.replenishment.v1'>({
  name: 'inventory.replenishment.v1',
  schemaId: 'inventory.replenishment.v1',
  envelope: envelopeOf('inventory.replenishment.v1', ReplenishmentSuggestionV1),
  key: (s) => s.sku,
  partitions: 1,
  cleanupPolicy: 'compact',
  retentionMs: -1,
  config: { 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': String(DAY_MS) },
  description: 'Latest replenishment suggestion per SKU: quantity, order date and why (compacted).',
});

/**
 * Loss-prevention alerts (loss-prevention.ts): an operator or terminal whose
 * rate of a signal lies far above its peers' or its own history. Keyed by
 * alertId, which is stable per member, signal, period and comparison, so a
 * re-published alert only replaces itself (compacted); kept 35 days like
 * the POS journal it is computed from (deleted after: staff data is kept no
 * longer than it is useful; the store's table and HQ keep the record).
 */
export const lossPreventionAlerts = topic<LossPreventionAlert, 'lossprevention.alert.v1'>({
  name: 'lossprevention.alerts.v1',
  schemaId: 'lossprevention.alert.v1',
  envelope: envelopeOf('lossprevention.alert.v1', LossPreventionAlertV1),
  key: (a) => a.alertId,
  partitions: 1,
  cleanupPolicy: 'compact,delete',
  retentionMs: 35 * DAY_MS,
  config: { 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': String(DAY_MS) },
  description: 'Loss-prevention alerts per operator or terminal: a signal rate far above peers or own history (compacted by alertId; kept 35 days).',
});

/**
 * HQ's own cluster: what stores uploaded, re-keyed by store. HQ's API writes
 * each applied batch here; HQ's consumers build the chain views from it.
 * A batch re-sent after a crash may write a record twice: every HQ view
 * applies records by their own identity (transaction id, revision, movement),
 * so a second copy changes nothing.
 */
export const hqTransactions = topic<PosTransaction, 'pos.transaction.v1'>({
  ...posTransactions,
  name: 'hq.transactions.v1',
  partitions: 3,
  retentionMs: 400 * DAY_MS,
  // No per-append fsync: HQ's durability is replication (RF 3, min.insync.replicas 2: the cluster's placement, packages/kafka placement.ts).
  config: {},
  description: "Every store's POS journal, for HQ's audit, finance and reconciliation.",
});

export const hqSalesAggregates = topic<SalesAggregate, 'sales.aggregate.v1'>({
  ...salesAggregates,
  name: 'hq.sales.aggregates.v1',
  partitions: 3,
  // The broker's 1 MiB batches: HQ applies each store's batch across its partitions, in ordinary requests.
  config: { 'min.cleanable.dirty.ratio': '0.1', 'segment.ms': String(DAY_MS) },
  description: "Every store's sales aggregates at their latest revision (compacted; windows kept 35 days).",
});

export const hqInventoryLevels = topic<InventoryLevel, 'inventory.level.v1'>({
  ...inventoryLevels,
  name: 'hq.inventory.levels.v1',
  key: (level) => `${level.storeId}|${level.sku}`,
  partitions: 3,
  description: "Every store's latest stock level per SKU (compacted, key store|sku).",
});

export const hqInventoryAlerts = topic<InventoryAlert, 'inventory.alert.v1'>({
  ...inventoryAlerts,
  name: 'hq.inventory.alerts.v1',
  key: (alert) => `${alert.storeId}|${alert.sku}`,
  partitions: 3,
  description: "Every store's stock alerts.",
});

export const hqInventoryReplenishment = topic<ReplenishmentSuggestion, 'inventory.replenishment.v1'>({
  ...inventoryReplenishment,
  name: 'hq.inventory.replenishment.v1',
  key: (r) => `${r.storeId}|${r.sku}`,
  partitions: 3,
  description: "Every store's latest replenishment suggestion per SKU (compacted, key store|sku).",
});

export const hqLossPreventionAlerts = topic<LossPreventionAlert, 'lossprevention.alert.v1'>({
  ...lossPreventionAlerts,
  name: 'hq.lossprevention.alerts.v1',
  partitions: 3,
  description: "Every store's loss-prevention alerts (compacted by alertId, which names the store; kept 35 days).",
});

/** Every topic of HQ's cluster. */
export const hqTopics = [hqTransactions, hqSalesAggregates, hqInventoryLevels, hqInventoryAlerts, hqInventoryReplenishment, hqLossPreventionAlerts] as const;

/** Every topic the store's services create and use. */
export const storeTopics = [posTransactions, inventoryLevels, inventoryAlerts, salesAggregates, salesAnomalies, forecastDemand, inventoryReplenishment, lossPreventionAlerts] as const;

/** Dead-letter topic of a topic: same records, bytes unchanged, the error in headers. */
export function deadLetterTopicName(topicName: string): string {
  return `${topicName}.dlq`;
}

/** Name of a topic as deployed: stores that share a broker (demo, tests) each get a prefix. */
export function topicName(prefix: string, spec: Pick<TopicSpec, 'name'>): string {
  return `${prefix}${spec.name}`;
}
