import { Router, type Request } from 'express';
import { z } from 'zod';
import {
  AdjustmentRequest,
  GoodsReceiptRequest,
  ItemSettingsRequest,
  Sku,
  StockCountRequest,
  type StockState,
  TransferRequest,
} from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { HttpProblem, jsonBody, parseBody, parseQuery } from '@tillstream/http';
import type { LedgerContext } from '../ledger.ts';
import { bookOperation, updateItemSettings, type Operation } from '../operations.ts';
import { getItem, latestMovements, listItems } from '../queries.ts';

export interface InventoryRouteDeps {
  pool: Pool;
  ledger: LedgerContext;
  bodyLimitBytes: number;
  /** Called after a write committed (wakes the outbox publisher). */
  published: () => void;
}

const IdempotencyKey = z.string().min(1).max(128).regex(/^[\w.:-]+$/);

const ListQuery = z.strictObject({
  status: z
    .string()
    .transform((s) => s.split(','))
    .pipe(z.array(z.enum(['low', 'out', 'negative', 'ok'])).min(1))
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).regex(/^[\w-]+$/).optional(),
});

const ItemQuery = z.strictObject({ movements: z.coerce.number().int().min(0).max(200).default(20) });

function skuParam(req: Request): string {
  const parsed = Sku.safeParse(req.params.sku);
  if (!parsed.success) throw new HttpProblem('NOT_FOUND', 'not a valid SKU');
  return parsed.data;
}

const cursorOf = (sku: string) => Buffer.from(sku).toString('base64url');
const skuOfCursor = (cursor: string) => Buffer.from(cursor, 'base64url').toString();

/** The inventory part of the store API. */
export function inventoryRouter(deps: InventoryRouteDeps): Router {
  const router = Router();
  const body = jsonBody({ limitBytes: deps.bodyLimitBytes });

  router.get('/v1/inventory/items', async (req, res) => {
    const query = parseQuery(ListQuery, req);
    const states = query.status?.map((s) => s.toUpperCase() as StockState);
    const page = await listItems(deps.pool, { ...(states ? { states } : {}), ...(query.cursor ? { after: skuOfCursor(query.cursor) } : {}), limit: query.limit });
    const last = page.items[page.items.length - 1];
    res.json({ items: page.items, nextCursor: page.more && last ? cursorOf(last.sku) : null });
  });

  router.get('/v1/inventory/items/:sku', async (req, res) => {
    const sku = skuParam(req);
    const query = parseQuery(ItemQuery, req);
    const item = await getItem(deps.pool, sku);
    if (!item) throw new HttpProblem('NOT_FOUND', 'this store has no such SKU');
    res.json({ ...item, movements: await latestMovements(deps.pool, sku, query.movements) });
  });

  router.put('/v1/inventory/items/:sku/settings', ...body, async (req, res) => {
    const sku = skuParam(req);
    await updateItemSettings(deps.pool, deps.ledger, sku, parseBody(ItemSettingsRequest, req));
    deps.published();
    res.json(await getItem(deps.pool, sku));
  });

  const movement = (path: string, kind: Operation['kind'], schema: z.ZodType) => {
    router.post(path, ...body, async (req, res) => {
      const key = IdempotencyKey.safeParse(req.get('idempotency-key'));
      if (!key.success) {
        throw new HttpProblem('IDEMPOTENCY_KEY_REQUIRED', 'send an Idempotency-Key header (1-128 letters, digits, ".", ":", "-", "_"), unique per operation and the same when retrying it');
      }
      const booked = await bookOperation(deps.pool, deps.ledger, key.data, { kind, body: parseBody(schema, req) } as Operation);
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
