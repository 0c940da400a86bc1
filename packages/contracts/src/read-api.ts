import { z } from 'zod';
import { AlertType, InventoryAlertV1, MovementKind, ReorderMode, ReplenishmentSuggestionV1, StockState } from './inventory.ts';
import { LossDimension, LossPreventionAlertV1, LossScope, LossSignal } from './loss-prevention.ts';
import { BusinessDay, Identifier, Rfc3339, Sku } from './pos-transaction.ts';
import { QuarantineSource, QuarantineStatus } from './quarantine.ts';
import { SalesAnomalyV1, SalesFigures } from './sales.ts';
import { ReconciliationStatus } from './sync.ts';

/**
 * The bodies the read APIs answer with (the store API: inventory, sales, sync;
 * HQ's chain views). Services type their handlers with these, the store
 * dashboard reads trends and sync through them, each service's /openapi.json
 * is generated from them, and a test checks real answers against them. They
 * are strict: a field a handler adds without adding it here fails that test.
 * `.meta({ id })` names each one a component of the OpenAPI documents.
 */

const Timestamp = z.string().meta({ format: 'date-time', description: 'RFC 3339' });
/** An opaque cursor for the next page; null on the last page. */
const NextCursor = z.string().nullable().meta({ description: 'Pass as ?cursor= for the next page; null on the last page' });

// --- inventory ---------------------------------------------------------------

export const InventoryItem = z
  .strictObject({
    sku: z.string(),
    description: z.string().nullable(),
    category: z.string().nullable(),
    unitOfMeasure: z.string(),
    onHand: z.number(),
    state: StockState,
    settings: z.strictObject({
      reorderPoint: z.number().nullable(),
      reorderQuantity: z.number().nullable(),
      maximum: z.number().nullable(),
      /** Replenishment settings (null: not set, REPLENISHMENT_DEFAULTS apply). */
      leadTimeDays: z.number().int().nullable(),
      reviewPeriodDays: z.number().int().nullable(),
      packSize: z.number().nullable(),
      minimumOrder: z.number().nullable(),
      serviceLevel: z.number().nullable(),
      reorderMode: ReorderMode,
      /** The store manager who set them last (null for settings from HQ's catalog). */
      updatedBy: z.string().nullable(),
    }),
    lastMovementAt: Timestamp.nullable(),
    updatedAt: Timestamp,
  })
  .meta({ id: 'InventoryItem' });
export type InventoryItem = z.infer<typeof InventoryItem>;

export const StockMovement = z
  .strictObject({
    id: z.string(),
    kind: MovementKind,
    quantity: z.number(),
    occurredAt: Timestamp,
    recordedAt: Timestamp,
    /** POS movements: the transaction and line (for POST_VOID, the void's id and the original's line). */
    transactionId: z.string().nullable(),
    lineNumber: z.number().int().nullable(),
    /** Store-API movements: the operation and what it said. */
    operationId: z.string().nullable(),
    reference: z.string().nullable(),
    reason: z.string().nullable(),
    /** Who booked the operation; null for POS movements. */
    actor: z.string().nullable(),
  })
  .meta({ id: 'StockMovement' });
export type StockMovement = z.infer<typeof StockMovement>;

export const InventoryItemsPage = z.strictObject({ items: z.array(InventoryItem), nextCursor: NextCursor }).meta({ id: 'InventoryItemsPage' });
export type InventoryItemsPage = z.infer<typeof InventoryItemsPage>;

export const InventoryAlertsPage = z.strictObject({ alerts: z.array(InventoryAlertV1), nextCursor: NextCursor }).meta({ id: 'InventoryAlertsPage' });
export type InventoryAlertsPage = z.infer<typeof InventoryAlertsPage>;

export const InventoryItemDetail = InventoryItem.extend({ movements: z.array(StockMovement) }).meta({ id: 'InventoryItemDetail' });
export type InventoryItemDetail = z.infer<typeof InventoryItemDetail>;

export const StockOperationResult = z
  .strictObject({
    operationId: z.string(),
    kind: MovementKind,
    idempotencyKey: z.string(),
    reference: z.string().nullable(),
    reason: z.string().nullable(),
    counterparty: z.string().nullable(),
    recordedAt: Timestamp,
    lines: z.array(
      z.strictObject({
        sku: z.string(),
        /** The movement booked (signed). */
        quantity: z.number(),
        /** For counts: what was counted, and what the ledger held before. */
        counted: z.number().optional(),
        previous: z.number().optional(),
        onHand: z.number(),
        state: StockState,
      }),
    ),
  })
  .meta({ id: 'StockOperationResult' });
export type StockOperationResult = z.infer<typeof StockOperationResult>;

