import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gtinCheckDigit } from '@tillstream/contracts';
import { containsCardNumber, issuedPrefix, luhnValid, numberIsCard } from './card-numbers.ts';
import { findCardNumber } from './inspect.ts';

/** Public test numbers of every major brand (Luhn-valid, inside the brand's IIN range and lengths). */
const PANS = [
  '4111111111111111', '4012888888881881', '4000056655665556', '4242424242424242', '4917610000000000003', // Visa 16 and 19
  '5555555555554444', '5105105105105100', '2223003122003222', '2221000000000009', '5200828282828210', // Mastercard 51-55 and 2-series
  '378282246310005', '371449635398431', '340000000000009', // American Express, 15
  '6011111111111117', '6011000990139424', '6445644564456445', // Discover
  '30569309025904', '38520000023237', '36227206271667', // Diners Club, 14
  '3530111333300000', '3566002020360505', // JCB
  '6200000000000005', '6243030000000001', // UnionPay
  '6759649826438453', '6304000000000000', '5018000000000009', // Maestro
  '2200000000000004', // Mir
  '6062826786276634', // Hipercard
];

/** Writes ASCII digits in another script whose decimal digits start at `zero`. */
const script = (zero: number) => (text: string) => text.replace(/\d/g, (d) => String.fromCodePoint(zero + Number(d)));
const grouped = (pan: string, separator: string) => pan.match(/.{1,4}/g)!.join(separator);

/**
 * The ways a person or a careless integration writes a card number into a
 * field: every one of them is a card (the 14 of the 27 variants that
 * passed the old scanner are among them).
 */
const DISGUISES: Array<[string, (pan: string) => string]> = [
  ['bare', (p) => p],
  ['grouped by spaces', (p) => grouped(p, ' ')],
  ['grouped by dashes', (p) => grouped(p, '-')],
  ['grouped by dots', (p) => grouped(p, '.')],
  ['grouped by underscores', (p) => grouped(p, '_')],
  ['grouped by slashes', (p) => grouped(p, '/')],
  ['double spaces', (p) => grouped(p, '  ')],
  ['NBSP', (p) => grouped(p, '\u00a0')],
  ['narrow NBSP', (p) => grouped(p, '\u202f')],
  ['ideographic space', (p) => grouped(p, '\u3000')],
  ['tab', (p) => grouped(p, '\t')],
  ['newline', (p) => grouped(p, '\n')],
  ['CRLF', (p) => grouped(p, '\r\n')],
  ['zero-width space', (p) => grouped(p, '\u200b')],
  ['zero-width joiner between every digit', (p) => [...p].join('\u200d')],
  ['word joiner', (p) => grouped(p, '\u2060')],
  ['soft hyphen', (p) => grouped(p, '\u00ad')],
  ['em dash', (p) => grouped(p, ' \u2014 ')],
  ['mixed separators', (p) => `${p.slice(0, 4)} ${p.slice(4, 8)}-${p.slice(8, 12)}.${p.slice(12)}`],
  ['space between every digit', (p) => [...p].join(' ')],
  ['followed by a space and the expiry', (p) => `${p} 12/29`],
  ['followed by the CVV', (p) => `${grouped(p, ' ')} 123`],
  ['followed by expiry and CVV', (p) => `${p} 0829 737`],
  ['a leading extra digit', (p) => `0${p}`],
  ['two leading digits', (p) => `97${p}`],
  ['a trailing extra digit', (p) => `${p}5`],
  ['inside a sentence', (p) => `customer paid with card ${grouped(p, ' ')} thanks`],
  ['after a label and a colon', (p) => `PAN:${p}`],
  ['in parentheses', (p) => `(${grouped(p, ') (')})`],
  ['comma separated', (p) => grouped(p, ',')],
  ['fullwidth digits', (p) => script(0xff10)(p)],
  ['fullwidth digits grouped by ideographic spaces', (p) => script(0xff10)(grouped(p, '\u3000'))],
  ['Arabic-Indic digits', (p) => script(0x0660)(p)],
  ['Extended Arabic-Indic digits', (p) => script(0x06f0)(p)],
  ['Devanagari digits', (p) => script(0x0966)(grouped(p, ' '))],
  ['Bengali digits', (p) => script(0x09e6)(p)],
  ['Thai digits', (p) => script(0x0e50)(p)],
  ['mathematical bold digits', (p) => script(0x1d7ce)(p)],
  ['Adlam digits (beyond the BMP)', (p) => script(0x1e950)(p)],
  ['one group per script', (p) => `${p.slice(0, 4)} ${script(0x0660)(p.slice(4, 8))} ${script(0xff10)(p.slice(8, 12))} ${script(0x0966)(p.slice(12))}`],
  ['circled digits', (p) => p.replace(/\d/g, (d) => (d === '0' ? '\u24ea' : String.fromCodePoint(0x245f + Number(d))))],
  ['circled two-digit numbers (NFKC makes two digits of one character)', (p) => (p.match(/.{1,2}/g) ?? []).map((pair) => {
    const n = Number(pair);
    if (pair.length === 2 && n >= 10 && n <= 20) return String.fromCodePoint(0x2469 + n - 10);
    if (pair.length === 2 && n >= 21 && n <= 35) return String.fromCodePoint(0x3251 + n - 21);
    if (pair.length === 2 && n >= 36 && n <= 50) return String.fromCodePoint(0x32b1 + n - 36);
    return [...pair].map((d) => (d === '0' ? '\u24ea' : String.fromCodePoint(0x245f + Number(d)))).join('');
  }).join('')],
  ['superscript digits', (p) => p.replace(/\d/g, (d) => '\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079'[Number(d)]!)],
  ['combining marks on each group', (p) => grouped(p, '\u0301 ')],
  ['quoted with a plus sign', (p) => `"+${p}"`],
  ['as a query-string value', (p) => `card=${grouped(p, '+')}&x=1`],
  ['percent-looking separators', (p) => grouped(p, '%')],
  ['hash grouped', (p) => `#${grouped(p, '#')}`],
  ['PAN twice with a slash', (p) => `${p}/${p}`],
  ['in a JSON-looking note', (p) => `{"n":"${grouped(p, ' ')}"}`],
  ['line per group with indentation', (p) => grouped(p, '\n    ')],
  ['dots between every digit', (p) => [...p].join('.')],
  ['a trailing 4-digit year and a leading zero', (p) => `0${p}2029`],
  ['bullet separators', (p) => grouped(p, ' \u2022 ')],
  ['vertical bars', (p) => grouped(p, '|')],
  ['colons', (p) => grouped(p, ':')],
  ['right-to-left mark', (p) => grouped(p, '\u200f')],
  ['figure spaces', (p) => grouped(p, '\u2007')],
  ['en quad spaces', (p) => grouped(p, '\u2000')],
  ['brackets', (p) => `[${p}]`],
  ['apostrophes', (p) => grouped(p, "'")],
  ['asterisks', (p) => grouped(p, '*')],
  ['tildes', (p) => grouped(p, '~')],
];

