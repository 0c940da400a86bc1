/**
 * The one error base class of Tillstream. Every error a package or service
 * throws on purpose carries a stable `code` (checked across packages instead
 * of `instanceof`, which breaks across module copies) and a `retriable` flag
 * that decides retry versus dead-letter (consumers) or 503 versus 4xx (APIs).
 */
export class TillstreamError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TillstreamError';
    this.code = code;
    this.retriable = options.retriable ?? false;
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
