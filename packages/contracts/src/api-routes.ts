import { z } from 'zod';
import { IngestBatchResponse, IngestReceipt, MAX_BATCH_TRANSACTIONS } from './ingest-api.ts';
import { ForecastDemandV1, ForecastTop } from './forecast.ts';
import { AdjustmentRequest, GoodsReceiptRequest, ItemSettingsRequest, PurchaseOrderRequest, StockCountRequest, TransferRequest } from './inventory.ts';
import { BusinessDay, Identifier, PosTransactionV1, Rfc3339, Sku } from './pos-transaction.ts';
import { QuarantineSource, QuarantineStatus } from './quarantine.ts';
import {
  CatalogPublished,
  ChainReconciliation,
  ChainReplenishment,
  ChainSalesByCategory,
  ChainSalesBySku,
  ChainSalesByStore,
  InventoryAlertsPage,
  InventoryAlertsQuery,
  InventoryItem,
  InventoryItemDetail,
  InventoryItemQuery,
  InventoryItemsPage,
  InventoryItemsQuery,
  PurchaseOrderResult,
  LossPreventionAlerts,
  LossPreventionAlertsQuery,
  LossPreventionFigures,
  LossPreventionFiguresQuery,
  QuarantineListing,
  ReplenishmentPage,
  ReplenishmentQuery,
  SalesAnomalies,
  SalesSummary,
  SalesTimeseries,
  SalesVelocity,
  StockAcrossStores,
  StockOperationResult,
  StoresHealth,
  SyncStatus,
  TopSellers,
} from './read-api.ts';
import { BatchResultV1, CatalogAckV1, CatalogPublishRequest, CatalogV1, DayManifestV1, HeartbeatV1, ManifestResultV1, ReconciliationStatus, ReplayRequestV1, SyncBatchV1, SyncLimitsV1, HqReadsV1 } from './sync.ts';

/** One answer of a documented operation. */
export interface ApiResponse {
  description: string;
  /** The body's schema (JSON unless `contentType` says otherwise); none for an empty body. */
  schema?: z.ZodType;
  contentType?: string;
  /** Response headers by name, with what they mean. */
  headers?: Record<string, string>;
}

/**
 * One route of an HTTP API as its OpenAPI document shows it. Who may call it
 * is not repeated here: the document takes it from the route's own `allow`
 * or `anonymous` guard (listRoutes), so it cannot drift from what is enforced.
 * The error answers its guard, query, body and path imply (401/403, 400,
 * 413/415/422, 404) are added by the document builder.
 */
export interface ApiOperation {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The express path ("/v1/inventory/items/:sku"). */
  path: string;
  summary: string;
  description?: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Request headers the route reads, with what they mean ("Idempotency-Key"). */
  headers?: Record<string, { description: string; required: boolean }>;
  /** The successful answers by status. */
  responses: Record<number, ApiResponse>;
  /** Problem codes (see PROBLEMS in @tillstream/http) it answers beyond those the builder adds. */
  problems?: readonly string[];
}

const json = (description: string, schema: z.ZodType, headers?: Record<string, string>): ApiResponse => ({ description, schema, ...(headers ? { headers } : {}) });
const REPLAYED = { 'Idempotent-Replayed': '"true" when this is the stored answer of an earlier request with the same key and body' };

// --- ingest --------------------------------------------------------------------

const PosTransaction = PosTransactionV1.meta({ id: 'PosTransactionV1', description: 'A POS transaction, contract v1 (ARTS POSLog-like); money in minor units' });

export const ingestApi: readonly ApiOperation[] = [
  {
    method: 'POST',
    path: '/v1/transactions',
    summary: 'Capture one POS transaction',
    description: 'A 2xx means the store broker acknowledged it (acks=all). The transactionId is the idempotency key.',
    body: PosTransaction,
    responses: { 201: json('Captured: the broker acknowledged it', IngestReceipt), 200: json('Already captured with this body: the original receipt', IngestReceipt, REPLAYED) },
    problems: ['CARD_NUMBER_DETECTED', 'IDEMPOTENCY_IN_FLIGHT', 'IDEMPOTENCY_KEY_REUSED', 'UNPROCESSABLE', 'RATE_LIMITED', 'BROKER_UNAVAILABLE', 'OVERLOADED'],
  },
  {
    method: 'POST',
    path: '/v1/transactions/batch',
    summary: "Capture a terminal's offline backlog: a result per item",
    body: z.strictObject({ transactions: z.array(PosTransaction).min(1).max(MAX_BATCH_TRANSACTIONS) }),
    responses: { 200: json('Each item with its own status (201, 200, 4xx, 503) and receipt or problem', IngestBatchResponse) },
    problems: ['CARD_NUMBER_DETECTED', 'RATE_LIMITED', 'BROKER_UNAVAILABLE', 'OVERLOADED'],
  },
];

