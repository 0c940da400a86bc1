/**
 * The error-code registry: every code a Tillstream package or service
 * raises on purpose, over HTTP (RFC 9457 problems) and off it (dead letters,
 * quarantine, sync, the infra tool, configuration), each with its
 * `retriable` flag and, for HTTP problems, its status and title.
 * docs/problems.md documents every code and a test keeps the two in sync.
 *
 * `retriable`: the same operation, unchanged, may succeed later. Consumers
 * retry a retriable error and dead-letter the rest; HTTP clients retry a
 * retriable problem after `Retry-After` and fix the request otherwise.
 */
export interface ErrorSpec {
  readonly retriable: boolean;
  /** The HTTP status, for a problem an API answers with. */
  readonly status?: number;
  readonly title: string;
}

/** Problems every Tillstream API answers with (packages/http's catalog). */
export const HTTP_PROBLEMS = {
  MALFORMED_JSON: { status: 400, retriable: false, title: 'The body is not valid JSON' },
  BODY_TOO_DEEP: { status: 400, retriable: false, title: 'The body nests too deeply' },
  FORBIDDEN_KEY: { status: 400, retriable: false, title: 'The body uses a forbidden key' },
  DUPLICATE_KEY: { status: 400, retriable: false, title: 'The body gives a key twice in one object' },
  INVALID_TEXT: { status: 400, retriable: false, title: 'A string holds a control character or is not well-formed Unicode' },
  BAD_CONTENT_ENCODING: { status: 400, retriable: false, title: 'The body cannot be decoded as its Content-Encoding says' },
  BAD_REQUEST: { status: 400, retriable: false, title: 'The request is malformed' },
  VALIDATION_FAILED: { status: 400, retriable: false, title: 'The body does not match the schema' },
  BAD_QUERY: { status: 400, retriable: false, title: 'The query parameters are not valid' },
  IDEMPOTENCY_KEY_REQUIRED: { status: 400, retriable: false, title: 'An Idempotency-Key header is required' },
  UNAUTHORIZED: { status: 401, retriable: false, title: 'Missing or invalid credentials' },
  FORBIDDEN: { status: 403, retriable: false, title: 'These credentials may not do this' },
  NOT_FOUND: { status: 404, retriable: false, title: 'No such resource' },
  IDEMPOTENCY_IN_FLIGHT: { status: 409, retriable: true, title: 'The same request is being processed' },
  PAYLOAD_TOO_LARGE: { status: 413, retriable: false, title: 'The body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retriable: false, title: 'The body must be application/json' },
  UNSUPPORTED_CHARSET: { status: 415, retriable: false, title: 'The body must be UTF-8' },
  UNSUPPORTED_ENCODING: { status: 415, retriable: false, title: 'The Content-Encoding is not accepted' },
  UNPROCESSABLE: { status: 422, retriable: false, title: 'The document is well-formed but cannot be accepted' },
  CARD_NUMBER_DETECTED: { status: 422, retriable: false, title: 'The request contains what looks like a payment card number' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, retriable: false, title: 'This idempotency key was used with a different body' },
  RATE_LIMITED: { status: 429, retriable: true, title: 'Too many requests' },
  INTERNAL: { status: 500, retriable: true, title: 'Internal error' },
  BROKER_UNAVAILABLE: { status: 503, retriable: true, title: 'The event broker cannot take writes right now' },
  DATABASE_UNAVAILABLE: { status: 503, retriable: true, title: 'The database is unavailable' },
  OVERLOADED: { status: 503, retriable: true, title: 'The service is at capacity' },
  UPSTREAM_UNAVAILABLE: { status: 503, retriable: true, title: 'The service behind this path does not answer' },
} as const satisfies Record<string, ErrorSpec & { status: number }>;

/** Errors off HTTP: dead-letter headers, quarantine entries, sync, jobs, configuration, the infra tool. */
export const PIPELINE_ERRORS = {
  // Consumers: why a record went to its dead-letter topic (header tillstream-error-code).
  RECORD_EMPTY: { retriable: false, title: 'The record has no value' },
  RECORD_NOT_JSON: { retriable: false, title: 'The record value is not JSON' },
  EVENT_INVALID: { retriable: false, title: "The event does not match its topic's schema" },
  WRONG_STORE: { retriable: false, title: "A transaction of another store on this store's topic" },
  HANDLER_FAILED: { retriable: false, title: 'The handler failed without a code of its own' },
  PRODUCE_RECEIPT_MISSING: { retriable: false, title: 'The broker returned no offset for a produced record' },
  // PostgreSQL, classified (packages/db).
  DATABASE_STATEMENT_INVALID: { retriable: true, title: 'A prepared statement became invalid (schema changed under it)' },
  DATABASE_ERROR: { retriable: false, title: 'The database refused the statement' },
  // Kafka access.
  KAFKA_ACCESS_DENIED: { retriable: false, title: "The broker refused this process' principal" },
  KAFKA_TOPICS_MISSING: { retriable: false, title: "The service's topics are not provisioned" },
  KAFKA_TOO_FEW_BROKERS: { retriable: false, title: 'The cluster has fewer brokers than its replication factor' },
  // BullMQ jobs and Redis.
  JOB_INVALID: { retriable: false, title: "The job's data does not match its queue's catalog" },
  REDIS_LOGIN_REFUSED: { retriable: false, title: "Redis refused the service's ACL user" },
  // Store -> HQ sync.
  HQ_UNAVAILABLE: { retriable: true, title: 'HQ could not take the request now' },
  HQ_REJECTED: { retriable: false, title: 'HQ refused the request' },
  // Configuration.
  ENV_INVALID: { retriable: false, title: 'The environment is not valid' },
  CONFIG_INVALID: { retriable: false, title: 'An option is not valid' },
  // The local infrastructure tool.
  JAVA_MISSING: { retriable: false, title: 'java is not on PATH' },
  MAVEN_MISSING: { retriable: false, title: 'mvn is not on PATH' },
  KAFKA_JARS_UNRESOLVED: { retriable: false, title: "Maven could not resolve Kafka's jars" },
  PORT_TAKEN: { retriable: false, title: "Another process holds a broker's port" },
  BROKER_NOT_SECURED: { retriable: false, title: 'A broker answers without SASL_SSL' },
  BROKER_FORMAT_FAILED: { retriable: false, title: "Formatting a broker's storage failed" },
  BROKER_SPAWN_FAILED: { retriable: false, title: 'java could not be spawned for a broker' },
  BROKER_EXITED: { retriable: false, title: 'A broker exited during start' },
  BROKER_START_TIMEOUT: { retriable: true, title: 'A broker did not answer in time' },
  BROKER_UNHEALTHY: { retriable: false, title: 'A broker runs but does not answer' },
  POSTGRES_DOWN: { retriable: true, title: 'PostgreSQL does not answer' },
  POSTGRES_START_FAILED: { retriable: false, title: 'PostgreSQL failed to start' },
  REDIS_DOWN: { retriable: true, title: 'Redis does not answer' },
  REDIS_START_FAILED: { retriable: false, title: 'redis-server failed to start' },
} as const satisfies Record<string, ErrorSpec>;

/** Every code, HTTP and not; DATABASE_UNAVAILABLE and BROKER_UNAVAILABLE are both (an API's 503, a consumer's retry). */
export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorSpec>> = { ...HTTP_PROBLEMS, ...PIPELINE_ERRORS };

export type HttpProblemCode = keyof typeof HTTP_PROBLEMS;
export type ErrorCode = HttpProblemCode | keyof typeof PIPELINE_ERRORS;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * The one error base class of Tillstream. Every error a package or service
 * throws on purpose carries a stable `code` from the registry (checked across
 * packages instead of `instanceof`, which breaks across module copies) and a
 * `retriable` flag that decides retry versus dead-letter (consumers) or 503
 * versus 4xx (APIs): the registry's, unless the thrower knows better.
 */
export class TillstreamError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TillstreamError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
  }
}

/** Reads `code` off anything thrown, if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `retriable` off anything thrown: TillstreamError, kafkajs errors and classified driver errors carry it. */
export function isRetriable(err: unknown): boolean | undefined {
  const value = (err as { retriable?: unknown } | null)?.retriable;
  return typeof value === 'boolean' ? value : undefined;
}
