import { Router, type Request } from 'express';
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponseObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { ProblemDocument, Readiness, type ApiOperation, type Role } from '@tillstream/contracts';
import { anonymous, type RouteOwner } from './auth.ts';
import { PROBLEMS, type ProblemCode } from './problem.ts';
import { listRoutes, type AppRoute } from './routes.ts';

export type OpenApiDocument = ReturnType<typeof createDocument>;

export interface OpenApiOptions {
  title: string;
  description: string;
  /** The service's documented operations: its own and those it forwards to another service. */
  operations: readonly ApiOperation[];
}

/**
 * Why /openapi.json is open to anyone: it is generated from the schemas in
 * @tillstream/contracts and the routes' own guards, and holds paths, shapes
 * and role names only, never a figure, a store id, a URL or a setting.
 */
export const OPENAPI_ANONYMOUS_REASON = "the API's shape (paths, schemas, the role each route needs) generated from contracts: no data, no URLs, no settings";

const Problem = ProblemDocument.meta({ id: 'Problem', description: 'RFC 9457 problem details; `code` is stable, `errors` point at the fields at fault' });
const Text = z.string();

/** What every service's app answers besides its own routes (operationsRouter and this document). */
export const operationsApi: readonly ApiOperation[] = [
  { method: 'GET', path: '/healthz', summary: 'Liveness: the process is alive (no dependency checks)', responses: { 200: { description: 'ok', schema: z.strictObject({ status: z.literal('ok') }) } } },
  {
    method: 'GET',
    path: '/readyz',
    summary: 'Readiness: every dependency answers',
    responses: { 200: { description: 'Ready', schema: Readiness }, 503: { description: 'Not ready; the failing checks are listed', schema: Readiness } },
  },
  { method: 'GET', path: '/metrics', summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain', schema: Text } } },
  { method: 'GET', path: '/openapi.json', summary: 'This document (OpenAPI 3.1)', responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } } },
];

const BODY_PROBLEMS: readonly ProblemCode[] = [
  'MALFORMED_JSON',
  'BODY_TOO_DEEP',
  'FORBIDDEN_KEY',
  'DUPLICATE_KEY',
  'INVALID_TEXT',
  'BAD_CONTENT_ENCODING',
  'VALIDATION_FAILED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNSUPPORTED_CHARSET',
  'UNSUPPORTED_ENCODING',
];

/** ":sku" to "{sku}". */
export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z_]\w*)/g, '{$1}');

/** The route of `routes` that answers `op`: its own, else the prefix mount (a forward) it falls under. */
export function routeFor(routes: readonly AppRoute[], op: Pick<ApiOperation, 'method' | 'path'>): AppRoute | undefined {
  return (
    routes.find((r) => !r.prefix && r.method === op.method && r.path === op.path) ??
    routes.find((r) => r.prefix && (op.path === r.path || op.path.startsWith(`${r.path}/`)))
  );
}

const USER_ROLES: ReadonlySet<Role> = new Set(['store-manager', 'store-viewer', 'hq-viewer', 'hq-admin']);

/** OpenAPI 3.1 lets non-OAuth schemes list role names: the owner's roles become the requirement. */
function security(owner: RouteOwner | undefined): Array<Record<string, string[]>> | undefined {
  if (!owner) return undefined;
  if ('anonymous' in owner) return [];
  const roles = [...owner.roles];
  if (roles.includes('store')) return [{ storeCertificate: [], bearer: roles }];
  return roles.every((r) => USER_ROLES.has(r)) ? [{ bearer: roles }, { session: roles }] : [{ bearer: roles }];
}

function problemResponses(codes: Iterable<ProblemCode>): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set(codes)) byStatus.set(PROBLEMS[code].status, [...(byStatus.get(PROBLEMS[code].status) ?? []), code]);
  return Object.fromEntries(
    [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [String(status), { description: list.map((c) => `${c}: ${PROBLEMS[c].title}`).join('; '), content: { 'application/problem+json': { schema: Problem } } }]),
  );
}

function isProblemCode(code: string): code is ProblemCode {
  return Object.hasOwn(PROBLEMS, code);
}