// --- store API: inventory ----------------------------------------------------------

const SkuParams = z.strictObject({ sku: Sku });
const IDEMPOTENCY_KEY = {
  'Idempotency-Key': { description: 'Unique per operation and the same when retrying it (1-128 letters, digits, ".", ":", "-", "_")', required: true },
};
const stockOperation = (path: string, summary: string, body: z.ZodType): ApiOperation => ({
  method: 'POST',
  path,
  summary,
  body,
  headers: IDEMPOTENCY_KEY,
  responses: { 201: json('Booked', StockOperationResult), 200: json('Already booked with this key and body: the original result', StockOperationResult, REPLAYED) },
  problems: ['IDEMPOTENCY_KEY_REQUIRED', 'IDEMPOTENCY_IN_FLIGHT', 'IDEMPOTENCY_KEY_REUSED', 'UNPROCESSABLE'],
});

export const inventoryApi: readonly ApiOperation[] = [
  { method: 'GET', path: '/v1/inventory/items', summary: 'Stock levels, by SKU, a page at a time', query: InventoryItemsQuery, responses: { 200: json('A page of items', InventoryItemsPage) } },
  { method: 'GET', path: '/v1/inventory/alerts', summary: 'The stock alert feed, newest first', query: InventoryAlertsQuery, responses: { 200: json('A page of alerts', InventoryAlertsPage) } },
  {
    method: 'GET',
    path: '/v1/inventory/items/:sku',
    summary: "One item's level, settings and latest movements",
    params: SkuParams,
    query: InventoryItemQuery,
    responses: { 200: json('The item', InventoryItemDetail) },
  },
  {
    method: 'PUT',
    path: '/v1/inventory/items/:sku/settings',
    summary: "Set an item's reorder point, reorder quantity and maximum, and its replenishment settings (lead time, review period, pack size, minimum order, service level, reorder mode)",
    params: SkuParams,
    body: ItemSettingsRequest,
    responses: { 200: json('The item with its new settings', InventoryItem) },
    problems: ['UNPROCESSABLE'],
  },
  stockOperation('/v1/inventory/receipts', 'Book a goods receipt (naming a purchase order closes it)', GoodsReceiptRequest),
  {
    method: 'POST',
    path: '/v1/inventory/orders',
    summary: 'Book a purchase order: expected receipts, on order until a goods receipt names it',
    body: PurchaseOrderRequest,
    headers: IDEMPOTENCY_KEY,
    responses: { 201: json('Booked', PurchaseOrderResult), 200: json('Already booked with this key and body: the original result', PurchaseOrderResult, REPLAYED) },
    problems: ['IDEMPOTENCY_KEY_REQUIRED', 'IDEMPOTENCY_IN_FLIGHT', 'IDEMPOTENCY_KEY_REUSED', 'UNPROCESSABLE'],
  },
  {
    method: 'GET',
    path: '/v1/inventory/replenishment',
    summary: 'Suggested orders per SKU (quantity, date) with why: forecast demand, safety stock, on hand, on order',
    query: ReplenishmentQuery,
    responses: { 200: json('A page of suggestions, in SKU order', ReplenishmentPage) },
  },
  stockOperation('/v1/inventory/counts', 'Book a stock count', StockCountRequest),
  stockOperation('/v1/inventory/adjustments', 'Book an adjustment (damage, theft, expiry, found, correction)', AdjustmentRequest),
  stockOperation('/v1/inventory/transfers', 'Book a transfer to or from another store', TransferRequest),
];

// --- store API: sales (trends) -----------------------------------------------------------

/** Most points one time-series request returns: a week of 5-minute windows. */
export const MAX_TIMESERIES_POINTS = 7 * 24 * 12;

