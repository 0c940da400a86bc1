import { Router, type Request } from 'express';
import { BatchId, CatalogAckV1, DayManifestV1, HeartbeatV1, Identifier, MAX_BATCH_RECORDS, SyncBatchV1, type HqReads, type SyncLimits } from '@tillstream/contracts';
import { classifyPgError, type Pool } from '@tillstream/db';
import { HttpProblem, allow, cardNumberProblem, findCardNumber, jsonBody, parseBody, pointer } from '@tillstream/http';
import type { RequestHandler } from 'express';
import { applyBatch, touchStore, type BatchProducer } from '../batches.ts';
import { acknowledgeCatalog, latestCatalog } from '../catalog.ts';
import { READ_DIMENSIONS, READ_GRANULARITIES } from '../queries.ts';
import { openReplayRequests, receiveManifest } from '../reconcile.ts';
import { storeCertificateAuth } from './store-certificates.ts';

export interface StoreRouteDeps {
  pool: Pool;
  producer: BatchProducer;
  batchLimitBytes: number;
  /** How long a batch being applied stays claimed (BATCH_CLAIM_LEASE_MS). */
  batchClaimLeaseMs?: number;
  /** First on the upload route: refuses a batch (503, Retry-After) before its body is read while HQ is saturated. */
  admission?: RequestHandler;
  /** How long the revoked client certificate list is trusted; bounds how long a revoked certificate works. */
  tokenCacheMs: number;
}

/**
 * Fields of uploaded records that hold ids the store made, each checked by
 * its schema: an alert's "<sku>:<movement id>" (the SKU follows the identifier
 * rule), a movement id and a quarantine entry's id, offset and outbox id
 * (digits only, at most 19).
 */
const MACHINE_IDS: ReadonlySet<string> = new Set(['alertId', 'id', 'entryId', 'offset', 'outboxId']);

/** What stores call, each authenticated with its own token: a store reads and writes only under its own id (403 otherwise). */
export function storeRouter(deps: StoreRouteDeps): Router {
  const router = Router();
  const auth = allow('store', {
    check: (store, req: Request) =>
      req.params.storeId === store.storeId ? undefined : new HttpProblem('FORBIDDEN', `this token belongs to store ${store.storeId}; it may not act for store ${String(req.params.storeId)}`),
  });
  const storeParam = (req: Request, _res: unknown, next: (err?: unknown) => void) =>
    next(Identifier.safeParse(req.params.storeId).success ? undefined : new HttpProblem('NOT_FOUND', 'not a valid store id'));
  // Mutual TLS first: the store's client certificate, then its bearer token (both, so neither alone is enough).
  const certificate = storeCertificateAuth({ pool: deps.pool, cacheMs: deps.tokenCacheMs, onLookupError: classifyPgError });
  const small = jsonBody({ limitBytes: 1024 * 1024 });
  // A batch is machine-made: its id ("S001-13001-15000") and the derived records' ids join
  // numbers with separators, which the card scanner would read as one long run. So the body
  // parser leaves card numbers to the route, which scans every record of every stream (what
  // terminals typed, SKUs, aggregate members, quarantine reasons), ids the store made aside.
  // Their text was taken under the v1 contract, possibly before the edge refused every control
  // character: HQ refuses only what it cannot store as sent (NUL, lone surrogates).
  const large = jsonBody({ limitBytes: deps.batchLimitBytes, cardNumbers: false, text: 'storable' });

  // What one upload may carry: the store's sync reads it and cuts its batches below it.
  router.get('/v1/stores/:storeId/limits', storeParam, certificate, auth, (_req, res) => {
    const limits: SyncLimits = { batchBodyBytes: deps.batchLimitBytes, batchRecords: MAX_BATCH_RECORDS };
    res.json(limits);
  });

  // What HQ's views read of the uploads: the store leaves out the sales windows of granularities and dimensions not named.
  router.get('/v1/stores/:storeId/reads', storeParam, certificate, auth, (_req, res) => {
    const reads: HqReads = { granularities: [...READ_GRANULARITIES], dimensions: [...READ_DIMENSIONS] };
    res.json(reads);
  });

  const admit: RequestHandler[] = deps.admission ? [deps.admission] : [];
  router.post('/v1/stores/:storeId/batches', ...admit, storeParam, certificate, auth, ...large, async (req, res) => {
    const key = req.header('idempotency-key');
    if (!key) throw new HttpProblem('IDEMPOTENCY_KEY_REQUIRED', 'send the batch id as the Idempotency-Key header');
    // Scanned before the schema: a card number in an id is a card number, not a malformed id.
    const records = (req.body as { records?: unknown } | null)?.records;
    for (const [i, record] of (Array.isArray(records) ? records : []).entries()) {
      // A batch body may be 32 MB: the scan yields to the event loop every 100 records, as ingest's batches do.
      if (i > 0 && i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      const card = findCardNumber((record as { data?: unknown } | null)?.data, { machineIds: MACHINE_IDS });
      if (card) throw cardNumberProblem(['records', i, 'data', ...card]);
    }
    const batch = parseBody(SyncBatchV1, req);
    if (!BatchId.safeParse(key).success || key !== batch.batchId) {
      throw new HttpProblem('UNPROCESSABLE', 'the Idempotency-Key must equal the batchId of the body', { errors: [{ pointer: pointer(['batchId']), message: 'must equal the Idempotency-Key header' }] });
    }
    if (!batch.batchId.startsWith(`${req.principal!.storeId}-`)) {
      throw new HttpProblem('UNPROCESSABLE', 'a batch id starts with its store id', { errors: [{ pointer: pointer(['batchId']), message: `must start with "${req.principal!.storeId}-"` }] });
    }
    const applied = await applyBatch(deps.pool, deps.producer, req.principal!.storeId!, batch, { leaseMs: deps.batchClaimLeaseMs });
    if (applied.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(applied.replayed ? 200 : 201).json(applied.result);
  });

  router.post('/v1/stores/:storeId/manifests', storeParam, certificate, auth, ...small, async (req, res) => {
    const manifest = parseBody(DayManifestV1, req);
    if (manifest.storeId !== req.principal!.storeId) throw new HttpProblem('FORBIDDEN', 'a store sends only its own manifests', { errors: [{ pointer: '/storeId', message: `must be ${req.principal!.storeId}` }] });
    res.status(202).json(await receiveManifest(deps.pool, manifest));
  });

  router.post('/v1/stores/:storeId/heartbeat', storeParam, certificate, auth, ...small, async (req, res) => {
    const beat = parseBody(HeartbeatV1, req);
    await touchStore(deps.pool, req.principal!.storeId!, beat.backlog, false);
    res.status(204).end();
  });

  router.get('/v1/stores/:storeId/replay-requests', storeParam, certificate, auth, async (req, res) => {
    res.json({ replayRequests: await openReplayRequests(deps.pool, req.principal!.storeId!) });
  });

  router.get('/v1/stores/:storeId/catalog', storeParam, certificate, auth, async (_req, res) => {
    const catalog = await latestCatalog(deps.pool);
    if (!catalog) throw new HttpProblem('NOT_FOUND', 'HQ has not published a catalog yet');
    res.json(catalog);
  });

  router.post('/v1/stores/:storeId/catalog/acks', storeParam, certificate, auth, ...small, async (req, res) => {
    const ack = parseBody(CatalogAckV1, req);
    if (!(await acknowledgeCatalog(deps.pool, req.principal!.storeId!, ack.version))) throw new HttpProblem('UNPROCESSABLE', `catalog version ${ack.version} does not exist`);
    res.status(204).end();
  });

  return router;
}
