import { z } from 'zod';
import { BusinessDay, Identifier, Rfc3339 } from './pos-transaction.ts';

/**
 * Quarantine: the one place where a record that can never be processed as it
 * is waits, visible, until someone fixes the cause and replays it or discards
 * it with a recorded reason (docs/quarantine.md).
 *
 * - `dead-letter`: a consumer dead-lettered a record (it is also on the
 *   topic's dead-letter topic, error in headers);
 * - `upload-refused`: HQ refused an outbox record with a non-retriable 4xx
 *   and sync isolated it.
 */
export const QuarantineSource = z.enum(['dead-letter', 'upload-refused']);
export type QuarantineSource = z.infer<typeof QuarantineSource>;

export const QuarantineStatus = z.enum(['open', 'replayed', 'discarded']);
export type QuarantineStatus = z.infer<typeof QuarantineStatus>;

/** Who resolved an entry, when, and why (the reason is required for a discard). */
export const QuarantineResolutionV1 = z.strictObject({
  actor: z.string().min(1).max(200),
  at: Rfc3339,
  reason: z.string().max(2000).nullable(),
});
export type QuarantineResolution = z.infer<typeof QuarantineResolutionV1>;

/**
 * One quarantine entry as the store forwards it to HQ (sync stream
 * `quarantine`, keyed by entry id): every change of its status is a new
 * revision, and HQ keeps the highest revision per (store, entry id).
 */
export const QuarantineEntryV1 = z.strictObject({
  /** Stable within the store: the store's quarantine row id, in decimal. */
  entryId: z.string().regex(/^[A-Za-z0-9-]{1,40}$/),
  storeId: Identifier,
  source: QuarantineSource,
  /** The service that set it aside: "inventory", "trends", "sync". */
  service: z.string().min(1).max(64),
  /** Dead letters: the topic (as deployed) and position of the record that failed. */
  topic: z.string().max(249).nullable(),
  partition: z.number().int().min(0).nullable(),
  offset: z.string().regex(/^\d{1,19}$/).nullable(),
  /** Upload refusals: the sync outbox record HQ refused. */
  outboxId: z.string().regex(/^\d{1,19}$/).nullable(),
  /** The error's stable code (SQLSTATE-derived, schema, HTTP problem code). */
  code: z.string().min(1).max(100),
  /** The error's text, card-like digit runs masked. */
  message: z.string().max(2000),
  /** When the record is a POS transaction (or derives from one). */
  transactionId: z.uuid().nullable(),
  businessDay: BusinessDay.nullable(),
  quarantinedAt: Rfc3339,
  status: QuarantineStatus,
  resolution: QuarantineResolutionV1.nullable(),
  /** 1 when quarantined, +1 on every status change. */
  revision: z.number().int().positive(),
});
export type QuarantineEntry = z.infer<typeof QuarantineEntryV1>;

/**
 * An error text as an operator may see it and as HQ accepts it: control
 * characters (a database error may quote the offending value, NUL
 * included) become spaces, lone UTF-16 surrogates U+FFFD, and card-like
 * digit runs are masked.
 */
export function safeErrorText(text: string, maxLength = 2000): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
  const printable = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return maskCardLikeDigits(printable).slice(0, maxLength);
}

const UUID_ANYWHERE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
// Runs of digits grouped by single spaces or dashes the way card numbers are printed.
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;

/**
 * Masks every run of 13 or more digits (card-like, Luhn-valid or not, spaced
 * or dashed) but its last four: error texts and headers shown to operators
 * never print a card number, even one that slipped into an error message.
 * UUIDs (transaction ids) are left readable.
 */
export function maskCardLikeDigits(text: string): string {
  let out = '';
  let from = 0;
  for (const m of text.matchAll(UUID_ANYWHERE)) {
    out += maskRuns(text.slice(from, m.index)) + m[0];
    from = m.index + m[0].length;
  }
  return out + maskRuns(text.slice(from));
}

function maskRuns(text: string): string {
  return text.replace(DIGIT_RUN, (run) => {
    const digits = run.replace(/[ -]/g, '');
    return digits.length >= 13 ? `[${digits.length} digits masked, ends ${digits.slice(-4)}]` : run;
  });
}