const gtin = (body: string) => `${body}${gtinCheckDigit(body)}`;

/**
 * Legitimate values a POS, an inventory or a sync document carries that look
 * like long digit runs: each must go through (IIN ranges, windows and the
 * GTIN exception are what make that possible with Luhn alone failing one in ten).
 */
const LOOK_ALIKES: Array<[string, string]> = [
  // GTIN-13 from many GS1 prefixes (Germany, UK, France, Poland, China, Japan, US, ...), as free text and in a description.
  ...['400638133393', '500015940241', '590123412345', '690123456789', '693123456789', '450123456789', '490123456789', '300123456789', '761234567890', '871234567890', '540123456789', '560123456789', '640123456789', '622123456789', '300000000000', '978020137962'].map(
    (body): [string, string] => [`GTIN-13 ${body}`, `EAN ${gtin(body)}`],
  ),
  // GTIN-14 (packaging indicator 1-8 before a GTIN-13's body).
  ...['1400638133393', '2500015940241', '3590123412345', '1690123456789', '5693123456789', '8450123456789', '1062414100041', '4300000000000'].map((body): [string, string] => [`GTIN-14 ${body}`, gtin(body)]),
  // Epoch milliseconds, bare and in text.
  ...[1_600_000_000_000, 1_700_000_000_123, 1_764_412_800_000, 1_795_000_000_000, 1_799_999_999_999, 1_893_456_000_000].flatMap((ms): Array<[string, string]> => [
    [`epoch ms ${ms}`, String(ms)],
    [`epoch ms ${ms} in text`, `created ${ms} by T01`],
  ]),
  // Batch ids, order ids, receipt and delivery references.
  ['batch id', 'S001-13001-15000'],
  ['batch id with large outbox ids', 'S001-1000001-1005000'],
  ['replay batch id', 'S001-replay-42'],
  ['order id with a date', 'ORD-2026-11-29-000123'],
  ['purchase order', 'PO-2026-004711'],
  ['delivery note', 'DN 20261129-0042'],
  ['invoice number', 'INV/2026/11/000987'],
  ['receipt number', 'R-0001-0042-2026'],
  ['store/terminal/sequence', 'S001/T01/000000123'],
  ['transaction UUID', '0b8f7a52-3c51-4d1e-9a0a-5b3f1c2d7e90'],
  ['all-digit UUID', '12345678-1234-4234-8234-123456789012'],
  // Phone numbers, international and national.
  ['phone DE', '+49 30 1234 5678'],
  ['phone DE mobile', '+49 151 23456789'],
  ['phone US', '+1 (415) 555-0132'],
  ['phone UK', '+44 20 7946 0958'],
  ['phone FR', '+33 1 23 45 67 89'],
  ['phone CN', '+86 138 0013 8000'],
  ['phone IN', '+91 98765 43210'],
  ['phone AU', '+61 412 345 678'],
  ['phone JP', '+81 90-1234-5678'],
  ['phone BR', '+55 11 91234-5678'],
  ['phone ID', '+62 812-3456-7890'],
  ['phone with extension', '+44 20 7946 0958 ext 123'],
  ['phone national DE', '030 12345678'],
  // Timestamps and dates.
  ['RFC 3339 with milliseconds', '2026-11-29T10:15:30.123+01:00'],
  ['SQL timestamp', '2026-11-29 10:15:30.123'],
  ['European date and time', '29.11.2026 10:15:30'],
  ['business day range', '2026-11-01..2026-11-29'],
  // Amounts and quantities.
  ['amount with separators', '1,234,567.89 EUR'],
  ['short card reference', 'card ending 1111, auth 123456'],
];

