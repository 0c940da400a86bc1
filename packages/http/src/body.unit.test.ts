import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Router } from 'express';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createLogger, createMetricsRegistry } from '@tillstream/observability';
import { listen, serviceApp } from './app.ts';
import { jsonBody } from './body.ts';
import { findDuplicateKey } from './edge.ts';
import { fixedAuthentication } from './testing.ts';
import { listRoutes } from './routes.ts';

const LIMIT = 64 * 1024;

async function echoServer() {
  const router = Router();
  router.post('/echo', ...jsonBody({ limitBytes: LIMIT }), (req, res) => void res.json({ got: req.body as unknown }));
  router.post('/stored', ...jsonBody({ limitBytes: LIMIT, text: 'storable' }), (req, res) => void res.json({ got: req.body as unknown }));
  router.get('/items/:id', (req, res) => void res.json({ id: req.params.id }));
  const app = serviceApp({ registry: createMetricsRegistry({ service: 'test' }), logger: createLogger({ name: 'test', level: 'silent' }), ready: {}, authentication: fixedAuthentication(), monitor: 'store-viewer', routes: [router] });
  const server = await listen(app, '127.0.0.1', 0);
  onTestFinished(() => server.close());
  return { url: server.url, port: Number(new URL(server.url).port), app };
}

const post = (url: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

/** Writes raw bytes on a new connection; resolves with everything the server sent once it closed the connection (or after `waitMs`, marked). */
function raw(port: number, head: string, options: { waitMs?: number } = {}): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedByServer: false });
    }, options.waitMs ?? 10_000);
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedByServer: true });
    });
    socket.on('error', () => {});
    socket.write(head);
  });
}