export const SalesSummaryQuery = z.strictObject({ businessDay: BusinessDay.optional() });
export const SalesTimeseriesQuery = z
  .strictObject({
    granularity: z.enum(['5m', '1h']),
    from: Rfc3339,
    to: Rfc3339,
    sku: Sku.optional(),
    category: z.string().min(1).max(64).optional(),
  })
  .superRefine((q, ctx) => {
    const span = Date.parse(q.to) - Date.parse(q.from);
    if (span <= 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
    const points = span / (q.granularity === '5m' ? 300_000 : 3600_000);
    if (points > MAX_TIMESERIES_POINTS) ctx.addIssue({ code: 'custom', path: ['to'], message: `the range holds more than ${MAX_TIMESERIES_POINTS} windows; narrow it or use 1h` });
    if (q.sku && q.category) ctx.addIssue({ code: 'custom', path: ['category'], message: 'give sku or category, not both' });
  });
export const TopSellersQuery = z
  .strictObject({
    window: z.enum(['today', '1h', '7d']).optional(),
    businessDay: BusinessDay.optional(),
    by: z.enum(['units', 'revenue']).default('units'),
    limit: z.coerce.number().int().min(1).max(100).default(10),
  })
  .superRefine((q, ctx) => {
    if (q.window === '1h' && q.businessDay) ctx.addIssue({ code: 'custom', path: ['businessDay'], message: 'does not go with window=1h' });
  });
export const SalesAnomaliesQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50), since: Rfc3339.optional() });
export const SalesVelocityQuery = z.strictObject({ sku: Sku.optional() });

export const salesApi: readonly ApiOperation[] = [
  { method: 'GET', path: '/v1/sales/summary', summary: "A business day's figures, by tender, category and terminal", query: SalesSummaryQuery, responses: { 200: json('The day', SalesSummary) } },
  { method: 'GET', path: '/v1/sales/timeseries', summary: 'Sales by 5-minute or hourly window, for the store, a SKU or a category', query: SalesTimeseriesQuery, responses: { 200: json('The windows with sales', SalesTimeseries) } },
  { method: 'GET', path: '/v1/sales/top', summary: 'Top sellers by units or revenue: today, a business day, the last hour or 7 days', query: TopSellersQuery, responses: { 200: json('The top sellers', TopSellers) } },
  { method: 'GET', path: '/v1/sales/velocity', summary: 'Units in the last hour against the same hour of the previous 4 weeks', query: SalesVelocityQuery, responses: { 200: json('The velocity', SalesVelocity) } },
  { method: 'GET', path: '/v1/sales/anomalies', summary: 'Sales anomalies detected, newest first', query: SalesAnomaliesQuery, responses: { 200: json('The anomalies', SalesAnomalies) } },
];

// --- store API: demand forecasts (trends) ---------------------------------------------------

export const ForecastTopQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(10) });

/** Served by trends, and through the store API's port like /v1/sales (store-viewer and up). */
export const forecastApi: readonly ApiOperation[] = [
  {
    method: 'GET',
    path: '/v1/forecast/skus/:sku',
    summary: "A SKU's demand forecast: the next 7 days, daily and hourly, with prediction intervals and the method's backtest error",
    params: SkuParams,
    responses: { 200: json('The latest forecast (as published on forecast.demand.v1)', ForecastDemandV1) },
  },
  { method: 'GET', path: '/v1/forecast/top', summary: 'The SKUs with the most forecast units over the next 7 days', query: ForecastTopQuery, responses: { 200: json('SKUs, most first', ForecastTop) } },
];

// --- store API: loss prevention (trends) ------------------------------------------------

/** Sensitive staff data: a store manager's routes only (the trends service guards them; the store API's front forwards them under the same guard). */
export const lossPreventionApi: readonly ApiOperation[] = [
  {
    method: 'GET',
    path: '/v1/loss-prevention/alerts',
    summary: 'Loss-prevention alerts (operators and terminals far above their peers or their own history), newest business day first',
    query: LossPreventionAlertsQuery,
    responses: { 200: json('The alerts', LossPreventionAlerts) },
  },
  {
    method: 'GET',
    path: '/v1/loss-prevention/figures',
    summary: "Each operator's (or terminal's) transactions handled and every signal's count, amount and rate over a business day or the 7 days ending with it",
    query: LossPreventionFiguresQuery,
    responses: { 200: json('The figures', LossPreventionFigures) },
  },
];

// --- store API: sync ---------------------------------------------------------------

