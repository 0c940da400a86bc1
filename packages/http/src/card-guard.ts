import type { RequestHandler } from 'express';
import { containsCardNumber } from './card-numbers.ts';
import { HttpProblem } from './problem.ts';

/**
 * Headers the guard leaves to others: credentials (random tokens, checked by
 * the auth middleware and never logged; a refusal must not depend on a
 * token's digits) and what proxies and tracers write (IP lists, hex trace
 * ids). The Idempotency-Key is scanned like any header, and the routes that
 * read it also refuse 13 digits in a row (IdempotencyKey; HQ's BatchId:
 * machine-made, no number over 12 digits).
 */
const UNSCANNED_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'traceparent', 'tracestate', 'x-forwarded-for', 'forwarded']);

/** Percent-decoding that never throws: bytes that are not UTF-8 are decoded one by one (the digits in them still count). */
function decode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

// eslint-disable-next-line no-control-regex -- anything outside ASCII
const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * A header value as node hands it over (each byte a Latin-1 character) and,
 * when it has bytes past ASCII, as the UTF-8 text a client most likely meant:
 * a card number in either reading is refused.
 */
function headerHoldsCard(value: string): boolean {
  return containsCardNumber(value) || (NON_ASCII.test(value) && containsCardNumber(Buffer.from(value, 'latin1').toString('utf8')));
}

/** 422 for a card number in the request line or a header: says where, never what. */
function refusal(where: string, pointer: string): HttpProblem {
  return new HttpProblem('CARD_NUMBER_DETECTED', `payment card numbers must never be sent; ${where} holds what looks like one`, {
    errors: [{ pointer, message: 'holds what looks like a card number' }],
  });
}

/**
 * Refuses a request whose path, query string or headers hold a payment card
 * number (see containsCardNumber), before any route, auth or body parser
 * sees it: a card in a path parameter ("PUT /v1/inventory/items/4111.../settings")
 * would otherwise be stored, produced and copied to HQ like any SKU. The
 * path and the query are scanned percent-decoded, each header value (and
 * name) read as Latin-1 and as UTF-8. The problem names the part (/path, /query, /headers/<name>)
 * and never repeats what was sent; sendProblem leaves out `instance` for it.
 */
export function cardNumberGuard(options: { onCardNumber?: () => void } = {}): RequestHandler {
  return (req, res, next) => {
    const url = req.originalUrl;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    let found: HttpProblem | undefined;
    if (containsCardNumber(decode(path))) found = refusal('the request path', '/path');
    else if (q >= 0 && containsCardNumber(decode(url.slice(q + 1).replaceAll('+', ' ')))) found = refusal('the query string', '/query');
    else {
      const raw = req.rawHeaders;
      for (let i = 0; i + 1 < raw.length && !found; i += 2) {
        const name = raw[i]!.toLowerCase();
        if (containsCardNumber(name)) found = refusal('a header name', '/headers');
        else if (!UNSCANNED_HEADERS.has(name) && headerHoldsCard(raw[i + 1]!)) found = refusal(`the ${name} header`, `/headers/${name}`);
      }
    }
    if (found) {
      options.onCardNumber?.();
      res.setHeader('connection', 'close'); // its body is never read
    }
    next(found);
  };
}
