import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inventoryAlerts } from '@tillstream/contracts';
import { advisoryXactLock, createClient, issueTerminalToken } from '@tillstream/db';
import { bearer, makeTransaction, readRecords } from '@tillstream/testing';
import { testInventory, type TestInventory } from '../testing.ts';

type Json = Record<string, unknown> & { lines?: { sku: string; quantity: number; onHand: number; counted?: number; previous?: number; state: string }[] };

async function book(inv: TestInventory, path: string, body: unknown, key: string = randomUUID()): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await inv.send('POST', `/v1/inventory/${path}`, body, { 'idempotency-key': key });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

async function onHand(inv: TestInventory, sku: string): Promise<number> {
  const res = await inv.get(`/v1/inventory/items/${sku}`);
  return ((await res.json()) as { onHand: number }).onHand;
}

/** Follows nextCursor from the first page to the last (at most `maxPages`), collecting what `take` reads off each page. */
async function allPages<Page extends { nextCursor: string | null }, T>(fetchPage: (cursorParam: string) => Promise<Page>, take: (page: Page) => T[], maxPages: number): Promise<T[]> {
  const seen: T[] = [];
  let cursor: string | null = '';
  for (let pages = 0; cursor !== null; pages++) {
    expect(pages).toBeLessThan(maxPages);
    const page = await fetchPage(cursor ? `&cursor=${cursor}` : '');
    seen.push(...take(page));
    cursor = page.nextCursor;
  }
  return seen;
}

