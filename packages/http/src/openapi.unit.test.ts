import { Validator } from '@seriousme/openapi-schema-validator';
import { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HqDashboardSnapshot, StoreDashboardSnapshot, dashboardApi, forecastApi, hqApi, ingestApi, inventoryApi, salesApi, syncApi, type ApiOperation } from '@tillstream/contracts';
import { allow, anonymous } from './auth.ts';
import { forward } from './forward.ts';
import { openApiDocument } from './openapi.ts';
import { listRoutes } from './routes.ts';

const Thing = z.strictObject({ id: z.string(), n: z.number().int() }).meta({ id: 'Thing' });

const operations: ApiOperation[] = [
  { method: 'GET', path: '/v1/things/:id', summary: 'One thing', params: z.strictObject({ id: z.string() }), query: z.strictObject({ full: z.enum(['yes', 'no']).optional() }), responses: { 200: { description: 'The thing', schema: Thing } } },
  { method: 'POST', path: '/v1/things', summary: 'Make a thing', body: Thing, responses: { 201: { description: 'Made', schema: Thing } }, problems: ['IDEMPOTENCY_IN_FLIGHT'] },
  { method: 'GET', path: '/v1/open', summary: 'Open to anyone', responses: { 200: { description: 'Hello', schema: z.string(), contentType: 'text/plain' } } },
  { method: 'GET', path: '/v1/stores/:storeId/limits', summary: "A store's", params: z.strictObject({ storeId: z.string() }), responses: { 200: { description: 'Limits', schema: Thing } } },
  { method: 'GET', path: '/v1/elsewhere/summary', summary: 'Answered by the service behind a forward', responses: { 200: { description: 'Its answer', schema: Thing } } },
];

function routes() {
  const router = Router();
  const ok = () => undefined;
  router.get('/v1/things/:id', allow('store-viewer'), ok);
  router.post('/v1/things', allow('store-manager'), ok);
  router.get('/v1/open', anonymous('a greeting'), ok);
  router.get('/v1/stores/:storeId/limits', allow('store'), ok);
  router.use(forward({ prefix: '/v1/elsewhere', target: 'http://127.0.0.1:9', name: 'elsewhere', guard: allow('store-viewer') }));
  return listRoutes(router);
}

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown; responses: Record<string, { content?: Record<string, { schema: unknown }> }>; parameters?: Array<{ in: string; name: string; required?: boolean }> }>>;
  components: { schemas: Record<string, unknown> };
};

describe('openApiDocument', () => {
  it("takes each operation's security from its route's guard, and adds the problems its guard, query, body, path and forward imply", () => {
    const doc = openApiDocument(routes(), { title: 'Test', description: 'A test API', operations }) as unknown as Doc;
    expect(doc.openapi).toBe('3.1.0');
    const thing = doc.paths['/v1/things/{id}']!.get!;
    // People's roles take a bearer token or a dashboard session; OpenAPI 3.1 lists the role as the requirement.
    expect(thing.security).toEqual([{ bearer: ['store-viewer'] }, { session: ['store-viewer'] }]);
    expect(Object.keys(thing.responses).sort()).toEqual(['200', '400', '401', '403', '404', '422', '503']);
    expect(thing.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Thing' });
    expect(thing.responses['401']!.content!['application/problem+json']!.schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(thing.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'path', name: 'id', required: true }), expect.objectContaining({ in: 'query', name: 'full' })]));

    const make = doc.paths['/v1/things']!.post!;
    expect(make.security).toEqual([{ bearer: ['store-manager'] }, { session: ['store-manager'] }]);
    expect(Object.keys(make.responses)).toEqual(expect.arrayContaining(['201', '400', '409', '413', '415', '422']));

    expect(doc.paths['/v1/open']!.get!.security).toEqual([]);
    // A store's routes take its client certificate and its token, both.
    expect(doc.paths['/v1/stores/{storeId}/limits']!.get!.security).toEqual([{ storeCertificate: [], bearer: ['store'] }]);
    // A forwarded operation: the forward's guard, and 503 when the service behind does not answer.
    const elsewhere = doc.paths['/v1/elsewhere/summary']!.get!;
    expect(elsewhere.security).toEqual([{ bearer: ['store-viewer'] }, { session: ['store-viewer'] }]);
    expect(elsewhere.responses['503']).toBeDefined();
    // Every app's operations routes are documented too.
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/openapi.json']));
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Thing', 'Problem', 'Readiness']));
  });

  it('refuses a problem code the error catalog does not define (a typo would document an answer nobody gives)', () => {
    expect(() => openApiDocument(routes(), { title: 'Test', description: 'x', operations: [{ ...operations[1]!, problems: ['IDEMPOTENCY_IN_FLYGHT'] }] })).toThrow(/IDEMPOTENCY_IN_FLYGHT/);
  });

  it("builds a valid OpenAPI 3.1 document (the specification's own JSON schema) for every service's API", async () => {
    const apis: Record<string, readonly ApiOperation[]> = {
      ingest: ingestApi,
      store: [...inventoryApi, ...salesApi, ...forecastApi, ...syncApi, ...dashboardApi(StoreDashboardSnapshot)],
      trends: [...salesApi, ...forecastApi],
      sync: syncApi,
      hq: [...hqApi, ...dashboardApi(HqDashboardSnapshot)],
    };
    const faults: string[] = [];
    for (const [name, api] of Object.entries(apis)) {
      // Owners as the services declare them: store people, the store's own routes, the terminal's.
      const owned = api.map((op) => ({ method: op.method, path: op.path, prefix: false, owner: { roles: [op.path.startsWith('/v1/stores/:') ? 'store' : name === 'ingest' ? 'terminal' : 'store-viewer'] as const } }));
      const result = await new Validator().validate(JSON.parse(JSON.stringify(openApiDocument(owned, { title: name, description: name, operations: api }))) as Record<string, unknown>);
      if (!result.valid) faults.push(`${name}: ${JSON.stringify(result.errors).slice(0, 2000)}`);
    }
    expect(faults).toEqual([]);
  });
});