function operationObject(op: ApiOperation, route: AppRoute | undefined): ZodOpenApiOperationObject {
  const owner = route?.owner;
  const guarded = owner !== undefined && 'roles' in owner;
  const codes: ProblemCode[] = [];
  if (guarded) codes.push('UNAUTHORIZED', 'FORBIDDEN', 'DATABASE_UNAVAILABLE');
  if (op.query) codes.push('BAD_QUERY');
  if (op.params) codes.push('NOT_FOUND');
  if (op.body) codes.push(...BODY_PROBLEMS);
  // The card-number guard reads every request's path, query and headers.
  codes.push('CARD_NUMBER_DETECTED');
  if (route?.prefix) codes.push('UPSTREAM_UNAVAILABLE');
  for (const code of op.problems ?? []) {
    if (!isProblemCode(code)) throw new Error(`${op.method} ${op.path} documents problem code ${code}, which PROBLEMS does not define`);
    codes.push(code);
  }
  const responses: Record<string, ZodOpenApiResponseObject> = {};
  for (const [status, response] of Object.entries(op.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.headers
        ? { headers: z.object(Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, z.string().meta({ description })]))) }
        : {}),
      ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: response.schema } } } : {}),
    };
  }
  const sec = security(owner);
  const roles = owner && 'roles' in owner ? owner.roles : undefined;
  return {
    operationId: `${op.method.toLowerCase()}${op.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: op.summary,
    ...(op.description || roles || (owner && 'anonymous' in owner)
      ? {
          description: [
            op.description,
            roles ? `Who may call it: ${roles.join(' or ')} (and the roles above it).` : undefined,
            owner && 'anonymous' in owner ? `Anonymous: ${owner.anonymous}.` : undefined,
          ]
            .filter(Boolean)
            .join(' '),
        }
      : {}),
    ...(sec ? { security: sec } : {}),
    ...(roles ? { 'x-roles': [...roles] } : {}),
    ...(op.params || op.query || op.headers
      ? {
          requestParams: {
            ...(op.params ? { path: op.params } : {}),
            ...(op.query ? { query: op.query } : {}),
            ...(op.headers
              ? { header: z.object(Object.fromEntries(Object.entries(op.headers).map(([name, h]) => [name, h.required ? z.string().meta({ description: h.description }) : z.string().meta({ description: h.description }).optional()]))) }
              : {}),
          },
        }
      : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } } : {}),
    responses: { ...problemResponses(codes), ...responses },
  };
}

/**
 * The OpenAPI 3.1 document of an app: its operations (and the operations
 * routes every app has), each with its security requirement taken from the
 * guard its route declares (`routes`, from listRoutes), its parameters, body
 * and answers from the zod schemas in @tillstream/contracts, and the
 * problem+json answers its guard, query, body and path imply.
 */
export function openApiDocument(routes: readonly AppRoute[], options: OpenApiOptions): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  for (const op of [...operationsApi, ...options.operations]) {
    const path = openApiPath(op.path);
    paths[path] = { ...paths[path], [op.method.toLowerCase()]: operationObject(op, routeFor(routes, op)) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: { title: options.title, version: '1.0.0', description: options.description },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token of the role the operation lists (terminals: `tillstream terminal add`; people: `tillstream user add`; stores: `tillstream store add`)' },
        session: { type: 'apiKey', in: 'cookie', name: 'tillstream_session', description: "A dashboard sign-in's session cookie (POST /v1/session)" },
        storeCertificate: { type: 'mutualTLS', description: "The store's client certificate (OU=store, CN=<store id>) signed by the chain CA, and its bearer token: both" },
      },
    },
    paths,
  });
}

/** GET /openapi.json, generated on first request from `options` and the routes of the app that mounts it (so owners come from the guards). */
export function openApiRouter(options: OpenApiOptions): Router {
  const router = Router();
  let document: string | undefined;
  router.get('/openapi.json', anonymous(OPENAPI_ANONYMOUS_REASON), (req: Request, res) => {
    document ??= JSON.stringify(openApiDocument(listRoutes(req.app), options));
    res.type('application/json').send(document);
  });
  return router;
}