describe('card number detection', () => {
  it('refuses every disguise of every brand: the corpus', () => {
    expect(DISGUISES.length).toBeGreaterThanOrEqual(60);
    const entries = DISGUISES.map(([name, disguise], i) => [name, disguise(PANS[i % PANS.length]!)] as const);
    expect(new Set(entries.map(([, text]) => text)).size).toBe(entries.length); // each a different text
    const passed = entries.filter(([, text]) => !containsCardNumber(text)).map(([name]) => name);
    expect(passed).toEqual([]);
  });

  it('refuses every brand in every grouping (each test number of the table, every disguise)', () => {
    const passed: string[] = [];
    for (const pan of PANS) {
      expect(luhnValid(pan)).toBe(true);
      for (const [name, disguise] of DISGUISES) if (!containsCardNumber(disguise(pan))) passed.push(`${pan} ${name}`);
    }
    expect(passed).toEqual([]);
  });

  it('accepts every legitimate look-alike: the corpus', () => {
    expect(LOOK_ALIKES.length).toBeGreaterThanOrEqual(60);
    expect(new Set(LOOK_ALIKES.map(([, text]) => text)).size).toBe(LOOK_ALIKES.length);
    const refused = LOOK_ALIKES.filter(([, text]) => containsCardNumber(text)).map(([name, text]) => `${name}: ${text}`);
    expect(refused).toEqual([]);
  });

  it('leaves alone Luhn-invalid runs, runs no brand issues, short runs and UUIDs', () => {
    expect(containsCardNumber('4111111111111112')).toBe(false);
    expect(containsCardNumber('411111111111')).toBe(false); // 12 digits
    expect(containsCardNumber('9111111111111111')).toBe(false); // Luhn-valid, but no brand issues 91
    expect(containsCardNumber('1111111111111117')).toBe(false); // Luhn-valid, no brand starts with 11
    expect(containsCardNumber('\u32b6\u246a\u246a\u246a\u246a\u246a\u246a\u246a')).toBe(true); // eight characters, sixteen digits after NFKC
    expect(containsCardNumber('12345678-1234-4234-8234-123456789012')).toBe(false);
    expect(containsCardNumber('receipt 2026-11-22 10:15')).toBe(false);
  });

  it('checks every window of a long run, and letters end a run', () => {
    expect(containsCardNumber('41111111111111111111')).toBe(true); // 20 digits: the first 16 are a Visa number
    expect(containsCardNumber(`99${'4111111111111111'}99`)).toBe(true);
    expect(containsCardNumber('4111 1111 1111 1111 0000 0000 0000')).toBe(true);
    expect(containsCardNumber('4111x1111x1111x1111')).toBe(false); // four runs of four
  });

  it('takes a valid GTIN-13/14 written as one run as a barcode, but not inside a longer run', () => {
    const barcode = gtin('400638133401'); // 4006381334013: a valid GTIN-13 that also passes Luhn
    expect(containsCardNumber(barcode)).toBe(false);
    const maestroGtin = gtin('590123412345'); // a Polish GTIN-13, in Maestro's range (59, 12-19 digits)
    expect(issuedPrefix(590123, 13)).toBe(true);
    expect(containsCardNumber(maestroGtin)).toBe(false);
    // A 13-digit Maestro-range run that is no GTIN and passes Luhn is a card; a GTIN grouped like a card is scanned as one.
    const luhnOnly = Array.from({ length: 100 }, (_, d) => `59012341234${String(d).padStart(2, '0')}`).find((t) => luhnValid(t) && t !== maestroGtin)!;
    expect(containsCardNumber(luhnOnly)).toBe(true);
    const gtinAndLuhn = Array.from({ length: 1000 }, (_, d) => gtin(`590123412${String(d).padStart(3, '0')}`)).find(luhnValid)!;
    expect(containsCardNumber(gtinAndLuhn)).toBe(false);
    expect(containsCardNumber(grouped(gtinAndLuhn, ' '))).toBe(true);
    expect(containsCardNumber(`9${gtinAndLuhn}`)).toBe(true); // inside a longer run (no GTIN-14) it is only digits
    expect(containsCardNumber(`0${gtinAndLuhn}`)).toBe(false); // the same GTIN as a GTIN-14
  });

  it('a JSON number: 13-19 digits holding a card, or too large to check', () => {
    expect(numberIsCard(4111111111111111)).toBe(true);
    expect(numberIsCard(1_795_000_000_000)).toBe(false); // epoch milliseconds
    expect(numberIsCard(2 ** 64)).toBe(true); // beyond 2^53: its digits were rounded
    expect(numberIsCard(123456)).toBe(false);
  });

  it('reports where: any depth, numbers too, keys by their parent; a GTIN in gtin is a barcode', () => {
    expect(findCardNumber({ lines: [{ gtin: '4006381334013' }] })).toBeUndefined();
    expect(findCardNumber({ lines: [{ sku: 'A', description: 'x 4006 3813 3401 3 4111 1111 1111 1111' }] })).toEqual(['lines', 0, 'description']);
    expect(findCardNumber({ lines: [{}, { note: '4111\u00a01111\u00a01111\u00a01111' }] })).toEqual(['lines', 1, 'note']);
    expect(findCardNumber({ operator: 4111111111111111 })).toEqual(['operator']);
    expect(findCardNumber({ meta: { '4111_1111_1111_1111': true } })).toEqual(['meta']);
  });

  it('takes a value that is exactly an RFC 3339 timestamp as a time, microseconds and offset included; anything more is scanned', () => {
    // Regression: one microsecond timestamp in 25 was refused as a card (its time part "22:41:07.504512+01:00" is 16 digits).
    const late = Array.from({ length: 1000 }, (_, us) => `2026-11-28T22:41:07.504${String(us).padStart(3, '0')}+01:00`);
    const lookLikeCards = late.filter((t) => containsCardNumber(t.slice(11)));
    expect(lookLikeCards.length).toBeGreaterThan(0); // the time part alone passes Luhn and a Mastercard range
    for (const t of late) expect(findCardNumber({ occurredAt: t })).toBeUndefined();
    expect(findCardNumber({ note: `${late[0]} 4111 1111 1111 1111` })).toEqual(['note']);
    expect(findCardNumber({ note: '2026-11-28T4111111111111111Z' })).toEqual(['note']);
  });

  it('agrees with a plain reference implementation (normalise, then test every window) on random text', () => {
    const reference = (input: string): boolean => {
      const normal = input.normalize('NFKC');
      if (normal.length < 13 || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(normal)) return false;
      // Each character as a digit, "x" (a letter or other number: ends a run) or " " (a separator).
      const mapped = [...normal].map((c) => (/\p{Nd}/u.test(c) ? String(digitValue(c)) : /[\p{L}\p{N}]/u.test(c) ? 'x' : ' ')).join('');
      return mapped.split('x').some((segment) => {
        const run = segment.replace(/ /g, '');
        if ((run.length === 13 || run.length === 14) && /^ *\d+ *$/.test(segment) && isGtin(run)) return false;
        for (let w = 13; w <= 19; w++) {
          for (let s = 0; s + w <= run.length; s++) {
            const window = run.slice(s, s + w);
            if (luhnValid(window) && issuedPrefix(Number(window.slice(0, 6)), w)) return true;
          }
        }
        return false;
      });
    };
    const text = fc.array(fc.constantFrom('0', '1', '4', '5', '6', '9', ' ', '-', '.', '\u00a0', 'a', 'Z', '\u0663', '\uff14', '\u246b', '\u32b6', '4111 1111 1111 1111', '4111111111111112', '6901234567892'), { maxLength: 40 }).map((parts) => parts.join(''));
    fc.assert(fc.property(text, (t) => containsCardNumber(t) === reference(t)), { numRuns: 5_000, seed: 13 });
  });
});

/** A decimal digit's value: Unicode puts each script's digits in runs of ten from its zero. */
function digitValue(c: string): number {
  const cp = c.codePointAt(0)!;
  let zero = cp;
  while (cp - zero < 60 && /\p{Nd}/u.test(String.fromCodePoint(zero - 1))) zero--;
  return (cp - zero) % 10;
}
const isGtin = (digits: string) => gtinCheckDigit(digits.slice(0, -1)) === Number(digits.slice(-1));
