import express from 'express';
import { describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '@tillstream/observability';
import { anonymous } from './auth.ts';
import { listen, serviceApp } from './app.ts';
import { HttpProblem } from './problem.ts';
import { acceptRequestId } from './request-log.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('acceptRequestId', () => {
  it('takes a short token of letters, digits, ".", "-" and "_"', () => {
    for (const id of ['a', 'till-7.req_42', '0d9d3c4e-2b1a-4c3e-9f1e-7a1b2c3d4e5f', 'x'.repeat(128), 'ABC.def-123_456']) expect(acceptRequestId(id)).toBe(id);
  });

  it('refuses anything else: nothing, several, empty, too long, other characters, a card number with or without separators', () => {
    const refused: Array<string | string[] | undefined> = [
      undefined,
      ['a', 'b'],
      '',
      'x'.repeat(129),
      'a b',
      'a\nb',
      'a/b',
      'a:b',
      '<script>',
      'ré',
      '\u0661\u0662',
      '4111111111111111', // 13+ digits in a row
      '4111-1111-1111-1111', // a card number written with dashes
      '4111.1111.1111.1111',
      '4111_1111_1111_1111',
    ];
    for (const value of refused) expect(acceptRequestId(value), JSON.stringify(value)).toBeUndefined();
  });
});

describe('serviceApp request ids', () => {
  it("names each request with the caller's safe X-Request-Id or a new UUID, echoes it, and logs it on the request's lines (never the path)", async () => {
    const logs: string[] = [];
    const routes = express.Router();
    routes.get('/v1/items/:id', anonymous('test route'), (req, res) => {
      req.log.info({ item: 'seen' }, 'handler line');
      res.json({ ok: true });
    });
    routes.get('/v1/boom', anonymous('test route'), () => {
      throw new Error('the handler broke');
    });
    routes.get('/v1/away', anonymous('test route'), () => {
      throw new HttpProblem('OVERLOADED', 'a dependency is away', { retryAfterSeconds: 1 });
    });
    const app = serviceApp({
      registry: createMetricsRegistry({ service: 'test' }),
      logger: createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void logs.push(line) } }),
      ready: {},
      authentication: { lookup: () => Promise.resolve(undefined) },
      monitor: 'store-viewer',
      routes: [routes],
    });
    const server = await listen(app, '127.0.0.1', 0);
    try {
      const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });
      const lines = (id: string) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.requestId === id);

      const named = await get('/v1/items/A?q=secret', { 'x-request-id': 'till-7.req_42' });
      expect(named.status).toBe(200);
      expect(named.headers.get('x-request-id')).toBe('till-7.req_42');
      expect(lines('till-7.req_42').map((l) => l.msg)).toEqual(['handler line', 'request completed']);
      expect(lines('till-7.req_42')[1]).toMatchObject({ method: 'GET', route: '/v1/items/:id', res: { statusCode: 200 } });
      expect(lines('till-7.req_42')[1]).not.toHaveProperty('req');

      for (const unsafe of ['a b', 'x'.repeat(200)]) {
        const res = await get('/v1/items/B', { 'x-request-id': unsafe });
        const id = res.headers.get('x-request-id')!;
        expect(id).toMatch(UUID);
        expect(lines(id).map((l) => l.msg)).toEqual(['handler line', 'request completed']);
      }
      // A card number there is refused by the guard (as in any header), under an id of the app's own.
      const card = await get('/v1/items/B', { 'x-request-id': '4111-1111-1111-1111' });
      expect(card.status).toBe(422);
      expect(card.headers.get('x-request-id')).toMatch(UUID);
      expect(lines(card.headers.get('x-request-id')!)).toMatchObject([{ msg: 'request completed', res: { statusCode: 422 } }]);
      const fresh = await get('/v1/items/C');
      expect(fresh.headers.get('x-request-id')).toMatch(UUID);
      // Refusals are named too, and their lines never hold the path: a card number in it, a route that does not exist.
      const carded = await get('/v1/items/4111%201111%201111%201111', { 'x-request-id': 'carded-1' });
      expect(carded.status).toBe(422);
      expect(carded.headers.get('x-request-id')).toBe('carded-1');
      expect(lines('carded-1')).toMatchObject([{ route: 'unmatched', res: { statusCode: 422 } }]);
      const missing = await get('/v1/nowhere/A', { 'x-request-id': 'lost-1' });
      expect(missing.status).toBe(404);
      expect(lines('lost-1')).toMatchObject([{ route: 'unmatched', res: { statusCode: 404 } }]);
      // Monitors' polls are answered with an id but not logged one by one.
      const health = await get('/healthz', { 'x-request-id': 'probe-1' });
      expect(health.headers.get('x-request-id')).toBe('probe-1');
      expect(lines('probe-1')).toEqual([]);

      // A fault is logged once with its cause under the request's id, and its answer's line says the status; a 503 is a warning.
      await get('/v1/boom', { 'x-request-id': 'boom-1' });
      expect(lines('boom-1')).toMatchObject([
        { level: 50, msg: 'request failed', err: { message: 'the handler broke' } },
        { level: 50, msg: 'request completed', route: '/v1/boom', res: { statusCode: 500 } },
      ]);
      expect(lines('boom-1')[1]).not.toHaveProperty('err');
      await get('/v1/away', { 'x-request-id': 'away-1' });
      expect(lines('away-1').filter((l) => l.msg === 'request completed')).toMatchObject([{ level: 40, res: { statusCode: 503 } }]);

      const all = logs.join('');
      expect(all).not.toMatch(/4111|secret|items\/A|nowhere|a b/);
    } finally {
      await server.close();
    }
  });
});
