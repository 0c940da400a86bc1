import type { ErrorRequestHandler, Request, Response } from 'express';
import type { z } from 'zod';
import { TillstreamError, errorCode, isRetriable } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';

/**
 * The catalog of problem codes every Tillstream API answers with: one stable
 * code, one HTTP status, one title. Clients check `code`; `detail` is for
 * people. docs/problems.md lists them and a test keeps the two in sync.
 */
export const PROBLEMS = {
  MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  BODY_TOO_DEEP: { status: 400, title: 'The body nests too deeply' },
  FORBIDDEN_KEY: { status: 400, title: 'The body uses a forbidden key' },
  DUPLICATE_KEY: { status: 400, title: 'The body gives a key twice in one object' },
  INVALID_TEXT: { status: 400, title: 'A string holds a control character or is not well-formed Unicode' },
  BAD_CONTENT_ENCODING: { status: 400, title: 'The body cannot be decoded as its Content-Encoding says' },
  BAD_REQUEST: { status: 400, title: 'The request is malformed' },
  VALIDATION_FAILED: { status: 400, title: 'The body does not match the schema' },
  BAD_QUERY: { status: 400, title: 'The query parameters are not valid' },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, title: 'An Idempotency-Key header is required' },
  UNAUTHORIZED: { status: 401, title: 'Missing or invalid credentials' },
  FORBIDDEN: { status: 403, title: 'These credentials may not do this' },
  NOT_FOUND: { status: 404, title: 'No such resource' },
  IDEMPOTENCY_IN_FLIGHT: { status: 409, title: 'The same request is being processed' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The body must be application/json' },
  UNSUPPORTED_CHARSET: { status: 415, title: 'The body must be UTF-8' },
  UNSUPPORTED_ENCODING: { status: 415, title: 'The Content-Encoding is not accepted' },
  UNPROCESSABLE: { status: 422, title: 'The document is well-formed but cannot be accepted' },
  CARD_NUMBER_DETECTED: { status: 422, title: 'The request contains what looks like a payment card number' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'This idempotency key was used with a different body' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal error' },
  BROKER_UNAVAILABLE: { status: 503, title: 'The event broker cannot take writes right now' },
  DATABASE_UNAVAILABLE: { status: 503, title: 'The database is unavailable' },
  OVERLOADED: { status: 503, title: 'The service is at capacity' },
  UPSTREAM_UNAVAILABLE: { status: 503, title: 'The service behind this path does not answer' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/** A field that failed, as an RFC 6901 JSON Pointer into the request body. */
export interface ProblemField {
  pointer: string;
  message: string;
}

/** An RFC 9457 problem body. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  instance?: string;
  errors?: ProblemField[];
}

/** An error an API answers with a problem body; `code` picks status and title from the catalog. */
export class HttpProblem extends TillstreamError {
  declare readonly code: ProblemCode;
  readonly status: number;

  constructor(
    code: ProblemCode,
    detail: string,
    readonly extra: { errors?: ProblemField[]; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(code, detail, { cause: extra.cause, retriable: PROBLEMS[code].status >= 500 });
    this.name = 'HttpProblem';
    this.status = PROBLEMS[code].status;
  }

  body(instance?: string): ProblemBody {
    return {
      type: `https://tillstream.dev/problems/${this.code.toLowerCase().replaceAll('_', '-')}`,
      title: PROBLEMS[this.code].title,
      status: this.status,
      detail: this.message,
      code: this.code,
      ...(instance ? { instance } : {}),
      ...(this.extra.errors?.length ? { errors: this.extra.errors } : {}),
    };
  }
}

/** "lines.0.quantity" as a JSON Pointer: "/lines/0/quantity". */
export function pointer(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/**
 * A failed zod parse as a problem. Shape errors (types, missing or unknown
 * fields) are 400; a document whose shape is right but whose content breaks a
 * business rule (balance, check digits, references) is 422. Messages come
 * from the schema, never from the rejected values.
 */
export function validationProblem(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): HttpProblem {
  const errors = error.issues.slice(0, 50).map((i) => ({ pointer: pointer([...prefix, ...i.path]), message: i.message }));
  const semantic = error.issues.every((i) => i.code === 'custom');
  const first = errors[0];
  const detail = `${error.issues.length} problem(s); first: ${first ? `${first.pointer || '/'} ${first.message}` : 'unknown'}`;
  return new HttpProblem(semantic ? 'UNPROCESSABLE' : 'VALIDATION_FAILED', detail, { errors });
}

export function sendProblem(res: Response, problem: HttpProblem, req?: Request): void {
  if (problem.extra.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(problem.extra.retryAfterSeconds));
  if (problem.code === 'UNAUTHORIZED') res.setHeader('WWW-Authenticate', 'Bearer');
  // A card-number refusal never repeats the request: its URL may be where the number is.
  res.status(problem.status).type('application/problem+json').json(problem.body(problem.code === 'CARD_NUMBER_DETECTED' ? undefined : req?.originalUrl));
}

/** Errors body-parser and express raise for client mistakes, by their `type`. */
const EXPRESS_CLIENT_ERRORS: Record<string, ProblemCode> = {
  'entity.too.large': 'PAYLOAD_TOO_LARGE',
  'entity.parse.failed': 'MALFORMED_JSON',
  'encoding.unsupported': 'UNSUPPORTED_MEDIA_TYPE',
  'charset.unsupported': 'UNSUPPORTED_MEDIA_TYPE',
  'request.aborted': 'MALFORMED_JSON',
};

/** Turns anything thrown into an error an API can answer with. */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  const type = (err as { type?: unknown })?.type;
  if (typeof type === 'string' && EXPRESS_CLIENT_ERRORS[type]) {
    return new HttpProblem(EXPRESS_CLIENT_ERRORS[type], (err as Error).message, { cause: err });
  }
  // What express and its router raise for a client's mistake (a path that is
  // not valid percent-encoding, ...): http-errors with a 4xx status. Their
  // messages may quote the request, so the detail is ours.
  const status = (err as { status?: unknown; statusCode?: unknown } | undefined)?.status ?? (err as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code: ProblemCode = status === 404 ? 'NOT_FOUND' : status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    return new HttpProblem(code, code === 'BAD_REQUEST' ? 'the request is malformed (its path, query or headers)' : PROBLEMS[code].title, { cause: err });
  }
  const code = errorCode(err);
  if (code === 'DATABASE_UNAVAILABLE') return new HttpProblem('DATABASE_UNAVAILABLE', 'the database is unavailable; retry later', { retryAfterSeconds: 2, cause: err });
  if (isRetriable(err)) return new HttpProblem('OVERLOADED', 'a dependency is unavailable; retry later', { retryAfterSeconds: 2, cause: err });
  return new HttpProblem('INTERNAL', 'internal error', { cause: err });
}

/**
 * The one error middleware: maps codes to statuses, logs server faults (never
 * bodies). `classify` lets a service name its drivers' errors first (a
 * PostgreSQL outage becomes DATABASE_UNAVAILABLE, 503, instead of a 500).
 */
export function problemMiddleware(logger: Logger, options: { classify?: (err: unknown) => unknown } = {}): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const problem = toProblem(options.classify ? options.classify(err) : err);
    if (problem.status >= 500) {
      // req.log names the request (requestLogging); an app without it logs through the service's logger.
      (req.log ?? logger).error({ err: problem.cause ?? problem, code: problem.code, route: (req.route as { path?: unknown } | undefined)?.path, method: req.method }, 'request failed');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, problem, req);
  };
}

/** The JSON body parsed with a schema; 400 VALIDATION_FAILED with a pointer per field at fault. */
export function parseBody<T extends z.ZodType>(schema: T, req: Request): z.output<T> {
  const parsed = schema.safeParse(req.body);
  if (!parsed.success) throw validationProblem(parsed.error);
  return parsed.data;
}

/** Query parameters parsed with a schema; 400 BAD_QUERY naming each parameter at fault as /query/<name>. */
export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.output<T> {
  const parsed = schema.safeParse(req.query);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ pointer: `/query/${i.path.join('/') || (i as { keys?: string[] }).keys?.join(',') || ''}`, message: i.message }));
    throw new HttpProblem('BAD_QUERY', `${errors.length} problem(s) with the query: ${errors[0]?.pointer} ${errors[0]?.message}`, { errors });
  }
  return parsed.data;
}