export const StoreQuarantineQuery = z.strictObject({
  status: z.union([QuarantineStatus, z.literal('all')]).default('open'),
  source: QuarantineSource.optional(),
  service: z.string().min(1).max(64).optional(),
  topic: z.string().min(1).max(249).optional(),
  code: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const syncApi: readonly ApiOperation[] = [
  { method: 'GET', path: '/v1/sync/status', summary: 'How far behind HQ this store is, and whether HQ answers', responses: { 200: json('The link to HQ', SyncStatus) } },
  {
    method: 'GET',
    path: '/v1/sync/quarantine',
    summary: "The store's quarantine: dead letters and HQ's refusals, counted and listed",
    query: StoreQuarantineQuery,
    responses: { 200: json('Counts and entries (error texts with card-like digits masked)', QuarantineListing) },
  },
];

// --- HQ ------------------------------------------------------------------------------

export const ChainSalesQuery = z.strictObject({ storeId: Identifier.optional(), from: BusinessDay.optional(), to: BusinessDay.optional(), businessDay: BusinessDay.optional() });
export const ChainMemberQuery = z.strictObject({ businessDay: BusinessDay, storeId: Identifier.optional(), limit: z.coerce.number().int().min(1).max(1000).default(50) });
export const ChainQuarantineQuery = z.strictObject({
  storeId: Identifier.optional(),
  status: z.union([QuarantineStatus, z.literal('all')]).default('open'),
  source: QuarantineSource.optional(),
  service: z.string().min(1).max(64).optional(),
  code: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
export const ChainReplenishmentQuery = z.strictObject({
  storeId: Identifier.optional(),
  sku: Sku.optional(),
  due: z.enum(['today', 'all']).default('today').meta({ description: 'today: what each store is to order on its business day (default); all: every suggestion' }),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  cursor: z.string().max(400).regex(/^[\w-]+$/).optional(),
});
export const ChainReconciliationQuery = z.strictObject({ storeId: Identifier.optional(), businessDay: BusinessDay.optional(), status: ReconciliationStatus.optional() });

export const ChainLossPreventionQuery = z.strictObject({
  storeId: Identifier.optional(),
  businessDay: BusinessDay.optional(),
  member: Identifier.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const StoreParams = z.strictObject({ storeId: Identifier });
const storeRoute = (method: ApiOperation['method'], path: string, summary: string, rest: Omit<ApiOperation, 'method' | 'path' | 'summary'>): ApiOperation => ({
  method,
  path: `/v1/stores/:storeId${path}`,
  summary,
  params: StoreParams,
  ...rest,
});

export const hqApi: readonly ApiOperation[] = [
  storeRoute('GET', '/limits', 'What one upload may carry (the store cuts its batches below it)', { responses: { 200: json('The limits', SyncLimitsV1) } }),
  storeRoute('GET', '/reads', 'What HQ reads of the uploads (the store uploads only the sales granularities named)', { responses: { 200: json('What HQ reads', HqReadsV1) } }),
  storeRoute('POST', '/batches', 'Upload a batch of store records; applied once per batch id', {
    body: SyncBatchV1,
    headers: { 'Idempotency-Key': { description: 'The batch id of the body', required: true } },
    responses: { 201: json('Applied', BatchResultV1), 200: json('Applied before: the original result', BatchResultV1, REPLAYED) },
    problems: ['IDEMPOTENCY_KEY_REQUIRED', 'IDEMPOTENCY_IN_FLIGHT', 'IDEMPOTENCY_KEY_REUSED', 'UNPROCESSABLE', 'CARD_NUMBER_DETECTED', 'BROKER_UNAVAILABLE'],
  }),
  storeRoute('POST', '/manifests', "Send a business day's manifest; HQ answers with what it still misses", {
    body: DayManifestV1,
    responses: { 202: json('Received; the comparison so far', ManifestResultV1) },
  }),
  storeRoute('POST', '/heartbeat', "Report the store's backlog (HQ's store health)", { body: HeartbeatV1, responses: { 204: { description: 'Recorded' } } }),
  storeRoute('GET', '/replay-requests', 'The open replay requests for this store', { responses: { 200: json('Ranges to replay', z.strictObject({ replayRequests: z.array(ReplayRequestV1) }).meta({ id: 'ReplayRequests' })) } }),
  storeRoute('GET', '/catalog', "HQ's latest catalog version", { responses: { 200: json('The catalog', CatalogV1) } }),
  storeRoute('POST', '/catalog/acks', 'Acknowledge that a catalog version is applied', { body: CatalogAckV1, responses: { 204: { description: 'Recorded' } }, problems: ['UNPROCESSABLE'] }),
  { method: 'GET', path: '/v1/sales/stores', summary: 'Sales by store and business day', query: ChainSalesQuery, responses: { 200: json('Store days', ChainSalesByStore) } },
  { method: 'GET', path: '/v1/sales/skus', summary: "A business day's sales by SKU over the chain or one store", query: ChainMemberQuery, responses: { 200: json('SKUs, best first', ChainSalesBySku) } },
  { method: 'GET', path: '/v1/sales/categories', summary: "A business day's sales by category over the chain or one store", query: ChainMemberQuery, responses: { 200: json('Categories, best first', ChainSalesByCategory) } },
  { method: 'GET', path: '/v1/stock/:sku', summary: "A SKU's stock in every store", params: SkuParams, responses: { 200: json('Stock by store', StockAcrossStores) } },
  {
    method: 'GET',
    path: '/v1/replenishment',
    summary: "Every store's suggested orders (quantity, date, why), newest per store and SKU",
    query: ChainReplenishmentQuery,
    responses: { 200: json('Suggestions by store and SKU', ChainReplenishment) },
  },
  { method: 'GET', path: '/v1/stores/health', summary: "Each store's link: last seen, backlog, sync lag, catalog version", responses: { 200: json('Stores', StoresHealth) } },
  { method: 'GET', path: '/v1/reconciliation', summary: "Each store day's completeness", query: ChainReconciliationQuery, responses: { 200: json('Store days', ChainReconciliation) } },
  { method: 'GET', path: '/v1/quarantine', summary: "Every store's quarantine and HQ's own dead letters", query: ChainQuarantineQuery, responses: { 200: json('Counts and entries', QuarantineListing) } },
  { method: 'POST', path: '/v1/catalog', summary: 'Publish a new catalog version (prices, reorder settings)', body: CatalogPublishRequest, responses: { 201: json('Published', CatalogPublished) } },
  {
    method: 'GET',
    path: '/v1/loss-prevention/alerts',
    summary: "Every store's loss-prevention alerts, newest business day first (staff data: HQ admins only)",
    query: ChainLossPreventionQuery,
    responses: { 200: json('The alerts', LossPreventionAlerts) },
  },
];

// --- dashboards (served by inventory for the store, by HQ) ---------------------------------

/** A dashboard's routes (packages/dashboard), its figures shaped by `snapshot`. */
export function dashboardApi(snapshot: z.ZodType): readonly ApiOperation[] {
  const page = (description: string): ApiResponse => ({ description, contentType: 'text/html', schema: z.string() });
  return [
    { method: 'GET', path: '/', summary: 'The dashboard page for a signed-in viewer, else the sign-in form', responses: { 200: page('The page or the sign-in form'), 403: page('Signed in, but not as a viewer of this site') } },
    {
      method: 'POST',
      path: '/v1/session',
      summary: 'Sign in: a token (form field "token") for a session cookie',
      description: 'The body is an application/x-www-form-urlencoded form of at most 4 KiB; anything else is answered as no token, with the sign-in form again.',
      responses: {
        303: { description: 'Signed in: the session cookie is set, on to /', headers: { 'Set-Cookie': 'The session cookie' } },
        401: page('No token (not a form, or over 4 KiB), or an unknown or revoked one: the sign-in form again'),
        403: page('Not a viewer of this site'),
      },
    },
    { method: 'POST', path: '/v1/session/end', summary: 'Sign out: ends the session', responses: { 303: { description: 'Signed out, on to /' } } },
    {
      method: 'GET',
      path: '/dashboard/:file',
      summary: "The pages' scripts and styles",
      params: z.strictObject({ file: z.string() }),
      responses: { 200: { description: 'The file (JavaScript or CSS)', contentType: 'text/*', schema: z.string() } },
    },
    { method: 'GET', path: '/v1/dashboard', summary: 'The figures the page shows', responses: { 200: json('The latest snapshot', snapshot) } },
    {
      method: 'GET',
      path: '/v1/dashboard/events',
      summary: 'The figures as a live stream (server-sent events, one snapshot per event)',
      responses: { 200: { description: 'An event stream', contentType: 'text/event-stream', schema: z.string() } },
      problems: ['RATE_LIMITED'],
    },
  ];
}
