import express, { type RequestHandler } from 'express';
import { inspectBody, type Finding } from './inspect.ts';
import { HttpProblem, pointer } from './problem.ts';

export interface JsonBodyOptions {
  /** Largest body accepted, in bytes; larger gets 413 before it is read whole. */
  limitBytes: number;
  /** Deepest nesting accepted (objects and arrays); default 32. */
  maxDepth?: number;
  /** Called when a card number was found (count it in a metric); the number itself is never passed on. */
  onCardNumber?: () => void;
  /**
   * Scan every field for card numbers (default true). False only where the
   * body is machine-made and the documents a person typed into are scanned
   * by the route itself (HQ's store batches: ids and epoch milliseconds
   * there are long digit runs, and one in ten passes Luhn).
   */
  cardNumbers?: boolean;
}

/** 422 for a card number at `path` (the number itself is never echoed). */
export function cardNumberProblem(path: Array<string | number>): HttpProblem {
  return new HttpProblem('CARD_NUMBER_DETECTED', 'payment card numbers must never be sent; send the processor token and last four digits', {
    errors: [{ pointer: pointer(path), message: 'holds what looks like a card number' }],
  });
}

function problemOf(finding: Finding, maxDepth: number, onCardNumber?: () => void): HttpProblem {
  const at = pointer(finding.path);
  switch (finding.kind) {
    case 'depth':
      return new HttpProblem('BODY_TOO_DEEP', `nesting deeper than ${maxDepth} levels is not accepted`, {
        errors: [{ pointer: at, message: `nests deeper than ${maxDepth} levels` }],
      });
    case 'key':
      return new HttpProblem('FORBIDDEN_KEY', `the key "${finding.key}" is not accepted anywhere in a body`, {
        errors: [{ pointer: at, message: `has forbidden key "${finding.key}"` }],
      });
    case 'card':
      onCardNumber?.();
      return cardNumberProblem(finding.path);
  }
}

/**
 * The JSON body parser of every Tillstream API, hardened for hostile input:
 * 415 unless the body is application/json (or +json), 413 past the limit,
 * 400 for malformed JSON, nesting deeper than `maxDepth` or a
 * `__proto__`/`constructor`/`prototype` key, and 422 for anything that looks
 * like a payment card number (which is then dropped, never logged or stored).
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler[] {
  const maxDepth = options.maxDepth ?? 32;
  const raw = express.raw({ type: () => true, limit: options.limitBytes });
  const checkType: RequestHandler = (req, _res, next) => {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type)) {
      next(new HttpProblem('UNSUPPORTED_MEDIA_TYPE', `content type "${type.slice(0, 100)}" is not accepted; send application/json`));
      return;
    }
    next();
  };
  const parse: RequestHandler = (req, _res, next) => {
    const buffer = req.body as unknown;
    if (!Buffer.isBuffer(buffer) || buffer.length === 0) {
      next(new HttpProblem('MALFORMED_JSON', 'the body is empty; send a JSON document'));
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(buffer.toString('utf8'));
    } catch (err) {
      next(err instanceof RangeError
        ? new HttpProblem('BODY_TOO_DEEP', 'the body nests too deeply to parse')
        : new HttpProblem('MALFORMED_JSON', 'the body is not valid JSON'));
      return;
    }
    const found = inspectBody(parsed, maxDepth, options.cardNumbers ?? true);
    if (found) {
      next(problemOf(found, maxDepth, options.onCardNumber));
      return;
    }
    req.body = parsed;
    next();
  };
  return [checkType, raw, parse];
}