describe('store inventory API', () => {
  it('books receipts, counts (with the variance as its own movement), adjustments and transfers', async () => {
    const inv = await testInventory();
    const receipt = await book(inv, 'receipts', { reference: 'DN-1001', supplier: 'Mill & Co', lines: [{ sku: 'FLOUR', quantity: 20, description: 'Flour 1kg' }, { sku: 'HAM', quantity: 2.5, unitOfMeasure: 'KG' }] });
    expect(receipt.status).toBe(201);
    expect(receipt.body).toMatchObject({ kind: 'RECEIPT', reference: 'DN-1001', lines: [{ sku: 'FLOUR', quantity: 20, onHand: 20, state: 'OK' }, { sku: 'HAM', quantity: 2.5, onHand: 2.5 }] });

    await inv.publish([makeTransaction([{ sku: 'FLOUR', quantity: 3 }])]);
    await inv.caughtUp();
    const count = await book(inv, 'counts', { reference: 'CNT-7', lines: [{ sku: 'FLOUR', counted: 15 }, { sku: 'HAM', counted: 2.5 }] });
    expect(count.status).toBe(201);
    expect(count.body.lines).toEqual([
      { sku: 'FLOUR', quantity: -2, counted: 15, previous: 17, onHand: 15, state: 'OK' },
      { sku: 'HAM', quantity: 0, counted: 2.5, previous: 2.5, onHand: 2.5, state: 'OK' },
    ]);

    const adjustment = await book(inv, 'adjustments', { reason: 'DAMAGE', note: 'dropped pallet', lines: [{ sku: 'FLOUR', quantity: -4 }] });
    expect(adjustment.status).toBe(201);
    expect(adjustment.body).toMatchObject({ kind: 'ADJUSTMENT', reason: 'DAMAGE', lines: [{ sku: 'FLOUR', quantity: -4, onHand: 11 }] });

    const out = await book(inv, 'transfers', { direction: 'OUT', counterparty: 'S002', reference: 'TR-9', lines: [{ sku: 'HAM', quantity: 1.25 }] });
    expect(out.body).toMatchObject({ kind: 'TRANSFER_OUT', counterparty: 'S002', lines: [{ sku: 'HAM', quantity: -1.25, onHand: 1.25 }] });
    const into = await book(inv, 'transfers', { direction: 'IN', counterparty: 'S002', reference: 'TR-10', lines: [{ sku: 'SALT', quantity: 6 }] });
    expect(into.body).toMatchObject({ kind: 'TRANSFER_IN', lines: [{ sku: 'SALT', quantity: 6, onHand: 6 }] });

    const flour = (await (await inv.get('/v1/inventory/items/FLOUR?movements=10')).json()) as { description: string; onHand: number; movements: { kind: string; quantity: number; reference: string | null; reason: string | null }[] };
    expect(flour.description).toBe('Flour 1kg');
    expect(flour.movements.map((m) => [m.kind, m.quantity, m.reference ?? m.reason])).toEqual([
      ['ADJUSTMENT', -4, 'DAMAGE'],
      ['COUNT', -2, 'CNT-7'],
      ['SALE', -3, null],
      ['RECEIPT', 20, 'DN-1001'],
    ]);
    // The level is the sum of the movements, in the database too.
    const { rows } = await inv.db.pool.query<{ sku: string; on_hand: string; total: string }>(
      `SELECT i.sku, i.on_hand, sum(m.quantity) AS total FROM inventory_items i JOIN inventory_movements m USING (sku) GROUP BY i.sku, i.on_hand ORDER BY i.sku`,
    );
    for (const row of rows) expect(row.on_hand).toBe(row.total);
  });

  it('replays an operation for the same Idempotency-Key and body, and refuses the key with another body', async () => {
    const inv = await testInventory();
    const key = randomUUID();
    const body = { reference: 'DN-1', lines: [{ sku: 'RICE', quantity: 10 }] };
    const first = await book(inv, 'receipts', body, key);
    expect(first.status).toBe(201);
    // Same body with its keys in another order is the same body.
    const again = await book(inv, 'receipts', { lines: [{ quantity: 10, sku: 'RICE' }], reference: 'DN-1' }, key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await onHand(inv, 'RICE')).toBe(10);

    const other = await book(inv, 'receipts', { reference: 'DN-1', lines: [{ sku: 'RICE', quantity: 11 }] }, key);
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const sameKeyOtherKind = await book(inv, 'adjustments', { reason: 'FOUND', lines: [{ sku: 'RICE', quantity: 10 }] }, key);
    expect(sameKeyOtherKind.status).toBe(422);
    expect(await onHand(inv, 'RICE')).toBe(10);
  });

  it('answers 409 while the same key is being booked by another request', async () => {
    const inv = await testInventory();
    const key = randomUUID();
    // Hold the key's lock as a concurrent request would.
    const holder = createClient({ connectionString: inv.db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await advisoryXactLock(holder, 'inventoryOperation', key);
    const res = await book(inv, 'receipts', { reference: 'DN-2', lines: [{ sku: 'OIL', quantity: 1 }] }, key);
    await holder.query('ROLLBACK');
    await holder.end();
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'IDEMPOTENCY_IN_FLIGHT' });
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await inv.get('/v1/inventory/items/OIL')).status).toBe(404);

    // Truly concurrent copies: one books, the others get 409 or the replay; stock moves once.
    const body = { reference: 'DN-3', lines: [{ sku: 'OIL', quantity: 2 }] };
    const results = await Promise.all(Array.from({ length: 8 }, () => book(inv, 'receipts', body, key)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => s === 201 || s === 200 || s === 409)).toBe(true);
    expect(await onHand(inv, 'OIL')).toBe(2);
  });

  it('refuses bad input with a problem body and changes nothing', async () => {
    const inv = await testInventory();
    await book(inv, 'receipts', { reference: 'DN-1', lines: [{ sku: 'TEA', quantity: 5 }] });
    const cases: [string, unknown, number, string][] = [
      ['receipts', { reference: 'DN-2', lines: [] }, 400, 'VALIDATION_FAILED'],
      ['receipts', { reference: 'DN-2', lines: [{ sku: 'TEA', quantity: -1 }] }, 400, 'VALIDATION_FAILED'],
      ['receipts', { reference: 'DN-2', lines: [{ sku: 'TEA', quantity: 1.0001 }] }, 422, 'UNPROCESSABLE'],
      ['receipts', { reference: 'DN-2', lines: [{ sku: 'TEA', quantity: 1 }, { sku: 'TEA', quantity: 2 }] }, 422, 'UNPROCESSABLE'],
      ['receipts', { reference: 'DN-2', lines: [{ sku: 'TEA', quantity: 1 }], extra: true }, 400, 'VALIDATION_FAILED'],
      ['counts', { lines: [{ sku: 'TEA', counted: -3 }] }, 422, 'UNPROCESSABLE'],
      ['adjustments', { reason: 'THEFT', lines: [{ sku: 'TEA', quantity: 2 }] }, 422, 'UNPROCESSABLE'],
      ['adjustments', { reason: 'DAMAGE', lines: [{ sku: 'NOPE', quantity: -1 }] }, 422, 'UNPROCESSABLE'],
      ['adjustments', { reason: 'LOST_IN_SPACE', lines: [{ sku: 'TEA', quantity: -1 }] }, 400, 'VALIDATION_FAILED'],
      ['transfers', { direction: 'OUT', counterparty: 'S002', reference: 'T1', lines: [{ sku: 'NOPE', quantity: 1 }] }, 422, 'UNPROCESSABLE'],
      ['transfers', { direction: 'SIDEWAYS', counterparty: 'S002', reference: 'T1', lines: [{ sku: 'TEA', quantity: 1 }] }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await book(inv, path, body);
      expect({ path, body, status: res.status, code: res.body.code }).toEqual({ path, body, status, code });
      expect(res.body.errors).toBeInstanceOf(Array);
    }
    const noKey = await inv.send('POST', '/v1/inventory/receipts', { reference: 'DN-9', lines: [{ sku: 'TEA', quantity: 1 }] });
    expect(noKey.status).toBe(400);
    expect(await noKey.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REQUIRED' });
    const badKey = await inv.send('POST', '/v1/inventory/receipts', { reference: 'DN-9', lines: [{ sku: 'TEA', quantity: 1 }] }, { 'idempotency-key': 'a b' });
    expect(badKey.status).toBe(400);
    const notJson = await fetch(`${inv.url}/v1/inventory/receipts`, { method: 'POST', headers: { 'content-type': 'text/plain', 'idempotency-key': 'k1', ...bearer(inv.tokens['store-manager']) }, body: 'x' });
    expect(notJson.status).toBe(415);
    const proto = await inv.send('POST', '/v1/inventory/receipts', JSON.parse('{"reference":"D","__proto__":{"x":1},"lines":[]}'), { 'idempotency-key': 'k2' });
    expect(proto.status).toBe(400);
    const settings = await inv.send('PUT', '/v1/inventory/items/TEA/settings', { reorderPoint: 10, reorderQuantity: 5, maximum: 8 });
    expect(settings.status).toBe(422);

    expect(await onHand(inv, 'TEA')).toBe(5);
    const { rows } = await inv.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM inventory_movements');
    expect(rows[0]!.n).toBe('1');
  });

  it('never lets a card number in: not through a path, a query, a header, a SKU or an Idempotency-Key; nothing is booked', async () => {
    const inv = await testInventory();
    await book(inv, 'receipts', { reference: 'DN-1', lines: [{ sku: 'TEA', quantity: 5 }] });
    const refused = async (res: Response, status: number, code: string, pointer?: string) => {
      const text = await res.text();
      expect(text).not.toMatch(/4111|5105|3782/);
      const body = JSON.parse(text) as { code: string; instance?: string; errors?: Array<{ pointer: string }> };
      expect({ status: res.status, code: body.code }).toEqual({ status, code });
      if (pointer) expect(body.errors?.[0]?.pointer).toBe(pointer);
    };
    const settings = { reorderPoint: 1, reorderQuantity: 5 };
    await refused(await inv.send('PUT', '/v1/inventory/items/4111111111111111/settings', settings), 422, 'CARD_NUMBER_DETECTED', '/path');
    await refused(await inv.send('PUT', '/v1/inventory/items/4111_1111_1111_1111/settings', settings), 422, 'CARD_NUMBER_DETECTED', '/path');
    await refused(await inv.send('PUT', '/v1/inventory/items/%EF%BC%94111.1111.1111.1111/settings', settings), 422, 'CARD_NUMBER_DETECTED', '/path'); // a fullwidth 4
    await refused(await inv.get('/v1/inventory/items?cursor=5105-1051-0510-5100'), 422, 'CARD_NUMBER_DETECTED', '/query');
    await refused(await inv.send('PUT', '/v1/inventory/items/TEA/settings', settings, { 'x-reference': '3782 822463 10005' }), 422, 'CARD_NUMBER_DETECTED', '/headers/x-reference');
    await refused(await book(inv, 'receipts', { reference: 'DN-2', lines: [{ sku: '4111.1111.1111.1111', quantity: 1 }] }).then((r) => new Response(JSON.stringify(r.body), { status: r.status })), 422, 'CARD_NUMBER_DETECTED', '/lines/0/sku');
    // Identifiers refuse 13 or more digits in a row outright, card or not: a SKU in the path or the body, an Idempotency-Key.
    expect((await inv.send('PUT', '/v1/inventory/items/1234567890123/settings', settings)).status).toBe(404);
    const longSku = await book(inv, 'receipts', { reference: 'DN-3', lines: [{ sku: 'X1234567890123', quantity: 1 }] });
    expect({ status: longSku.status, pointer: (longSku.body.errors as Array<{ pointer: string }>)[0]!.pointer }).toEqual({ status: 422, pointer: '/lines/0/sku' });
    for (const key of ['4111111111111111', '4111_1111_1111_1111', '4111-1111-1111-1111']) {
      await refused(await inv.send('POST', '/v1/inventory/receipts', { reference: 'DN-4', lines: [{ sku: 'TEA', quantity: 1 }] }, { 'idempotency-key': key }), 422, 'CARD_NUMBER_DETECTED', '/headers/idempotency-key');
    }
    for (const key of ['1234567890123', 'op-12345678901234567']) {
      await refused(await inv.send('POST', '/v1/inventory/receipts', { reference: 'DN-4', lines: [{ sku: 'TEA', quantity: 1 }] }, { 'idempotency-key': key }), 400, 'IDEMPOTENCY_KEY_REQUIRED');
    }

    expect(await onHand(inv, 'TEA')).toBe(5);
    const { rows } = await inv.db.pool.query<{ sku: string }>('SELECT sku FROM inventory_items');
    expect(rows.map((r) => r.sku)).toEqual(['TEA']);
    const { rows: operations } = await inv.db.pool.query<{ n: string }>('SELECT count(*) AS n FROM inventory_operations');
    expect(operations[0]!.n).toBe('1');
  });

  it('lists items by status with cursor pagination, and raises LOW_STOCK when a reorder point is set above the stock', async () => {
    const inv = await testInventory();
    const skus = Array.from({ length: 7 }, (_, i) => `SKU-${i}`);
    await book(inv, 'receipts', { reference: 'DN-1', lines: skus.map((sku, i) => ({ sku, quantity: i + 1 })) });
    await inv.publish([makeTransaction([{ sku: 'SKU-0', quantity: 3 }]), makeTransaction([{ sku: 'SKU-1', quantity: 2 }])]);
    await inv.caughtUp();
    for (const sku of ['SKU-2', 'SKU-3', 'SKU-4']) {
      const res = await inv.send('PUT', `/v1/inventory/items/${sku}/settings`, { reorderPoint: 6, reorderQuantity: 12, maximum: 24 });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ sku, state: 'LOW', settings: { reorderPoint: 6, reorderQuantity: 12, maximum: 24 } });
    }

    const list = async (query: string) => (await (await inv.get(`/v1/inventory/items${query}`)).json()) as { items: { sku: string; onHand: number }[]; nextCursor: string | null };
    expect((await list('?status=negative')).items.map((i) => [i.sku, i.onHand])).toEqual([['SKU-0', -2]]);
    expect((await list('?status=out')).items.map((i) => i.sku)).toEqual(['SKU-1']);
    expect((await list('?status=low,out')).items.map((i) => i.sku)).toEqual(['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4']);

    expect(await allPages((cursor) => list(`?limit=2${cursor}`), (page) => page.items.map((i) => i.sku), 5)).toEqual(skus);

    for (const query of ['?status=sold-out', '?limit=0', '?limit=9999', '?cursor=not%20valid', '?colour=red']) {
      const res = await inv.get(`/v1/inventory/items${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'BAD_QUERY' });
    }
    expect((await inv.get('/v1/inventory/items/NO-SUCH')).status).toBe(404);
  });

  it('keeps a feed of the alerts it raised, newest first, the same alerts it published, with filters and pages', async () => {
    const inv = await testInventory();
    await book(inv, 'receipts', { reference: 'DN-1', lines: [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 2 }, { sku: 'C', quantity: 9 }] });
    await inv.publish([makeTransaction([{ sku: 'A', quantity: 3 }]), makeTransaction([{ sku: 'B', quantity: 2 }])]);
    await inv.caughtUp();
    expect((await inv.send('PUT', '/v1/inventory/items/C/settings', { reorderPoint: 10, reorderQuantity: 12, maximum: 24 })).status).toBe(200);
    await book(inv, 'receipts', { reference: 'DN-2', lines: [{ sku: 'B', quantity: 5 }] });

    type Feed = { alerts: Array<{ alertId: string; sku: string; type: string; onHand: number }>; nextCursor: string | null };
    const feed = async (query = '') => (await (await inv.get(`/v1/inventory/alerts${query}`)).json()) as Feed;
    const all = await feed();
    // Booked in this order: A negative, B out, C low, B back in stock; the feed is newest first.
    expect(all.alerts.map((a) => [a.sku, a.type, a.onHand])).toEqual([
      ['B', 'BACK_IN_STOCK', 5],
      ['C', 'LOW_STOCK', 9],
      ['B', 'OUT_OF_STOCK', 0],
      ['A', 'NEGATIVE_STOCK', -2],
    ]);
    expect(all.nextCursor).toBeNull();

    // The feed holds what went to inventory.alerts, no more and no less.
    await expect
      .poll(async () => (await readRecords(inv.kafka.kafka, `${inv.kafka.prefix}${inventoryAlerts.name}`)).map((r) => inventoryAlerts.envelope.parse(JSON.parse(r.value)).data.alertId).sort(), { timeout: 15_000 })
      .toEqual(all.alerts.map((a) => a.alertId).sort());

    expect((await feed('?type=OUT_OF_STOCK,NEGATIVE_STOCK')).alerts.map((a) => a.sku)).toEqual(['B', 'A']);
    expect((await feed('?sku=B')).alerts.map((a) => a.type)).toEqual(['BACK_IN_STOCK', 'OUT_OF_STOCK']);
    expect(await allPages((cursor) => feed(`?limit=3${cursor}`), (page) => page.alerts.map((a) => a.alertId), 4)).toEqual(all.alerts.map((a) => a.alertId));

    const forged = Buffer.from('{"at":"yesterday"}').toString('base64url');
    for (const query of ['?type=SOLD_OUT', '?limit=0', `?cursor=${forged}`, '?cursor=%7B', '?colour=red']) {
      const res = await inv.get(`/v1/inventory/alerts${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'BAD_QUERY' });
    }
  });

  it('reports readiness and serves metrics', async () => {
    const inv = await testInventory();
    await expect.poll(async () => (await inv.get('/readyz')).status, { timeout: 15_000 }).toBe(200);
    await inv.publish([makeTransaction([{ sku: 'X1', quantity: 1 }])]);
    await inv.caughtUp();
    const metrics = await (await inv.get('/metrics')).text();
    expect(metrics).toMatch(/inventory_pos_transactions_total\{outcome="booked"[^}]*\} 1\n/);
    expect(metrics).toMatch(/inventory_movements_total\{kind="SALE"[^}]*\} 1\n/);
    expect(metrics).toMatch(/outbox_backlog\{[^}]*\} \d+\n/);
  });

  it("lets store viewers read and only store managers book stock or change settings, recording who did it in the movement history", async () => {
    const inv = await testInventory();
    const terminal = await issueTerminalToken(inv.db.pool, { storeId: 'S001', terminalId: 'T01' });
    const receipt = { reference: 'DN-1', lines: [{ sku: 'FLOUR', quantity: 5 }] };
    const as = (token: string | undefined) => (token ? bearer(token) : { authorization: '' });
    // Writes: nobody but a manager, and the refusal comes before the body is read (a body that is not JSON still gets 401/403).
    for (const [who, token, status] of [['nobody', undefined, 401], ['an unknown token', 'tt_0000000000000000000000000000000000000000000', 401], ['a terminal', terminal, 403], ['a viewer', inv.tokens['store-viewer'], 403]] as const) {
      for (const path of ['receipts', 'counts', 'adjustments', 'transfers']) {
        const res = await fetch(`${inv.url}/v1/inventory/${path}`, { method: 'POST', headers: { 'content-type': 'text/plain', 'idempotency-key': randomUUID(), ...as(token) }, body: 'not json' });
        expect(res.status, `${who} POST ${path}`).toBe(status);
      }
      const settings = await fetch(`${inv.url}/v1/inventory/items/FLOUR/settings`, { method: 'PUT', headers: { 'content-type': 'application/json', ...as(token) }, body: '{"reorderPoint":1}' });
      expect(settings.status, `${who} PUT settings`).toBe(status);
    }
    expect((await inv.db.pool.query('SELECT count(*)::int AS n FROM inventory_operations')).rows[0].n).toBe(0);

    expect((await book(inv, 'receipts', receipt)).status).toBe(201);
    const put = await inv.send('PUT', '/v1/inventory/items/FLOUR/settings', { reorderPoint: 2, reorderQuantity: 10, maximum: null });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { settings: { updatedBy: string } }).settings.updatedBy).toBe('test store-manager');

    // Reads: viewers and managers; a terminal is not a reader of stock.
    for (const path of ['/v1/inventory/items', '/v1/inventory/alerts', '/v1/inventory/items/FLOUR', '/readyz', '/metrics', '/v1/dashboard']) {
      expect((await inv.get(path, { authorization: '' })).status, path).toBe(401);
      expect((await inv.get(path, bearer(terminal))).status, path).toBe(403);
      expect((await inv.get(path, bearer(inv.tokens['store-viewer']))).status, path).not.toBeGreaterThanOrEqual(400);
    }
    const item = (await (await inv.get('/v1/inventory/items/FLOUR', bearer(inv.tokens['store-viewer']))).json()) as { movements: Array<{ kind: string; actor: string | null }> };
    expect(item.movements).toEqual([expect.objectContaining({ kind: 'RECEIPT', actor: 'test store-manager' })]);
  });
});
