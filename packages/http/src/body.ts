import express, { type RequestHandler } from 'express';
import { containsCardNumber, numberIsCard, stringIsCard } from './card-numbers.ts';
import { HttpProblem, pointer } from './problem.ts';

/** Keys that could reach an object's prototype in careless code downstream. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface JsonBodyOptions {
  /** Largest body accepted, in bytes; larger gets 413 before it is read whole. */
  limitBytes: number;
  /** Deepest nesting accepted (objects and arrays); default 32. */
  maxDepth?: number;
  /** Called when a card number was found (count it in a metric); the number itself is never passed on. */
  onCardNumber?: () => void;
}

interface Node {
  value: unknown;
  depth: number;
  parent: number;
  key: string | number | undefined;
}

type Finding = { kind: 'depth' | 'key' | 'card'; at: number; key?: string };

/** Path of node `at` from the root, rebuilt from parent links (only when there is something to report). */
function pathOf(nodes: Node[], at: number): Array<string | number> {
  const path: Array<string | number> = [];
  for (let i = at; i > 0; i = nodes[i]!.parent) path.unshift(nodes[i]!.key!);
  return path;
}

/**
 * One pass over a parsed body, without recursion (a hostile body must not
 * exhaust the stack) and without building a path per node (the common case
 * finds nothing): depth, forbidden keys and card numbers.
 */
function inspect(body: unknown, maxDepth: number): { finding: Finding; nodes: Node[] } | undefined {
  const nodes: Node[] = [{ value: body, depth: 0, parent: -1, key: undefined }];
  const todo = [0];
  while (todo.length > 0) {
    const at = todo.pop()!;
    const { value, depth, key } = nodes[at]!;
    if (typeof value === 'string') {
      if (value.length >= 13 && stringIsCard(value, key)) return { finding: { kind: 'card', at }, nodes };
      continue;
    }
    if (typeof value === 'number') {
      if (numberIsCard(value)) return { finding: { kind: 'card', at }, nodes };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= maxDepth) return { finding: { kind: 'depth', at }, nodes };
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        todo.push(nodes.push({ value: value[i], depth: depth + 1, parent: at, key: i }) - 1);
      }
      continue;
    }
    for (const k of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(k)) return { finding: { kind: 'key', at, key: k }, nodes };
      if (k.length >= 13 && containsCardNumber(k)) return { finding: { kind: 'card', at }, nodes }; // the parent: never echo the key
      todo.push(nodes.push({ value: (value as Record<string, unknown>)[k], depth: depth + 1, parent: at, key: k }) - 1);
    }
  }
  return undefined;
}

function problemOf(found: { finding: Finding; nodes: Node[] }, maxDepth: number, onCardNumber?: () => void): HttpProblem {
  const at = pointer(pathOf(found.nodes, found.finding.at));
  switch (found.finding.kind) {
    case 'depth':
      return new HttpProblem('BODY_TOO_DEEP', `nesting deeper than ${maxDepth} levels is not accepted`, {
        errors: [{ pointer: at, message: `nests deeper than ${maxDepth} levels` }],
      });
    case 'key':
      return new HttpProblem('FORBIDDEN_KEY', `the key "${found.finding.key}" is not accepted anywhere in a body`, {
        errors: [{ pointer: at, message: `has forbidden key "${found.finding.key}"` }],
      });
    case 'card':
      onCardNumber?.();
      return new HttpProblem('CARD_NUMBER_DETECTED', 'payment card numbers must never be sent; send the processor token and last four digits', {
        errors: [{ pointer: at, message: 'holds what looks like a card number' }],
      });
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
    const found = inspect(parsed, maxDepth);
    if (found) {
      next(problemOf(found, maxDepth, options.onCardNumber));
      return;
    }
    req.body = parsed;
    next();
  };
  return [checkType, raw, parse];
}