describe('jsonBody: what is acknowledged is what the client sent', () => {
  it('refuses a duplicated key (JSON.parse kept the last value silently) with the pointer of the second one', async () => {
    const { url } = await echoServer();
    const res = await post(url, '{"lines":[{"sku":"A","quantity":-1,"quantity":2}]}');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'DUPLICATE_KEY', errors: [{ pointer: '/lines/0/quantity' }] });
    // Escaped spellings are the same key; the same key in two objects is fine.
    expect(findDuplicateKey('{"a":1,"\\u0061":2}')).toEqual(['a']);
    expect(findDuplicateKey('{"a":{"b":1},"c":{"b":2},"d":[{"b":1},{"b":2}]}')).toBeUndefined();
    expect((await post(url, '{"a":{"b":1},"c":{"b":2}}')).status).toBe(200);
  });

  it.each([
    ['a NUL (PostgreSQL refuses it: 22021)', '{"lines":[{"description":"Bread\\u0000"}]}', '/lines/0/description', 'U+0000'],
    ['a lone surrogate (cannot be UTF-8: 22P05)', '{"lines":[{"description":"Bread\\ud800"}]}', '/lines/0/description', 'surrogate'],
    ['a line feed in a POS field', '{"category":"BREAD\\nROLLS"}', '/category', 'U+000A'],
    ['DEL', '{"a":"x\\u007f"}', '/a', 'U+007F'],
    ['a C1 control', '{"a":"x\\u0085"}', '/a', 'U+0085'],
    ['a control character in a key', '{"a\\u0001":1}', '/a\u0001', 'its key'],
  ])('refuses %s with INVALID_TEXT and the field pointer', async (_what, body, at, says) => {
    const { url } = await echoServer();
    const res = await post(url, body);
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { code: string; errors: Array<{ pointer: string; message: string }> };
    expect(problem).toMatchObject({ code: 'INVALID_TEXT', errors: [{ pointer: at }] });
    expect(problem.errors[0]!.message).toContain(says);
  });

  it("with text: 'storable' (HQ's store batches: records a store took under v1) refuses only what cannot be stored, NUL and lone surrogates", async () => {
    const { url } = await echoServer();
    const send = (body: string) => fetch(`${url}/stored`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await send('{"d":"Bread\\tRolls\\n"}')).status).toBe(200);
    for (const bad of ['{"d":"Bread\\u0000"}', '{"d":"\\ud800"}']) {
      const res = await send(bad);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'INVALID_TEXT', errors: [{ pointer: '/d' }] });
    }
  });

  it('takes any well-formed Unicode (astral planes, combining marks, RTL, U+FFFD itself) unchanged', async () => {
    const { url } = await echoServer();
    const text = 'Brötchen 🥐 ﷽ e\u0301 \u200f\u05e9 \ufffd \u2028 \ud83d\ude00';
    const res = await post(url, JSON.stringify({ d: text }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ got: { d: text } });
  });

  it('refuses a declared charset other than UTF-8 with 415 instead of decoding the bytes as UTF-8, and bytes that are not UTF-8', async () => {
    const { url } = await echoServer();
    const latin1 = Buffer.from('{"d":"Br\xf6tchen"}', 'latin1');
    const declared = await post(url, latin1, { 'content-type': 'application/json; charset=iso-8859-1' });
    expect(declared.status).toBe(415);
    expect(await declared.json()).toMatchObject({ code: 'UNSUPPORTED_CHARSET' });
    const undeclared = await post(url, latin1);
    expect(undeclared.status).toBe(415);
    expect(await undeclared.json()).toMatchObject({ code: 'UNSUPPORTED_CHARSET' });
    for (const type of ['application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json']) {
      expect((await post(url, '{"d":"Brötchen"}', { 'content-type': type })).status).toBe(200);
    }
  });

  it('answers a garbage or truncated gzip body 400 (it was a 500), and takes a good one', async () => {
    const { url } = await echoServer();
    const good = gzipSync(Buffer.from('{"a":1}'));
    expect((await post(url, good, { 'content-encoding': 'gzip' })).status).toBe(200);
    for (const body of [Buffer.from('not gzip at all'), good.subarray(0, good.length - 6)]) {
      const res = await post(url, body, { 'content-encoding': 'gzip' });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'BAD_CONTENT_ENCODING' });
    }
    const unknown = await post(url, '{"a":1}', { 'content-encoding': 'compress' });
    expect(unknown.status).toBe(415);
    // A gzip bomb: the limit applies to what it inflates to.
    const bomb = gzipSync(Buffer.from(`{"a":"${'x'.repeat(LIMIT * 4)}"}`));
    expect((await post(url, bomb, { 'content-encoding': 'gzip' })).status).toBe(413);
  });

  it('answers a declared Content-Length over the limit 413 at once and closes the connection (it waited for all 10 GB)', async () => {
    const { port } = await echoServer();
    const head = `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n{"a":`;
    const answer = await raw(port, head);
    expect(answer.closedByServer).toBe(true);
    expect(answer.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.text).toContain('PAYLOAD_TOO_LARGE');
  });

  it('answers 413 without ever sending 100 Continue when a client waits for it with a body over the limit', async () => {
    const { port } = await echoServer();
    const head = `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\nexpect: 100-continue\r\n\r\n`;
    const answer = await raw(port, head);
    expect(answer.closedByServer).toBe(true);
    expect(answer.text).not.toContain('100 Continue');
    expect(answer.text).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('answers a chunked body that passes the limit 413 as soon as it does, and closes the connection (it read the rest, however long)', async () => {
    const { port } = await echoServer();
    const answer = await new Promise<{ text: string; sent: number }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      let sent = 0;
      let answered = false;
      const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
      const pump = () => {
        // A client that would send for ever; it stops only when the server answers (or after 100 MB).
        while (!answered && sent < 100 * 1024 * 1024 && socket.write(chunk)) sent += 0x4000;
        if (!answered && sent < 100 * 1024 * 1024) socket.once('drain', pump);
      };
      socket.on('data', (data) => {
        text += data.toString();
        answered = true;
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve({ text, sent }));
      socket.write('POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n');
      pump();
    });
    expect(answer.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.sent).toBeLessThan(100 * 1024 * 1024);
  });

  it('sends 100 Continue to a client that waits for it with a body within the limit, then takes the body', async () => {
    const { port } = await echoServer();
    const body = '{"a":1}';
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
        if (text.startsWith('HTTP/1.1 100 Continue') && !text.includes('200 OK')) socket.write(body);
        if (text.includes('{"got":{"a":1}}')) socket.end();
      });
      socket.on('close', () => resolve(text));
      socket.write(`POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nexpect: 100-continue\r\n\r\n`);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
  });

  it('answers a path that is not valid percent-encoding 400 (it was a 500)', async () => {
    const { url } = await echoServer();
    const res = await fetch(`${url}/items/%E0%A4%A`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('lists the routes of an app from its router stacks', async () => {
    const { app } = await echoServer();
    const routes = listRoutes(app).map((r) => `${r.method} ${r.path}`);
    expect(routes).toEqual(expect.arrayContaining(['GET /healthz', 'GET /readyz', 'GET /metrics', 'POST /echo', 'GET /items/:id']));
  });
});

describe('hasDuplicateKey', () => {
  it('reads strings as strings (braces, colons and escaped quotes inside them) and compares keys decoded', () => {
    expect(findDuplicateKey('{"a":1,"b":{"a":2},"c":"x\\" : {","a":3}')).toEqual(['a']);
    expect(findDuplicateKey('{"a":{"a":1},"b":"{}","c":"\\"a\\":"}')).toBeUndefined();
    expect(findDuplicateKey('{"a":1,"\\u0061":2}')).toEqual(['a']);
    expect(findDuplicateKey('[{"a":1},{"a":1},{"b" : [ {"x":1 , "x" :2} ]}]')).toEqual([2, 'b', 0, 'x']);
    expect(findDuplicateKey('{ "k\\\\" : 1 , "k\\\\":2 }')).toEqual(['k\\']);
    expect(findDuplicateKey('"a"')).toBeUndefined();
  });
});
