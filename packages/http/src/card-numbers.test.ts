import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containsCardNumber, luhnValid } from './card-numbers.ts';
import { findCardNumber } from './inspect.ts';

describe('card number detection', () => {
  it('finds Luhn-valid runs of 13 to 19 digits, bare or grouped by spaces or dashes', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(containsCardNumber('4111111111111111')).toBe(true);
    expect(containsCardNumber('card 4111 1111 1111 1111 exp 12/29')).toBe(true);
    expect(containsCardNumber('3400-000000-00009')).toBe(true); // Amex, 15 digits
    expect(containsCardNumber('6011000990139424')).toBe(true);
  });

  it('leaves alone what is not a card: Luhn-invalid runs, short or long runs, UUIDs', () => {
    expect(containsCardNumber('4111111111111112')).toBe(false);
    expect(containsCardNumber('411111111111')).toBe(false); // 12 digits
    expect(containsCardNumber('41111111111111111111')).toBe(false); // 20 digits
    expect(containsCardNumber('12345678-1234-4234-8234-123456789012')).toBe(false);
    expect(containsCardNumber('receipt 2026-11-22 10:15')).toBe(false);
  });

  it('reports where: any depth, numbers too, keys by their parent; a GTIN in gtin is a barcode', () => {
    expect(findCardNumber({ lines: [{ gtin: '4006381334013' }] })).toBeUndefined(); // a valid GTIN-13 that also passes Luhn
    expect(findCardNumber({ lines: [{ sku: 'A', description: 'x 4006381334013' }] })).toEqual(['lines', 0, 'description']);
    expect(findCardNumber({ lines: [{ sku: 'A', description: 'x 4006381333931' }] })).toBeUndefined(); // 13 digits, Luhn-invalid
    expect(findCardNumber({ lines: [{}, { note: '4111111111111111' }] })).toEqual(['lines', 1, 'note']);
    expect(findCardNumber({ operator: 4111111111111111 })).toEqual(['operator']);
    expect(findCardNumber({ meta: { '4111111111111111': true } })).toEqual(['meta']);
  });

  it('scans in one pass exactly what the digit-run pattern finds (the regular expression it replaced, kept here as the reference)', () => {
    // The reference: maximal matches of /\d(?:[ -]?\d)*/g, separators dropped, 13-19 digits passing Luhn.
    const reference = (text: string) =>
      text.length >= 13 &&
      !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text) &&
      [...text.matchAll(/\d(?:[ -]?\d)*/g)].some((m) => {
        const digits = m[0].replace(/[ -]/g, '');
        return digits.length >= 13 && digits.length <= 19 && luhnValid(digits);
      });
    const text = fc.array(fc.constantFrom('0', '1', '4', '7', '9', ' ', '-', '  ', '--', 'a', '٣', '4111 1111 1111 1111', '4111111111111112'), { maxLength: 40 }).map((parts) => parts.join(''));
    fc.assert(fc.property(text, (t) => containsCardNumber(t) === reference(t)), { numRuns: 20_000, seed: 13 });
  });
});
