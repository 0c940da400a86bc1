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
