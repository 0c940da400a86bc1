import { connect } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import type { Express } from 'express';
import { describe, expect, it } from 'vitest';
import { admits, type Role } from '@tillstream/contracts';
import { listRoutes, type AppRoute } from '@tillstream/http';
import { makeTransaction, testStoreCertificate, testStoreFetch } from '@tillstream/testing';
import { errorLines, startChain, type Chain } from './chain.ts';

/**
 * Client mistakes gave 500s (`GET /dashboard/constructor`, a garbage or
 * truncated gzip body, a non-ASCII admin token at HQ, a path that is not
 * valid percent-encoding) or no answer at all (a declared 10 GB body, with or
 * without `Expect: 100-continue`). Here every route of every service, as its
 * routers declare it, gets hostile methods, paths, headers and bodies: every
 * request gets an answer, none is a 5xx, no service logs an error, and the
 * heap is back near where it started. Then every JSON endpoint (each POST,
 * PUT or PATCH route) is shown to apply the edge rules of issue 13 item 1
 * with the same problem and pointer: a duplicated key, a NUL, a lone
 * surrogate, a charset other than UTF-8.
 */

interface Answer {
  status: number | undefined;
  /** No answer within the deadline (a hang), or the connection closed without one. */
  fault?: 'hang' | 'closed without an answer';
}

/** One request on its own connection (TLS, as every service serves), bytes as given; resolves at the first final (non-1xx) status line and head. */
function send(port: number, head: Buffer, body?: Buffer, client?: { cert: string; key: string }): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', ...(client ?? {}) });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (answer: Answer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ status: undefined, fault: 'hang' }), 20_000);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      let text = received.toString('latin1');
      while (/^HTTP\/1\.1 1\d\d /.test(text) && text.includes('\r\n\r\n')) text = text.slice(text.indexOf('\r\n\r\n') + 4);
      const match = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n[\s\S]*?\r\n\r\n/.exec(text);
      if (match) finish({ status: Number(match[1]) });
    });
    socket.on('error', () => {});
    socket.on('close', () => finish({ status: undefined, fault: 'closed without an answer' }));
    socket.write(body ? Buffer.concat([head, body]) : head);
  });
}

interface Probe {
  what: string;
  method: string;
  path: string;
  headers: Array<[string, string | Buffer]>;
  body?: Buffer;
  /** Declared Content-Length when it is not the body's (a body over the limit that is never sent). */
  declaredLength?: number;
}