export const PurchaseOrderResult = z
  .strictObject({
    operationId: z.string(),
    kind: z.literal('PURCHASE_ORDER'),
    idempotencyKey: z.string(),
    reference: z.string(),
    supplier: z.string().nullable(),
    expectedOn: BusinessDay,
    recordedAt: Timestamp,
    /** Each line with what the SKU now has on order (open lines of every order). */
    lines: z.array(z.strictObject({ sku: z.string(), quantity: z.number(), onOrder: z.number() })),
  })
  .meta({ id: 'PurchaseOrderResult' });
export type PurchaseOrderResult = z.infer<typeof PurchaseOrderResult>;

const ReplenishmentSuggestion = ReplenishmentSuggestionV1.meta({ id: 'ReplenishmentSuggestion' });
export const ReplenishmentPage = z.strictObject({ businessDay: BusinessDay, suggestions: z.array(ReplenishmentSuggestion), nextCursor: NextCursor }).meta({ id: 'ReplenishmentPage' });
export type ReplenishmentPage = z.infer<typeof ReplenishmentPage>;

// Query strings of the inventory API.

/** A query parameter listing values separated by commas ("low,out"), each one checked. */
const commaList = <T extends z.ZodType<unknown, string>>(value: T) =>
  z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(value).min(1));

export const InventoryItemsQuery = z.strictObject({
  status: commaList(z.enum(['low', 'out', 'negative', 'ok'])).optional().meta({ description: 'Comma-separated stock states, e.g. low,out' }),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).regex(/^[\w-]+$/).optional(),
});
export const InventoryAlertsQuery = z.strictObject({
  type: commaList(AlertType).optional().meta({ description: 'Comma-separated alert types' }),
  sku: Sku.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(400).regex(/^[\w-]+$/).optional(),
});
export const InventoryItemQuery = z.strictObject({ movements: z.coerce.number().int().min(0).max(200).default(20) });
export const ReplenishmentQuery = z.strictObject({
  due: z.enum(['today', 'all']).default('all').meta({ description: 'today: only what to order today; all: every SKU with something to suggest from' }),
  sku: Sku.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).regex(/^[\w-]+$/).optional(),
});

// --- sales (trends) ------------------------------------------------------------

const MemberFigures = SalesFigures.extend({ member: z.string(), revision: z.number().int() });

export const SalesSummary = z
  .strictObject({
    storeId: z.string(),
    businessDay: BusinessDay,
    figures: SalesFigures,
    basket: z.strictObject({ items: z.number(), value: z.number() }),
    revision: z.number().int(),
    updatedAt: Timestamp.nullable(),
    byTender: z.array(MemberFigures),
    byCategory: z.array(MemberFigures),
    byTerminal: z.array(MemberFigures),
  })
  .meta({ id: 'SalesSummary' });
export type SalesSummary = z.infer<typeof SalesSummary>;

export const SalesPoint = SalesFigures.extend({ windowStart: Timestamp, revision: z.number().int() }).meta({ id: 'SalesPoint' });
export type SalesPoint = z.infer<typeof SalesPoint>;

export const SalesTimeseries = z
  .strictObject({
    granularity: z.enum(['5m', '1h']),
    dimension: z.enum(['store', 'sku', 'category']),
    member: z.string(),
    /** Windows without sales are absent (their figures are zero). */
    points: z.array(SalesPoint),
  })
  .meta({ id: 'SalesTimeseries' });
export type SalesTimeseries = z.infer<typeof SalesTimeseries>;

export const TopSeller = z.strictObject({ sku: z.string(), units: z.number(), revenue: z.number().int(), transactions: z.number().int() }).meta({ id: 'TopSeller' });
export type TopSeller = z.infer<typeof TopSeller>;

export const TopSellers = z
  .strictObject({
    window: z.enum(['today', 'day', '1h', '7d']),
    businessDay: BusinessDay.nullable(),
    by: z.enum(['units', 'revenue']),
    items: z.array(TopSeller),
  })
  .meta({ id: 'TopSellers' });
export type TopSellers = z.infer<typeof TopSellers>;

export const SalesVelocity = z
  .strictObject({ sku: z.string().nullable(), unitsLastHour: z.number(), baselineUnitsPerHour: z.number(), ratio: z.number().nullable(), at: Timestamp })
  .meta({ id: 'SalesVelocity' });
export type SalesVelocity = z.infer<typeof SalesVelocity>;

export const SalesAnomalies = z.strictObject({ anomalies: z.array(SalesAnomalyV1) }).meta({ id: 'SalesAnomalies' });
export type SalesAnomalies = z.infer<typeof SalesAnomalies>;

// --- quarantine (store sync and HQ) -------------------------------------------

