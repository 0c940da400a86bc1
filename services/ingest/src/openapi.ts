import { z } from 'zod';
import { IngestBatchResponse, IngestReceipt, MAX_BATCH_TRANSACTIONS, PosTransactionV1, ProblemDocument } from '@tillstream/contracts';
import { PROBLEMS } from '@tillstream/http';

const json = (name: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } } });
const schema = (s: z.ZodType) => z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });

function problems(...codes: Array<keyof typeof PROBLEMS>) {
  const byStatus = new Map<number, Array<keyof typeof PROBLEMS>>();
  for (const code of codes) byStatus.set(PROBLEMS[code].status, [...(byStatus.get(PROBLEMS[code].status) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      { description: list.map((c) => `${c}: ${PROBLEMS[c].title}`).join('; '), content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
    ]),
  );
}

const common = ['UNAUTHORIZED', 'FORBIDDEN', 'UNSUPPORTED_MEDIA_TYPE', 'UNSUPPORTED_CHARSET', 'UNSUPPORTED_ENCODING', 'PAYLOAD_TOO_LARGE', 'MALFORMED_JSON', 'BAD_CONTENT_ENCODING', 'BAD_REQUEST', 'BODY_TOO_DEEP', 'FORBIDDEN_KEY', 'DUPLICATE_KEY', 'INVALID_TEXT', 'VALIDATION_FAILED', 'CARD_NUMBER_DETECTED', 'RATE_LIMITED', 'BROKER_UNAVAILABLE', 'DATABASE_UNAVAILABLE', 'OVERLOADED'] as const;

/** The OpenAPI document of the ingest API, generated from the zod schemas in @tillstream/contracts. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: { title: 'Tillstream ingest API', version: '1.0.0', description: 'POS terminals post transactions (contract v1). A 2xx means the store broker has it on disk.' },
    components: {
      securitySchemes: { terminalToken: { type: 'http', scheme: 'bearer', description: 'Per-terminal token from `npx tillstream terminal add`' } },
      schemas: {
        PosTransactionV1: schema(PosTransactionV1),
        IngestReceipt: schema(IngestReceipt),
        IngestBatchRequest: {
          type: 'object',
          required: ['transactions'],
          additionalProperties: false,
          properties: { transactions: { type: 'array', minItems: 1, maxItems: MAX_BATCH_TRANSACTIONS, items: { $ref: '#/components/schemas/PosTransactionV1' } } },
        },
        IngestBatchResponse: schema(IngestBatchResponse),
        Problem: schema(ProblemDocument),
      },
    },
    security: [{ terminalToken: [] }],
    paths: {
      '/v1/transactions': {
        post: {
          summary: 'Capture one POS transaction',
          requestBody: { required: true, ...json('PosTransactionV1') },
          responses: {
            '201': { description: 'Captured: the broker acknowledged it', ...json('IngestReceipt') },
            '200': {
              description: 'Already captured with this body: the original receipt (header Idempotent-Replayed: true)',
              headers: { 'Idempotent-Replayed': { schema: { type: 'string', enum: ['true'] } } },
              ...json('IngestReceipt'),
            },
            ...problems(...common, 'IDEMPOTENCY_IN_FLIGHT', 'IDEMPOTENCY_KEY_REUSED', 'UNPROCESSABLE'),
          },
        },
      },
      '/v1/transactions/batch': {
        post: {
          summary: "Capture a terminal's offline backlog: a result per item",
          requestBody: { required: true, ...json('IngestBatchRequest') },
          responses: {
            '200': { description: 'Each item with its own status (201, 200, 4xx, 503) and receipt or problem', ...json('IngestBatchResponse') },
            ...problems(...common),
          },
        },
      },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'The process is alive' } } } },
      '/readyz': { get: { summary: 'Readiness: broker and database', security: [], responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready; the failing checks are listed' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', security: [], responses: { '200': { description: 'text/plain exposition format' } } } },
      '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.0' } } } },
    },
  };
}
