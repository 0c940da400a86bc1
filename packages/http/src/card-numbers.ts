import { isValidGtin } from '@tillstream/contracts';

/** Luhn (mod 10) over a string of digits. */
export function luhnValid(digits: string): boolean {
  return luhn(digits.length, (k) => digits.charCodeAt(k) - 48);
}

/** Luhn (mod 10) over `length` digits, the k-th given by `digitAt` (one loop for strings and the scanner's buffer). */
function luhn(length: number, digitAt: (k: number) => number): boolean {
  let sum = 0;
  let double = false;
  for (let k = length - 1; k >= 0; k--) {
    let d = digitAt(k);
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Digits of the current run (a card has at most 19; longer runs are only counted). */
const run = new Uint8Array(19);

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * True if `text` holds a Luhn-valid run of 13 to 19 digits (a payment card
 * number). A run is digits, optionally grouped by single spaces or dashes
 * the way card numbers are printed ("4111 1111 1111 1111",
 * "4111-1111-1111-1111"): the maximal matches of /\d(?:[ -]?\d)*\/g, taken
 * left to right. One pass over the characters with no allocation: the cost
 * is linear in the text and small per character, whatever the text holds
 * (the regular expression with a match object and a copy per run took up to
 * 180 ns per character on runs like "1 -1 -"; BENCHMARKS.md, fairness).
 */
export function containsCardNumber(text: string): boolean {
  const n = text.length;
  if (n < 13 || (n === 36 && UUID.test(text))) return false;
  let i = 0;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    let length = 0;
    let j = i;
    for (;;) {
      const c = text.charCodeAt(j);
      if (isDigit(c)) {
        if (length < 19) run[length] = c - 48;
        length++;
        j++;
      } else if ((c === 32 || c === 45) && j + 1 < n && isDigit(text.charCodeAt(j + 1))) {
        j++; // a single separator between two digits
      } else {
        break;
      }
    }
    if (length >= 13 && length <= 19 && luhn(length, (k) => run[k]!)) return true;
    i = j;
  }
  return false;
}


/** True for an integer of 13-19 digits that passes Luhn, or that is too large to check. */
export function numberIsCard(n: number): boolean {
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
