import { containsCardNumber, numberIsCard, stringIsCard } from './card-numbers.ts';
import { textFault, type TextFault, type TextRule } from '@tillstream/contracts';

/** Keys that could reach an object's prototype in careless code downstream. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export type Finding = {
  kind: 'depth' | 'key' | 'card' | 'text';
  path: Array<string | number>;
  key?: string;
  /** For 'text': which rule, the offending text (never echoed, only described) and whether it is the key at `path`. */
  fault?: TextFault;
  text?: string;
  inKey?: boolean;
};

/**
 * One pass over a parsed body: depth, forbidden keys, the rule for text
 * (`text`, see @tillstream/contracts textFault) on every key and string, and
 * (unless `cardNumbers` is false) card numbers.
 * Recursion is safe here: it stops at `maxDepth` (JSON.parse itself refuses
 * absurd nesting with a RangeError). One shared path stack, copied only when
 * there is something to report: the common case allocates almost nothing.
 */
export function inspectBody(body: unknown, maxDepth: number, cardNumbers = true, text: TextRule = 'printable', machineIds?: ReadonlySet<string>): Finding | undefined {
  const path: Array<string | number> = [];
  const visit = (value: unknown, key: string | number | undefined, depth: number): Finding | undefined => {
    if (typeof value === 'string') {
      const fault = textFault(value, text);
      if (fault) return { kind: 'text', path: [...path], fault, text: value };
      if (machineIds?.has(key as string)) return undefined;
      return cardNumbers && stringIsCard(value, key) ? { kind: 'card', path: [...path] } : undefined;
    }
    if (typeof value === 'number') return cardNumbers && numberIsCard(value) ? { kind: 'card', path: [...path] } : undefined;
    if (value === null || typeof value !== 'object') return undefined;
    if (depth >= maxDepth) return { kind: 'depth', path: [...path] };
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        const found = visit(value[i], i, depth + 1);
        path.pop();
        if (found) return found;
      }
      return undefined;
    }
    for (const k of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(k)) return { kind: 'key', path: [...path], key: k };
      const fault = textFault(k, text);
      if (fault) return { kind: 'text', path: [...path, k], fault, text: k, inKey: true };
      if (cardNumbers && containsCardNumber(k)) return { kind: 'card', path: [...path] }; // the parent: never echo the key
      path.push(k);
      const found = visit((value as Record<string, unknown>)[k], k, depth + 1);
      path.pop();
      if (found) return found;
    }
    return undefined;
  };
  return visit(body, undefined, 0);
}

/**
 * The path of the first field (string or number, at any depth, keys
 * included) that holds a payment card number, or undefined. A valid GTIN in a
 * `gtin` field is a barcode, not a card, and UUIDs are identifiers.
 * `machineIds` names fields whose strings are ids a service made (digits
 * joined by separators, which the scanner would read as one run) and that
 * their schema checks instead.
 */
export function findCardNumber(value: unknown, options: { machineIds?: ReadonlySet<string> } = {}): Array<string | number> | undefined {
  const found = inspectBody(value, Number.POSITIVE_INFINITY, true, 'storable', options.machineIds);
  return found?.kind === 'card' ? found.path : undefined;
}
