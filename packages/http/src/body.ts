import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { RequestHandler } from 'express';
import type { TextRule } from '@tillstream/contracts';
import getRawBody from 'raw-body';
import { declaredCharset, findDuplicateKey, sendContinue, textFaultMessage } from './edge.ts';
import { inspectBody, type Finding } from './inspect.ts';
import { HttpProblem, pointer } from './problem.ts';

export interface JsonBodyOptions {
  /** Largest body accepted, in bytes (after Content-Encoding is undone); larger gets 413 before it is read whole. */
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
  /**
   * The rule for every key and string (see @tillstream/contracts textFault):
   * 'printable' (default: no control characters, well-formed Unicode) for
   * what clients send; 'storable' (no NUL, well-formed Unicode) only where
   * the body carries records a store already acknowledged under the v1
   * contract (HQ's store batches): refusing a tab there would stop that
   * store's uploads for good.
   */
  text?: TextRule;
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
    case 'text': {
      const message = `${finding.inKey ? 'its key ' : ''}${textFaultMessage(finding.fault!, finding.text!)}`;
      return new HttpProblem('INVALID_TEXT', `${at || '/'} ${message}`, { errors: [{ pointer: at, message }] });
    }
  }
}

/** Content-Encodings a client may compress a body with; the limit applies to what they inflate to. */
const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate, br: createBrotliDecompress };

/** A body the reader could not take, as a problem (never repeating what was sent). */
function readProblem(err: unknown, limitBytes: number): HttpProblem {
  const type = (err as { type?: unknown }).type;
  if (type === 'entity.too.large') return new HttpProblem('PAYLOAD_TOO_LARGE', `the body is over the limit of ${limitBytes} bytes`);
  if (type === 'request.size.invalid') return new HttpProblem('BAD_REQUEST', 'the body is not as long as its Content-Length says');
  if (type === 'request.aborted') return new HttpProblem('BAD_REQUEST', 'the client ended the request before its body was complete');
  if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('Z_')) {
    return new HttpProblem('BAD_CONTENT_ENCODING', 'the body cannot be decoded as its Content-Encoding says (corrupt or truncated)');
  }
  return new HttpProblem('BAD_REQUEST', 'the body could not be read', { cause: err });
}

/**
 * The JSON body parser of every Tillstream API, hardened for hostile input:
 *
 * - 415 unless the body is application/json (or +json) in UTF-8: a declared
 *   charset other than utf-8 is refused, never guessed at; a
 *   Content-Encoding other than identity, gzip, deflate or br is refused;
 * - 413 at once (the connection then closed, nothing of the body read) when
 *   the declared Content-Length is over the limit; 413 as soon as a body
 *   without one (chunked, compressed) passes it; a client waiting for
 *   `100 Continue` gets it only after these checks (see hardenServer);
 * - 400 for malformed JSON or a body that cannot be decoded, nesting deeper
 *   than `maxDepth`, a `__proto__`/`constructor`/`prototype` key, a key
 *   twice in one object (DUPLICATE_KEY), or a key or string with a control
 *   character or a lone surrogate (INVALID_TEXT, see edge.ts); each with the
 *   JSON Pointer of the field;
 * - 422 for anything that looks like a payment card number (which is then
 *   dropped, never logged or stored).
 *
 * Every refusal of a body not read whole closes the connection: the rest of
 * that body is never waited for.
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler[] {
  const maxDepth = options.maxDepth ?? 32;
  const limit = options.limitBytes;
  const checkHead: RequestHandler = (req, res, next) => {
    const type = req.headers['content-type'] ?? '';
    const refuse = (problem: HttpProblem) => {
      res.setHeader('connection', 'close');
      next(problem);
    };
    if (!/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type)) {
      refuse(new HttpProblem('UNSUPPORTED_MEDIA_TYPE', `content type "${type.slice(0, 100)}" is not accepted; send application/json`));
      return;
    }
    const charset = declaredCharset(type);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      refuse(new HttpProblem('UNSUPPORTED_CHARSET', `charset "${charset.slice(0, 40)}" is not accepted; send the body in UTF-8 (with charset=utf-8 or no charset)`));
      return;
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && !DECODERS[encoding]) {
      refuse(new HttpProblem('UNSUPPORTED_ENCODING', `content encoding "${encoding.slice(0, 40)}" is not accepted; send identity, gzip, deflate or br`));
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      refuse(new HttpProblem('PAYLOAD_TOO_LARGE', `the body is over the limit of ${limit} bytes`));
      return;
    }
    sendContinue(req, res);
    next();
  };
  const read: RequestHandler = (req, res, next) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const decoder = encoding === 'identity' ? undefined : DECODERS[encoding]!();
    const stream: Readable = decoder ? (req.pipe(decoder) as unknown as Readable) : req;
    const length = decoder ? undefined : req.headers['content-length'];
    getRawBody(stream, { limit, ...(length !== undefined ? { length } : {}) }, (err, body) => {
      if (decoder) {
        req.unpipe(decoder);
        decoder.on('error', () => {});
        (decoder as unknown as Readable).destroy();
      }
      if (err) {
        res.setHeader('connection', 'close');
        next(readProblem(err, limit));
        return;
      }
      req.body = body;
      next();
    });
  };
  const parse: RequestHandler = (req, _res, next) => {
    const buffer = req.body as unknown;
    if (!Buffer.isBuffer(buffer) || buffer.length === 0) {
      next(new HttpProblem('MALFORMED_JSON', 'the body is empty; send a JSON document'));
      return;
    }
    const text = buffer.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      next(err instanceof RangeError
        ? new HttpProblem('BODY_TOO_DEEP', 'the body nests too deeply to parse')
        : new HttpProblem('MALFORMED_JSON', 'the body is not valid JSON'));
      return;
    }
    // Bytes that are not UTF-8 decode to U+FFFD: refuse them rather than store a replacement character.
    if (text.includes('\ufffd') && !Buffer.from(text, 'utf8').equals(buffer)) {
      next(new HttpProblem('UNSUPPORTED_CHARSET', 'the body is not valid UTF-8; send it in UTF-8'));
      return;
    }
    const found = inspectBody(parsed, maxDepth, options.cardNumbers ?? true, options.text ?? 'printable');
    if (found) {
      next(problemOf(found, maxDepth, options.onCardNumber));
      return;
    }
    const duplicate = typeof parsed === 'object' && parsed !== null ? findDuplicateKey(text) : undefined;
    if (duplicate) {
      next(new HttpProblem('DUPLICATE_KEY', `${pointer(duplicate)} is given twice in one object; send each key once`, {
        errors: [{ pointer: pointer(duplicate), message: 'is given more than once in its object' }],
      }));
      return;
    }
    req.body = parsed;
    next();
  };
  return [checkHead, read, parse];
}