export const QuarantineListing = z
  .strictObject({
    /** Open entries in all (of the filtered store at HQ). */
    open: z.number().int(),
    groups: z.array(
      z.strictObject({ storeId: z.string(), topic: z.string().nullable(), service: z.string(), code: z.string(), count: z.number().int(), oldestAt: Timestamp, newestAt: Timestamp }),
    ),
    entries: z.array(
      z.strictObject({
        id: z.string(),
        storeId: z.string(),
        entryId: z.string(),
        source: QuarantineSource,
        service: z.string(),
        consumerGroup: z.string().nullable(),
        topic: z.string().nullable(),
        partition: z.number().int().nullable(),
        offset: z.string().nullable(),
        outboxId: z.string().nullable(),
        code: z.string(),
        /** The error's text, card-like digit runs masked. */
        message: z.string(),
        transactionId: z.string().nullable(),
        businessDay: BusinessDay.nullable(),
        quarantinedAt: Timestamp,
        status: QuarantineStatus,
        actor: z.string().nullable(),
        reason: z.string().nullable(),
        resolvedAt: Timestamp.nullable(),
        revision: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'QuarantineListing' });
export type QuarantineListing = z.infer<typeof QuarantineListing>;

// --- sync status -----------------------------------------------------------------

export const SyncStatus = z
  .strictObject({
    storeId: z.string(),
    hq: z.strictObject({ url: z.string(), reachable: z.boolean().nullable(), lastError: z.string().nullable(), lastAttemptAt: Timestamp.nullable() }),
    backlog: z.strictObject({ records: z.number().int(), batches: z.number().int(), oldestAt: Timestamp.nullable(), oldestAgeSeconds: z.number().int() }),
    lastSuccessAt: Timestamp.nullable(),
    manifests: z.array(z.strictObject({ businessDay: BusinessDay, status: z.string(), transactions: z.number().int(), sentAt: Timestamp })),
    catalog: z.strictObject({ version: z.number().int(), acked: z.boolean() }).nullable(),
    /** BullMQ job counts by state; null while Redis is away or refuses this store's user. */
    queue: z.record(z.string(), z.number()).nullable(),
    /** Why the queue is null when Redis answers but refuses this store's user. */
    queueError: z.string().nullable(),
  })
  .meta({ id: 'SyncStatus' });
export type SyncStatus = z.infer<typeof SyncStatus>;

// --- HQ chain views ----------------------------------------------------------------

export const StoreDaySales = z
  .strictObject({
    storeId: z.string(),
    businessDay: BusinessDay,
    net: z.number(),
    gross: z.number(),
    discounts: z.number(),
    tax: z.number(),
    transactions: z.number(),
    units: z.number(),
    returns: z.number(),
    revision: z.number().int(),
  })
  .meta({ id: 'StoreDaySales' });
export type StoreDaySales = z.infer<typeof StoreDaySales>;

export const ChainSalesByStore = z.strictObject({ sales: z.array(StoreDaySales) }).meta({ id: 'ChainSalesByStore' });
export type ChainSalesByStore = z.infer<typeof ChainSalesByStore>;

const memberFigures = { net: z.number(), units: z.number(), transactions: z.number(), stores: z.number().int() };
export const ChainSalesBySku = z.strictObject({ businessDay: BusinessDay, sales: z.array(z.strictObject({ sku: z.string(), ...memberFigures })) }).meta({ id: 'ChainSalesBySku' });
export const ChainSalesByCategory = z
  .strictObject({ businessDay: BusinessDay, sales: z.array(z.strictObject({ category: z.string(), ...memberFigures })) })
  .meta({ id: 'ChainSalesByCategory' });

export const StockAcrossStores = z
  .strictObject({
    sku: z.string(),
    /** The chain's total on hand (exact to the thousandth). */
    total: z.number(),
    stores: z.array(z.strictObject({ storeId: z.string(), onHand: z.number(), state: StockState, unitOfMeasure: z.string(), updatedAt: Timestamp })),
  })
  .meta({ id: 'StockAcrossStores' });
export type StockAcrossStores = z.infer<typeof StockAcrossStores>;

/** HQ's copy of every store's replenishment suggestions, as each store computed them (newest per store and SKU). */
export const ChainReplenishment = z
  .strictObject({ suggestions: z.array(ReplenishmentSuggestion), nextCursor: NextCursor })
  .meta({ id: 'ChainReplenishment' });
export type ChainReplenishment = z.infer<typeof ChainReplenishment>;

export const StoreHealth = z
  .strictObject({
    storeId: z.string(),
    status: z.enum(['online', 'offline']),
    lastSeenAt: Timestamp,
    offlineSeconds: z.number().int(),
    lastBatchAt: Timestamp.nullable(),
    backlogRecords: z.number().int(),
    /** Age of the oldest record the store had not uploaded, when it last reported. */
    syncLagSeconds: z.number().int(),
    catalogVersion: z.number().int().nullable(),
  })
  .meta({ id: 'StoreHealth' });
export type StoreHealth = z.infer<typeof StoreHealth>;

export const StoresHealth = z.strictObject({ stores: z.array(StoreHealth) }).meta({ id: 'StoresHealth' });
export type StoresHealth = z.infer<typeof StoresHealth>;

export const ReconciliationDay = z
  .strictObject({
    storeId: z.string(),
    businessDay: BusinessDay,
    status: ReconciliationStatus,
    transactions: z.number().int(),
    openReplays: z.number().int(),
    /** The comparison of the store's manifest with what HQ received (missing ranges, differences). */
    details: z.unknown(),
    receivedAt: Timestamp,
    verifiedAt: Timestamp.nullable(),
  })
  .meta({ id: 'ReconciliationDay' });
export type ReconciliationDay = z.infer<typeof ReconciliationDay>;

export const ChainReconciliation = z.strictObject({ days: z.array(ReconciliationDay) }).meta({ id: 'ChainReconciliation' });
export type ChainReconciliation = z.infer<typeof ChainReconciliation>;

export const CatalogPublished = z.strictObject({ version: z.number().int().positive(), publishedAt: Rfc3339, items: z.number().int() }).meta({ id: 'CatalogPublished' });
export type CatalogPublished = z.infer<typeof CatalogPublished>;

// --- dashboards (GET /v1/dashboard and its live stream) ---------------------------------

/** The store dashboard's figures: stock from inventory, sales from trends' API and the link from sync's (null when that service does not answer). */
export const StoreDashboardSnapshot = z
  .strictObject({
    businessDay: BusinessDay,
    lastWeekDay: BusinessDay,
    summary: SalesFigures.nullable(),
    hourly: z.strictObject({ today: z.array(SalesPoint).nullable(), lastWeek: z.array(SalesPoint).nullable() }),
    top: z.array(TopSeller).nullable(),
    anomalies: z.array(SalesAnomalyV1).nullable(),
    sync: SyncStatus.nullable(),
    stock: z.array(InventoryItem),
    /** What to order today, with why (GET /v1/inventory/replenishment?due=today). */
    replenishment: z.array(ReplenishmentSuggestion),
    alerts: z.array(InventoryAlertV1),
    quarantine: QuarantineListing,
  })
  .meta({ id: 'StoreDashboardSnapshot' });
export type StoreDashboardSnapshot = z.infer<typeof StoreDashboardSnapshot>;

/** HQ's dashboard figures: the last 7 business days' sales by store, store health, reconciliation and quarantine. */
export const HqDashboardSnapshot = z
  .strictObject({
    today: BusinessDay,
    days: z.array(BusinessDay),
    sales: z.array(StoreDaySales),
    health: z.array(StoreHealth),
    reconciliation: z.array(ReconciliationDay),
    quarantine: QuarantineListing,
  })
  .meta({ id: 'HqDashboardSnapshot' });
export type HqDashboardSnapshot = z.infer<typeof HqDashboardSnapshot>;

// --- operations (every service) ---------------------------------------------------------

/** GET /readyz: every dependency's check, how long it took and why it failed. */
export const Readiness = z
  .strictObject({
    status: z.enum(['ready', 'not ready']),
    checks: z.array(z.strictObject({ name: z.string(), ok: z.boolean(), ms: z.number(), error: z.string().optional() })),
  })
  .meta({ id: 'Readiness' });
export type Readiness = z.infer<typeof Readiness>;

// --- loss prevention (trends) ---------------------------------------------------

export const LossPreventionAlertsQuery = z.strictObject({
  businessDay: BusinessDay.optional(),
  dimension: LossDimension.optional(),
  member: Identifier.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const LossPreventionAlerts = z.strictObject({ alerts: z.array(LossPreventionAlertV1) }).meta({ id: 'LossPreventionAlerts' });
export type LossPreventionAlerts = z.infer<typeof LossPreventionAlerts>;

export const LossPreventionFiguresQuery = z.strictObject({
  businessDay: BusinessDay.optional().meta({ description: 'The period ends with this business day; default the latest one booked' }),
  scope: LossScope.default('DAY'),
  dimension: LossDimension.default('OPERATOR'),
});
const SignalFigures = z.strictObject({ count: z.number().int().min(0), amount: z.number().int().min(0), rate: z.number().min(0) });
export const LossPreventionFigures = z
  .strictObject({
    businessDay: BusinessDay.nullable(),
    scope: LossScope,
    dimension: LossDimension,
    members: z.array(
      z.strictObject({
        member: z.string(),
        transactions: z.number().int().min(0),
        signals: z.record(LossSignal, SignalFigures),
      }),
    ),
  })
  .meta({ id: 'LossPreventionFigures' });
export type LossPreventionFigures = z.infer<typeof LossPreventionFigures>;
