import type { ErrorRequestHandler, Request, Response } from 'express';
import type { z } from 'zod';
import { HTTP_PROBLEMS, TillstreamError, errorCode, isRetriable, type HttpProblemCode } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';

/**
 * The catalog of problem codes every Tillstream API answers with: one stable
 * code, one HTTP status, one title, its retriable flag. Clients check `code`;
 * `detail` is for people. It is the HTTP part of the error-code registry
 * (packages/contracts/src/errors.ts); docs/problems.md lists every code and a
 * test keeps the two in sync.
 */
export const PROBLEMS = HTTP_PROBLEMS;

export type ProblemCode = HttpProblemCode;

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
    super(code, detail, { cause: extra.cause });
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