function requestHead(p: Probe): Buffer {
  const parts: Buffer[] = [Buffer.from(`${p.method} ${p.path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n`, 'latin1')];
  for (const [name, value] of p.headers) parts.push(Buffer.from(`${name}: `, 'latin1'), typeof value === 'string' ? Buffer.from(value, 'latin1') : value, Buffer.from('\r\n'));
  if (p.declaredLength !== undefined) parts.push(Buffer.from(`content-length: ${p.declaredLength}\r\n`));
  else if (p.body && !p.headers.some(([n]) => n.toLowerCase() === 'content-length')) parts.push(Buffer.from(`content-length: ${p.body.length}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

const PARAMS = ['x', 'S001', 'constructor', '__proto__', 'prototype', '%00', '%E0%A4%A', '%F0%9F%A5%90', '..%2F..%2Fetc%2Fpasswd', 'a'.repeat(4000)];
const SUFFIXES = ['/constructor', '/__proto__', '%00', '/%2e%2e', '?__proto__[polluted]=1&constructor[prototype][polluted]=1', `?${'a=1&'.repeat(1500)}`, '?storeId=%00&businessDay=%E0%A4%A&limit=1e400'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** The hostile requests for one route: paths, methods, then headers and bodies on its own method. */
function probes(route: AppRoute, auth: string | undefined): Probe[] {
  const method = route.method === '*' ? 'POST' : route.method;
  const fill = (value: string) => route.path.replace(/:[A-Za-z]+/g, value);
  const base = fill('S001');
  const authHeader: Array<[string, string]> = auth ? [['authorization', `Bearer ${auth}`]] : [];
  const json = (): Array<[string, string]> => [['content-type', 'application/json'], ...authHeader];
  const tx = JSON.stringify(makeTransaction([{ sku: 'A', unitPrice: 100 }]));
  const good = gzipSync(Buffer.from(tx));
  const list: Probe[] = [];
  for (const value of PARAMS) list.push({ what: `param ${value.slice(0, 20)}`, method, path: fill(value), headers: authHeader });
  for (const suffix of SUFFIXES) list.push({ what: `suffix ${suffix.slice(0, 30)}`, method, path: `${base}${suffix}`, headers: authHeader });
  for (const m of METHODS) list.push({ what: `method ${m}`, method: m, path: base, headers: authHeader, ...(m === 'GET' || m === 'HEAD' ? {} : { body: Buffer.from(tx) }) });
  list.push({ what: 'method TRACE', method: 'TRACE', path: base, headers: [] });
  list.push({ what: 'method PROPFIND', method: 'PROPFIND', path: base, headers: [] });
  list.push({ what: 'overlong path', method, path: `${base}/${'x'.repeat(40_000)}`, headers: [] });
  for (const token of ['tökén', Buffer.from('🥐🥐🥐🥐', 'utf8'), 'é'.repeat(33), '\u00ff'.repeat(200), 'a b', '']) {
    const value = typeof token === 'string' ? `Bearer ${token}` : Buffer.concat([Buffer.from('Bearer '), token]);
    list.push({ what: `token ${String(token).slice(0, 10)}`, method, path: base, headers: [['authorization', value], ['content-type', 'application/json']], body: Buffer.from(tx) });
  }
  const bodies: Array<[string, Array<[string, string]>, Buffer]> = [
    ['valid transaction', json(), Buffer.from(tx)],
    ['empty object', json(), Buffer.from('{}')],
    ['duplicate key', json(), Buffer.from('{"a":1,"a":2}')],
    ['NUL', json(), Buffer.from('{"a":"x\\u0000"}')],
    ['lone surrogate', json(), Buffer.from('{"a":"\\ud800"}')],
    ['too deep', json(), Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`)],
    ['not JSON', json(), Buffer.from('{"a":')],
    ['proto key', json(), Buffer.from('{"__proto__":{"polluted":true}}')],
    ['garbage gzip', [...json(), ['content-encoding', 'gzip']], Buffer.from('this is not gzip')],
    ['truncated gzip', [...json(), ['content-encoding', 'gzip']], good.subarray(0, good.length - 8)],
    ['unknown encoding', [...json(), ['content-encoding', 'x-nope, gzip']], Buffer.from(tx)],
    ['iso-8859-1', [['content-type', 'application/json; charset=iso-8859-1'], ...authHeader], Buffer.from('{"a":"Br\xf6tchen"}', 'latin1')],
    ['utf-16', [['content-type', 'application/json; charset=utf-16le'], ...authHeader], Buffer.from('{"a":1}', 'utf16le')],
    ['bad charset', [['content-type', 'application/json; charset="\u00ff\u00fe"'], ...authHeader], Buffer.from('{}')],
    ['text/plain', [['content-type', 'text/plain'], ...authHeader], Buffer.from(tx)],
    ['no content type', authHeader, Buffer.from(tx)],
    ['duplicate content-length', [...json(), ['content-length', '2'], ['content-length', '3']], Buffer.from('{}')],
    ['bad content-length', [...json(), ['content-length', '-1']], Buffer.from('{}')],
    ['chunked and content-length', [...json(), ['transfer-encoding', 'chunked'], ['content-length', '2']], Buffer.from('2\r\n{}\r\n0\r\n\r\n')],
  ];
  for (const [what, headers, body] of bodies) list.push({ what: `body ${what}`, method: method === 'GET' || method === 'HEAD' ? 'POST' : method, path: base, headers, body });
  for (const expect of [false, true]) {
    list.push({ what: `declared 10 GB${expect ? ' expecting 100-continue' : ''}`, method: method === 'GET' ? 'POST' : method, path: base, headers: [...json(), ...(expect ? ([['expect', '100-continue']] as Array<[string, string]>) : [])], declaredLength: 10 * 1024 ** 3 });
  }
  return list;
}

