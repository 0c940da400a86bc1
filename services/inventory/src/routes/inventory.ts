import { Router, type Request } from 'express';
import { z } from 'zod';
import {
  AdjustmentRequest,
  GoodsReceiptRequest,
  IdempotencyKey,
  InventoryAlertsQuery,
  InventoryItemQuery,
  InventoryItemsQuery,
  ItemSettingsRequest,
  PurchaseOrderRequest,
  ReplenishmentQuery,
  Sku,
  StockCountRequest,
  type InventoryAlertsPage,
  type InventoryItemDetail,
  type InventoryItemsPage,
  type ReplenishmentPage,
  type StockState,
  TransferRequest,
} from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { HttpProblem, allow, jsonBody, parseBody, parseQuery } from '@tillstream/http';
import type { LedgerContext } from '../ledger.ts';
import { bookOperation, bookPurchaseOrder, updateItemSettings, type Operation } from '../operations.ts';
import { businessDayAt, replenishmentSuggestions } from '../suggestions.ts';
import { getItem, latestAlerts, latestMovements, listItems, type AlertCursor } from '../queries.ts';

export interface InventoryRouteDeps {
  pool: Pool;
  ledger: LedgerContext;
  bodyLimitBytes: number;
  /** Called after a write committed (wakes the outbox publisher). */
  published: () => void;
  /** The store's time zone: replenishment's "today". */
  timeZone: string;
  /** The clock (tests inject one); default the system's. */
  now?: () => Date;
}

function skuParam(req: Request): string {
  const parsed = Sku.safeParse(req.params.sku);
  if (!parsed.success) throw new HttpProblem('NOT_FOUND', 'not a valid SKU');
  return parsed.data;
}

const cursorOf = (sku: string) => Buffer.from(sku).toString('base64url');
const skuOfCursor = (cursor: string) => Buffer.from(cursor, 'base64url').toString();

const AlertCursorShape = z.strictObject({ at: z.iso.datetime({ offset: true }), alertId: z.string().min(1).max(128) });
const alertCursorOf = (c: AlertCursor) => Buffer.from(JSON.stringify({ at: c.at, alertId: c.alertId })).toString('base64url');
function alertCursor(cursor: string): AlertCursor {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    decoded = undefined;
  }
  const parsed = AlertCursorShape.safeParse(decoded);
  if (!parsed.success) throw new HttpProblem('BAD_QUERY', 'cursor is not one this API gave out', { errors: [{ pointer: '/query/cursor', message: 'not a cursor from a previous page' }] });
  return parsed.data;
}

/** The inventory part of the store API: store viewers read, store managers book stock (and are recorded as having done so). */
export function inventoryRouter(deps: InventoryRouteDeps): Router {
  const router = Router();
  const body = jsonBody({ limitBytes: deps.bodyLimitBytes });
  const viewer = allow('store-viewer');
  const manager = allow('store-manager');

  router.get('/v1/inventory/items', viewer, async (req, res) => {
    const query = parseQuery(InventoryItemsQuery, req);
    const states = query.status?.map((s) => s.toUpperCase() as StockState);
    const page = await listItems(deps.pool, { ...(states ? { states } : {}), ...(query.cursor ? { after: skuOfCursor(query.cursor) } : {}), limit: query.limit });
    const last = page.items[page.items.length - 1];
    res.json({ items: page.items, nextCursor: page.more && last ? cursorOf(last.sku) : null } satisfies InventoryItemsPage);
  });

  // The alert feed: what the ledger raised, newest first (the store dashboard's live alerts).
  router.get('/v1/inventory/alerts', viewer, async (req, res) => {
    const query = parseQuery(InventoryAlertsQuery, req);
    const page = await latestAlerts(deps.pool, {
      ...(query.type ? { types: query.type } : {}),
      ...(query.sku ? { sku: query.sku } : {}),
      ...(query.cursor ? { before: alertCursor(query.cursor) } : {}),
      limit: query.limit,
    });
    const last = page.alerts[page.alerts.length - 1];
    res.json({ alerts: page.alerts, nextCursor: page.more && last ? alertCursorOf(last) : null } satisfies InventoryAlertsPage);
  });

  router.get('/v1/inventory/items/:sku', viewer, async (req, res) => {
    const sku = skuParam(req);
    const query = parseQuery(InventoryItemQuery, req);
    const item = await getItem(deps.pool, sku);
    if (!item) throw new HttpProblem('NOT_FOUND', 'this store has no such SKU');
    res.json({ ...item, movements: await latestMovements(deps.pool, sku, query.movements) } satisfies InventoryItemDetail);
  });

  router.put('/v1/inventory/items/:sku/settings', manager, ...body, async (req, res) => {
    const sku = skuParam(req);
    await updateItemSettings(deps.pool, deps.ledger, sku, parseBody(ItemSettingsRequest, req), req.principal!.name);
    deps.published();
    res.json(await getItem(deps.pool, sku));
  });

  // What to order, when, and why: every SKU with a forecast or a reorder point (replenishment.ts), in SKU order.
  router.get('/v1/inventory/replenishment', viewer, async (req, res) => {
    const query = parseQuery(ReplenishmentQuery, req);
    const now = (deps.now ?? (() => new Date()))();
    const today = businessDayAt(now, deps.timeZone);
    const all = await replenishmentSuggestions(deps.pool, { storeId: deps.ledger.storeId, today, now, dueToday: query.due === 'today', ...(query.sku ? { sku: query.sku } : {}) });
    const after = query.cursor ? skuOfCursor(query.cursor) : undefined;
    const rest = after === undefined ? all : all.filter((s) => Buffer.compare(Buffer.from(s.sku), Buffer.from(after)) > 0);
    const page = rest.slice(0, query.limit);
    const last = page[page.length - 1];
    res.json({ businessDay: today, suggestions: page, nextCursor: rest.length > query.limit && last ? cursorOf(last.sku) : null } satisfies ReplenishmentPage);
  });

  const idempotencyKey = (req: Request): string => {
    const key = IdempotencyKey.safeParse(req.get('idempotency-key'));
    if (!key.success) {
      throw new HttpProblem('IDEMPOTENCY_KEY_REQUIRED', 'send an Idempotency-Key header (1-128 letters, digits, ".", ":", "-", "_", never 13 or more digits in a row), unique per operation and the same when retrying it');
    }
    return key.data;
  };

  // Expected receipts: on order until a goods receipt names the order.
  router.post('/v1/inventory/orders', manager, ...body, async (req, res) => {
    const key = idempotencyKey(req);
    const booked = await bookPurchaseOrder(deps.pool, key, parseBody(PurchaseOrderRequest, req), req.principal!.name);
    if (booked.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(booked.replayed ? 200 : 201).json(booked.response);
  });

  const movement = (path: string, kind: Operation['kind'], schema: z.ZodType) => {
    router.post(path, manager, ...body, async (req, res) => {
      const key = idempotencyKey(req);
      const booked = await bookOperation(deps.pool, deps.ledger, key, { kind, body: parseBody(schema, req) } as Operation, req.principal!.name);
      if (booked.replayed) {
        res.setHeader('Idempotent-Replayed', 'true');
        res.status(200).json(booked.response);
        return;
      }
      deps.published();
      res.status(201).json(booked.response);
    });
  };
  movement('/v1/inventory/receipts', 'RECEIPT', GoodsReceiptRequest);
  movement('/v1/inventory/counts', 'COUNT', StockCountRequest);
  movement('/v1/inventory/adjustments', 'ADJUSTMENT', AdjustmentRequest);
  movement('/v1/inventory/transfers', 'TRANSFER', TransferRequest);
  return router;
}
