import { identifier } from './pos-transaction.ts';

/** Most characters of a request id: a UUID is 36; room for a proxy's own format, never for a document. */
export const REQUEST_ID_MAX_LENGTH = 128;

/**
 * The id that follows one request from the terminal to HQ's views (the
 * `X-Request-Id` header, the `tillstream-request-id` Kafka header, a
 * transaction's `requestId` in a store's upload). It is copied into every
 * log line on the way, so it is a plain token: letters, digits, ".", "-",
 * "_", at most {@link REQUEST_ID_MAX_LENGTH}, never 13 digits in a row.
 */
export const RequestId = identifier(REQUEST_ID_MAX_LENGTH, /^[A-Za-z0-9._-]+$/, 'must be letters, digits, ".", "-" or "_"');