/** The heap in use after a full collection. */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Service {
  name: keyof Chain['logs'];
  url: string;
  app: Express;
  /** A token of each role this service's database knows (terminals and store people, or stores and HQ people). */
  tokens: Partial<Record<Role, string>>;
  /** A token of the role a route declares (undefined for an anonymous route). */
  auth: (route: AppRoute) => string | undefined;
}

/** Every service of a chain, with a token for each role its database can tell apart. */
/** HQ's store routes: mutual TLS, so a request reaches their token check only with the store's client certificate. */
const storeRoute = (service: string, path: string) => service === 'hq' && path.startsWith('/v1/stores/');

function servicesOf(chain: Chain): Service[] {
  const store: Partial<Record<Role, string>> = { terminal: chain.ingest.token, ...chain.storeTokens };
  const hq: Partial<Record<Role, string>> = { store: chain.storeToken, ...chain.hqTokens };
  const service = (name: Service['name'], url: string, app: Express, tokens: Partial<Record<Role, string>>): Service => ({
    name,
    url,
    app,
    tokens,
    auth: (route) => (route.owner && 'roles' in route.owner ? tokens[route.owner.roles[0]!] : undefined),
  });
  return [
    service('ingest', chain.ingest.url, chain.ingest.service.app, store),
    service('inventory', chain.inventory.url, chain.inventory.service.app, store),
    service('trends', chain.trends.url, chain.trends.service.app, store),
    service('sync', chain.sync.url, chain.sync.app, store),
    service('hq', chain.hq.url, chain.hq.app, hq),
  ];
}

/**
 * The routes anyone may call, each reviewed: what it gives a stranger. Every
 * other route must declare an owner (an `allow` guard) and refuse strangers.
 * A route added without a guard, or a new anonymous one, fails the walk below
 * until it is listed here with its reason.
 */
const ANONYMOUS: Record<string, string> = {
  'ingest GET /healthz': 'liveness only ("ok")',
  'inventory GET /healthz': 'liveness only',
  'trends GET /healthz': 'liveness only',
  'sync GET /healthz': 'liveness only',
  'hq GET /healthz': 'liveness only',
  // Generated from contracts and the routes' guards: paths, shapes and role names, never a figure, a store id, a URL or a setting.
  'ingest GET /openapi.json': "the API's description for terminal vendors; no data",
  'inventory GET /openapi.json': "the store API's description; no data",
  'trends GET /openapi.json': "the sales API's description; no data",
  'sync GET /openapi.json': "the sync API's description; no data",
  'hq GET /openapi.json': "HQ's API description; no data",
  'inventory GET /': 'the sign-in form, or the page shell for a signed-in viewer; no figures',
  'hq GET /': 'the sign-in form, or the page shell for a signed-in viewer; no figures',
  'inventory GET /dashboard/:file': "the dashboard's static scripts and styles",
  'hq GET /dashboard/:file': "the dashboard's static scripts and styles",
  'inventory POST /v1/session': 'sign-in itself: a token in, a session cookie out (form body of at most 4 KiB)',
  'hq POST /v1/session': 'sign-in itself',
};

/** Routes that take no JSON body (sign-in takes a form, sign-out nothing): the JSON edge rules do not apply to them. */
const NOT_JSON = new Set(['inventory POST /v1/session', 'hq POST /v1/session', 'inventory POST /v1/session/end', 'hq POST /v1/session/end']);

