import { Router, type Request } from 'express';
import { BatchId, CatalogAckV1, DayManifestV1, HeartbeatV1, Identifier, MAX_BATCH_RECORDS, SyncBatchV1, type SyncLimits } from '@tillstream/contracts';
import type { Pool } from '@tillstream/db';
import { HttpProblem, allow, cardNumberProblem, findCardNumber, jsonBody, parseBody, pointer } from '@tillstream/http';
import type { TypedProducer } from '@tillstream/kafka';
import { applyBatch, touchStore } from '../batches.ts';
import { acknowledgeCatalog, latestCatalog } from '../catalog.ts';
import { openReplayRequests, receiveManifest } from '../reconcile.ts';

export interface StoreRouteDeps {
  pool: Pool;
  producer: TypedProducer;
  batchLimitBytes: number;
}

/** What stores call, each authenticated with its own token: a store reads and writes only under its own id (403 otherwise). */
export function storeRouter(deps: StoreRouteDeps): Router {
  const router = Router();
  const auth = allow('store', {
    check: (store, req: Request) =>
      req.params.storeId === store.storeId ? undefined : new HttpProblem('FORBIDDEN', `this token belongs to store ${store.storeId}; it may not act for store ${String(req.params.storeId)}`),
  });
  const storeParam = (req: Request, _res: unknown, next: (err?: unknown) => void) =>
    next(Identifier.safeParse(req.params.storeId).success ? undefined : new HttpProblem('NOT_FOUND', 'not a valid store id'));
  const small = jsonBody({ limitBytes: 1024 * 1024 });
  // A batch is machine-made: its ids ("S001-13001-15000") and the derived records' ids (epoch
  // milliseconds) are long digit runs, one in ten Luhn-valid. The transactions in it, what
  // terminals typed, are scanned for card numbers exactly as ingest scanned them.
  // Their text was taken under the v1 contract, possibly before the edge refused every control
  // character: HQ refuses only what it cannot store as sent (NUL, lone surrogates).
  const large = jsonBody({ limitBytes: deps.batchLimitBytes, cardNumbers: false, text: 'storable' });

  // What one upload may carry: the store's sync reads it and cuts its batches below it.
  router.get('/v1/stores/:storeId/limits', storeParam, auth, (_req, res) => {
    const limits: SyncLimits = { batchBodyBytes: deps.batchLimitBytes, batchRecords: MAX_BATCH_RECORDS };
    res.json(limits);
  });

  router.post('/v1/stores/:storeId/batches', storeParam, auth, ...large, async (req, res) => {
    const key = req.header('idempotency-key');
    if (!key) throw new HttpProblem('IDEMPOTENCY_KEY_REQUIRED', 'send the batch id as the Idempotency-Key header');
    const batch = parseBody(SyncBatchV1, req);
    for (const [i, record] of batch.records.entries()) {
      const card = record.stream === 'transaction' ? findCardNumber(record.data) : undefined;
      if (card) throw cardNumberProblem(['records', i, 'data', ...card]);
    }
    if (!BatchId.safeParse(key).success || key !== batch.batchId) {
      throw new HttpProblem('UNPROCESSABLE', 'the Idempotency-Key must equal the batchId of the body', { errors: [{ pointer: pointer(['batchId']), message: `must equal the Idempotency-Key "${key}"` }] });
    }
    if (!batch.batchId.startsWith(`${req.principal!.storeId}-`)) {
      throw new HttpProblem('UNPROCESSABLE', 'a batch id starts with its store id', { errors: [{ pointer: pointer(['batchId']), message: `must start with "${req.principal!.storeId}-"` }] });
    }
    const applied = await applyBatch(deps.pool, deps.producer, req.principal!.storeId!, batch);
    if (applied.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(applied.replayed ? 200 : 201).json(applied.result);
  });

  router.post('/v1/stores/:storeId/manifests', storeParam, auth, ...small, async (req, res) => {
    const manifest = parseBody(DayManifestV1, req);
    if (manifest.storeId !== req.principal!.storeId) throw new HttpProblem('FORBIDDEN', 'a store sends only its own manifests', { errors: [{ pointer: '/storeId', message: `must be ${req.principal!.storeId}` }] });
    res.status(202).json(await receiveManifest(deps.pool, manifest));
  });

  router.post('/v1/stores/:storeId/heartbeat', storeParam, auth, ...small, async (req, res) => {
    const beat = parseBody(HeartbeatV1, req);
    await touchStore(deps.pool, req.principal!.storeId!, beat.backlog, false);
    res.status(204).end();
  });

  router.get('/v1/stores/:storeId/replay-requests', storeParam, auth, async (req, res) => {
    res.json({ replayRequests: await openReplayRequests(deps.pool, req.principal!.storeId!) });
  });

  router.get('/v1/stores/:storeId/catalog', storeParam, auth, async (_req, res) => {
    const catalog = await latestCatalog(deps.pool);
    if (!catalog) throw new HttpProblem('NOT_FOUND', 'HQ has not published a catalog yet');
    res.json(catalog);
  });

  router.post('/v1/stores/:storeId/catalog/acks', storeParam, auth, ...small, async (req, res) => {
    const ack = parseBody(CatalogAckV1, req);
    if (!(await acknowledgeCatalog(deps.pool, req.principal!.storeId!, ack.version))) throw new HttpProblem('UNPROCESSABLE', `catalog version ${ack.version} does not exist`);
    res.status(204).end();
  });

  return router;
}
