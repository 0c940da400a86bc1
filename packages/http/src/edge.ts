import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { visit } from 'jsonc-parser';

/**
 * The edge rules for text every Tillstream API applies to every JSON body
 * (keys and string values alike), so that what an API acknowledges is what
 * every consumer can book and what the client sent:
 *
 * - no control characters: C0 (U+0000-U+001F, tab, line feed and carriage
 *   return included), DEL (U+007F) and C1 (U+0080-U+009F). PostgreSQL refuses
 *   NUL in text (22021) and `\u0000` in jsonb (22P05); the others are never
 *   part of what a till prints (a receipt line is one line) and only hide
 *   what a field says from whoever reads it.
 * - well-formed Unicode only: a lone UTF-16 surrogate (`"\ud800"`) cannot be
 *   encoded as UTF-8 at all, so a database, a broker header or a log line
 *   would each store something else than what was sent (22P05 in jsonb).
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export type TextFault = 'control' | 'surrogate';

/** Why `text` breaks the edge rules, or undefined when it keeps them. */
export function textFault(text: string): TextFault | undefined {
  if (CONTROL.test(text)) return 'control';
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) return 'surrogate';
  return undefined;
}

/** The message of a text fault: says which rule, never repeats the text. */
export function textFaultMessage(fault: TextFault, text: string): string {
  if (fault === 'surrogate') return 'is not well-formed Unicode (a lone UTF-16 surrogate)';
  const at = CONTROL.exec(text)!;
  const code = at[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
  return `holds the control character U+${code} at index ${at.index}; control characters (C0 including tab and line breaks, DEL, C1) are not accepted`;
}

/**
 * The path of the first key that appears twice in one object of a JSON text
 * (the duplicate itself, e.g. ["lines", 0, "quantity"]), or undefined.
 * JSON.parse keeps the last of duplicated keys silently, so
 * `{"quantity": -1, "quantity": 2}` would be read as something else than a
 * reviewer of the sent body sees. Call it only on text JSON.parse accepted.
 *
 * jsonc-parser's `visit` (Microsoft's JSON scanner behind VS Code, maintained,
 * no dependencies) walks the text once without building a tree; keys are
 * compared decoded, so `"a"` and `"\u0061"` are the same key.
 */
export function findDuplicateKey(text: string): Array<string | number> | undefined {
  const objects: Array<Set<string>> = [];
  let found: Array<string | number> | undefined;
  visit(text, {
    onObjectBegin: () => {
      objects.push(new Set());
      return !found;
    },
    onObjectEnd: () => {
      objects.pop();
    },
    onObjectProperty: (property, _offset, _length, _line, _column, pathSupplier) => {
      if (found) return;
      const keys = objects[objects.length - 1]!;
      if (keys.has(property)) found = [...pathSupplier(), property];
      keys.add(property);
    },
    onArrayBegin: () => !found,
  });
  return found;
}

/** The charset a Content-Type declares (lower case, unquoted), or undefined. */
export function declaredCharset(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  return match ? (match[1] ?? match[2] ?? '').toLowerCase() : undefined;
}

const EXPECTS_CONTINUE = Symbol('tillstream.expectsContinue');
type Continuable = IncomingMessage & { [EXPECTS_CONTINUE]?: boolean };

/**
 * Sends `100 Continue` to a client that waits for it (`Expect: 100-continue`
 * on a server set up by hardenServer), once the request passed every check
 * that comes before its body (auth, type, declared size). A no-op otherwise.
 */
export function sendContinue(req: IncomingMessage, res: ServerResponse): void {
  const pending = req as Continuable;
  if (!pending[EXPECTS_CONTINUE]) return;
  pending[EXPECTS_CONTINUE] = false;
  res.writeContinue();
}

/**
 * What every Tillstream HTTP server does before express sees a request.
 * Node answers `Expect: 100-continue` with `100 Continue` by itself, inviting
 * the body before anyone looked at the request; here the request goes to
 * `handler` without it, and the body parser sends it (sendContinue) only when
 * the request may send its body: a 10 GB upload is answered 413 without a
 * byte of it being sent. Such a connection is closed after the answer (the
 * client may or may not have sent the body; the stream cannot be trusted).
 */
export function hardenServer(server: Server, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  server.on('checkContinue', (req: Continuable, res: ServerResponse) => {
    req[EXPECTS_CONTINUE] = true;
    res.setHeader('connection', 'close');
    handler(req, res);
  });
}