describe('every route has an owner', () => {
  it("walks every route of every service as its routers declare it: 401 without credentials or with an unknown token (before any body is read), 403 with another role's token, except the reviewed anonymous list", async () => {
    const chain = await startChain();
    const s001 = await testStoreCertificate('S001');
    const faults: string[] = [];
    const anonymous = new Set<string>();
    let guarded = 0;
    for (const s of servicesOf(chain)) {
      const port = Number(new URL(s.url).port);
      const routes = listRoutes(s.app);
      expect(routes.length).toBeGreaterThan(3);
      for (const route of routes) {
        const key = `${s.name} ${route.method} ${route.path}`;
        if (!route.owner) {
          faults.push(`${key}: declares no owner (put an allow(role) guard first in its definition)`);
          continue;
        }
        if ('anonymous' in route.owner) {
          anonymous.add(key);
          if (!ANONYMOUS[key]) faults.push(`${key}: anonymous ("${route.owner.anonymous}") but not on the reviewed list`);
          continue;
        }
        guarded++;
        const method = route.method === '*' ? 'GET' : route.method;
        const path = route.path.replace(/:[A-Za-z]+/g, 'S001');
        const ask = async (token: string | undefined, declaredLength?: number) => {
          const headers: Array<[string, string]> = [['content-type', 'application/json'], ['idempotency-key', 'S001-1-1'], ...(token ? ([['authorization', `Bearer ${token}`]] as Array<[string, string]>) : [])];
          const client = storeRoute(s.name, route.path) ? s001 : undefined;
          return (await send(port, requestHead({ what: key, method, path, headers, ...(declaredLength === undefined ? {} : { declaredLength }) }), undefined, client)).status;
        };
        const expectStatus = (what: string, got: number | undefined, want: number) => {
          if (got !== want) faults.push(`${key} ${what}: ${got ?? 'no answer'}, expected ${want}`);
        };
        expectStatus('without credentials', await ask(undefined), 401);
        expectStatus('with an unknown token', await ask('tt_0000000000000000000000000000000000000000000'), 401);
        // 10 GB declared and never sent: the answer comes from the head alone, so no body was read first.
        if (method !== 'GET') expectStatus('without credentials, 10 GB declared', await ask(undefined, 10 * 1024 ** 3), 401);
        const wrong = (Object.keys(s.tokens) as Role[]).find((role) => !admits(route.owner && 'roles' in route.owner ? route.owner.roles : [], role));
        if (wrong) expectStatus(`as a ${wrong}`, await ask(s.tokens[wrong]), 403);
        else faults.push(`${key}: every role of its site may call it; is it meant to be anonymous?`);
        // Its own role gets past the guard (whatever the route then says of an empty request).
        const own = await ask(s.auth(route));
        if (own === 401 || own === 403 || own === undefined) faults.push(`${key} as its own role: ${own ?? 'no answer'}`);
      }
    }
    expect(faults).toEqual([]);
    expect([...anonymous].sort()).toEqual(Object.keys(ANONYMOUS).sort());
    expect(guarded).toBeGreaterThan(30);
  }, 300_000);
});

