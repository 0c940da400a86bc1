import { Agent, request } from 'node:http';
import express from 'express';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, createMetricsRegistry } from '@tillstream/observability';
import { listen, serviceApp } from './app.ts';
import { luhnValid } from './card-numbers.ts';

describe('listen().close', () => {
  it('stops even while a keep-alive client keeps sending requests back to back, answering what is in progress', async () => {
    const app = express();
    app.get('/x', (_req, res) => void setTimeout(() => res.json({ ok: true }), 5));
    const server = await listen(app, '127.0.0.1', 0);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const statuses: number[] = [];
    let sending = true;
    let warmedUp: () => void = () => undefined;
    const fourAnswered = new Promise<void>((resolve) => (warmedUp = resolve));
    const client = (async () => {
      while (sending) {
        const status = await new Promise<number>((resolve) => {
          const req = request(`${server.url}/x`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', () => resolve(0));
          req.end();
        });
        statuses.push(status);
        if (statuses.length === 4) warmedUp();
        if (status === 0) sending = false; // the server went away
      }
    })();
    await fourAnswered; // the client is in its back-to-back stride on one kept-alive connection
    // Closed by the idle sweep, never by the grace period's forced close of every connection (which would also
    // end it, cutting what is in progress): which of the two happened is the contract, not how long it took.
    const forced = vi.spyOn(server.server, 'closeAllConnections');
    await server.close();
    sending = false;
    await client;
    agent.destroy();
    expect(forced).not.toHaveBeenCalled();
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(3);
    expect(statuses.every((s) => s === 200 || s === 0)).toBe(true);
  });
});

/** A Mastercard-range number of the digits 1-3 only, written in the Latin-1 superscripts ¹²³. */
function superscriptCard(): string {
  for (let n = 0; ; n++) {
    const candidate = `2221${n.toString(3).padStart(12, '0').replace(/[012]/g, (d) => String(Number(d) + 1))}`;
    if (luhnValid(candidate)) return candidate.replace(/[123]/g, (d) => ['\u00b9', '\u00b2', '\u00b3'][Number(d) - 1]!);
  }
}

describe('serviceApp card-number guard', () => {
  it('refuses a card number in the path, the query or a header before any route, counts it, never echoes it, and leaves credentials and trace headers alone', async () => {
    const seen: string[] = [];
    let counted = 0;
    const routes = express.Router();
    routes.get('/v1/items/:id', (req, res) => {
      seen.push(req.params.id);
      res.json({ id: req.params.id });
    });
    const logs: string[] = [];
    const app = serviceApp({ registry: createMetricsRegistry({ service: 'test' }), logger: createLogger({ name: 'test', level: 'debug', destination: { write: (line: string) => void logs.push(line) } }), ready: {}, authentication: { lookup: () => Promise.resolve(undefined) }, monitor: 'store-viewer', routes: [routes], onCardNumber: () => counted++ });
    const server = await listen(app, '127.0.0.1', 0);
    try {
      const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });
      const cases: Array<[Response, string]> = [
        [await get('/v1/items/4111%201111%201111%201111'), '/path'],
        [await get('/v1/nowhere/4111-1111-1111-1111'), '/path'], // before the 404, whose detail names the path
        [await get('/v1/items/A?x=%D9%A4%D9%A1%D9%A1%D9%A1.1111.1111.1111'), '/query'], // Arabic-Indic digits, percent-encoded
        [await get('/v1/items/A', { 'x-customer-note': '5555\t5555\t5555\t4444' }), '/headers/x-customer-note'],
        [await get('/v1/items/A', { 'x-note': Buffer.from('\u0664\u0661\u0661\u0661 1111 1111 1111', 'utf8').toString('latin1') }), '/headers/x-note'], // UTF-8 bytes
        [await get('/v1/items/A', { 'x-note': superscriptCard() }), '/headers/x-note'], // Latin-1 superscripts, one byte each
      ];
      for (const [res, pointer] of cases) {
        const text = await res.text();
        expect({ status: res.status, pointer: JSON.parse(text).errors?.[0]?.pointer, instance: JSON.parse(text).instance }).toEqual({ status: 422, pointer, instance: undefined });
        expect(text).not.toMatch(/4111|5555|2221|%/);
      }
      expect(seen).toEqual([]);
      expect(counted).toBe(cases.length);
      // Tokens, trace ids and proxies' IP lists are not what a person types: long digit runs there are no refusal.
      const fine = await get('/v1/items/B', {
        authorization: 'Bearer 4111111111111111',
        traceparent: '00-41111111111111114111111111111111-4111111111111111-01',
        'x-forwarded-for': '10.0.0.1, 192.168.100.200, 172.16.31.254',
      });
      expect(fine.status).toBe(200);
      expect(seen).toEqual(['B']);
      expect(logs.join('')).not.toMatch(/4111|5555/);
    } finally {
      await server.close();
    }
  });
});
