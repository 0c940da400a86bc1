import { isValidGtin } from '@tillstream/contracts';

/** Luhn (mod 10) over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

// Runs of digits, optionally grouped by single spaces or dashes the way card
// numbers are printed ("4111 1111 1111 1111", "4111-1111-1111-1111").
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True if `text` holds a Luhn-valid run of 13 to 19 digits (a payment card number). */
export function containsCardNumber(text: string): boolean {
  if (text.length < 13 || UUID.test(text)) return false;
  for (const match of text.matchAll(DIGIT_RUN)) {
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
  }
  return false;
}

function numberIsCard(n: number): boolean {
  if (!Number.isInteger(n)) return false;
  const digits = Math.abs(n).toString();
  if (!/^\d+$/.test(digits) || digits.length < 13 || digits.length > 19) return false;
  // Beyond 2^53 the digits were already rounded by JSON.parse and cannot be
  // checked; a 16-19 digit integer has no place in a POS document anyway.
  return Number.isSafeInteger(n) ? luhnValid(digits) : true;
}

/** True if a string at a field named `key` holds a card number (a valid GTIN in a `gtin` field is a barcode). */
export function stringIsCard(value: string, key: string | number | undefined): boolean {
  if (key === 'gtin' && isValidGtin(value)) return false;
  return containsCardNumber(value);
}

export { numberIsCard };

/**
 * The path of the first field (string or number, at any depth, keys
 * included) that holds a payment card number, or undefined. A valid GTIN in a
 * `gtin` field is a barcode, not a card, and UUIDs are identifiers.
 */
export function findCardNumber(value: unknown): Array<string | number> | undefined {
  const stack: Array<{ value: unknown; path: Array<string | number>; key?: string }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path, key } = stack.pop()!;
    if (typeof v === 'string') {
      if (stringIsCard(v, key)) return path;
    } else if (typeof v === 'number') {
      if (numberIsCard(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (containsCardNumber(k)) return path; // the parent: the key itself must not be echoed
        stack.push({ value: item, path: [...path, k], key: k });
      }
    }
  }
  return undefined;
}