describe('no 5xx and no hang for any client mistake on any route', () => {
  it('walks every route of ingest, the store API, trends, sync and HQ with hostile methods, paths, headers and bodies; every JSON endpoint applies the edge rules', async () => {
    const chain = await startChain();
    // HQ's store routes check the store's client certificate first: the probes present S001's, so
    // that they reach the token check and the body rules behind it (without one, all are 401).
    const s001 = await testStoreCertificate('S001');
    const asS001 = await testStoreFetch('S001');
    const services = servicesOf(chain);
    const work: Array<{ service: string; port: number; probe: Probe; client?: { cert: string; key: string } }> = [];
    const routeCount: Record<string, number> = {};
    for (const s of services) {
      const routes = listRoutes(s.app);
      routeCount[s.name] = routes.length;
      // The routes come from the routers: a service with none listed would make this test vacuous.
      expect(routes.length).toBeGreaterThan(3);
      const port = Number(new URL(s.url).port);
      for (const route of routes) for (const probe of probes(route, s.auth(route))) work.push({ service: s.name, port, probe, ...(storeRoute(s.name, route.path) ? { client: s001 } : {}) });
      // Paths no router declares, on each service.
      for (const path of ['/dashboard/constructor', '/dashboard/__proto__', '/constructor', '/__proto__', '/%00', '/%', `/${'x'.repeat(9000)}`]) {
        work.push({ service: s.name, port, probe: { what: 'undeclared path', method: 'GET', path, headers: [] } });
      }
    }
    expect(routeCount).toMatchObject({ ingest: expect.any(Number), inventory: expect.any(Number), trends: expect.any(Number), sync: expect.any(Number), hq: expect.any(Number) });

    const before = heapAfterGc();
    // What the services logged from here on is what the hostile requests caused.
    const logsFrom = Object.fromEntries(Object.entries(chain.logs).map(([name, logs]) => [name, logs.length]));
    const failures: string[] = [];
    let answered = 0;
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const { service, port, probe, client } = work[next++]!;
        const answer = await send(port, requestHead(probe), probe.declaredLength === undefined ? probe.body : undefined, client);
        if (answer.fault || answer.status === undefined || answer.status >= 500) {
          failures.push(`${service} ${probe.method} ${probe.path.slice(0, 80)} (${probe.what}): ${answer.fault ?? answer.status}`);
        } else answered++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures).toEqual([]);
    expect(answered).toBe(work.length);
    for (const [name, logs] of Object.entries(chain.logs)) expect(errorLines(logs.slice(logsFrom[name])), `${name} logged errors`).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    // The edge rules hold on every JSON endpoint of every service: each route that takes a body
    // (its router's POST/PUT/PATCH routes) refuses these with the same problem, pointer included.
    const edgeCases: Array<[string, Record<string, string>, string, number, string, string | undefined]> = [
      ['a key twice', {}, '{"a":1,"b":{"c":1,"c":2}}', 400, 'DUPLICATE_KEY', '/b/c'],
      ['a NUL', {}, '{"a":{"b":"Bread\\u0000"}}', 400, 'INVALID_TEXT', '/a/b'],
      ['a lone surrogate', {}, '{"a":["\\udc00"]}', 400, 'INVALID_TEXT', '/a/0'],
      ['charset iso-8859-1', { 'content-type': 'application/json; charset=iso-8859-1' }, '{"a":1}', 415, 'UNSUPPORTED_CHARSET', undefined],
    ];
    const refusedWrongly: string[] = [];
    let jsonEndpoints = 0;
    for (const s of services) {
      for (const route of listRoutes(s.app).filter((r) => !r.prefix && ['POST', 'PUT', 'PATCH'].includes(r.method) && !NOT_JSON.has(`${s.name} ${r.method} ${r.path}`))) {
        jsonEndpoints++;
        const auth = s.auth(route);
        for (const [what, headers, body, status, code, at] of edgeCases) {
          const res = await (storeRoute(s.name, route.path) ? asS001 : fetch)(`${s.url}${route.path.replace(/:[A-Za-z]+/g, 'S001')}`, {
            method: route.method,
            headers: { 'content-type': 'application/json', 'idempotency-key': 'S001-1-1', ...(auth ? { authorization: `Bearer ${auth}` } : {}), ...headers },
            body,
          });
          const problem = (await res.json()) as { code?: string; errors?: Array<{ pointer: string }> };
          if (res.status !== status || problem.code !== code || (at !== undefined && problem.errors?.[0]?.pointer !== at)) {
            refusedWrongly.push(`${s.name} ${route.method} ${route.path} (${what}): ${res.status} ${JSON.stringify(problem).slice(0, 200)}`);
          }
        }
      }
    }
    expect(refusedWrongly).toEqual([]);
    expect(jsonEndpoints).toBeGreaterThan(5);
    const after = heapAfterGc();
    // Loose on purpose (no timing, no tight figure): thousands of requests leave no lasting heap.
    expect(after - before).toBeLessThan(64 * 1024 * 1024);
    console.log(`edge fuzz: ${work.length} requests over ${JSON.stringify(routeCount)} routes, ${jsonEndpoints} JSON endpoints; heap ${(before / 2 ** 20).toFixed(0)} MB -> ${(after / 2 ** 20).toFixed(0)} MB`);
  }, 300_000);
});
