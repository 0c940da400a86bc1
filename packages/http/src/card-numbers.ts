import creditCardType from 'credit-card-type';
import { isValidGtin } from '@tillstream/contracts';

/** Luhn (mod 10) over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let k = digits.length - 1, double = false; k >= 0; k--, double = !double) sum += double ? DOUBLED[digits.charCodeAt(k) - 48]! : digits.charCodeAt(k) - 48;
  return sum % 10 === 0;
}

/** A Luhn digit's contribution when doubled (2d, less 9 past 9). */
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/**
 * The card brands' IIN ranges and lengths, from Braintree's maintained
 * `credit-card-type` table (Visa, Mastercard, Amex, Discover, JCB, Diners,
 * UnionPay, Maestro, Mir, Elo, Verve, Troy, ...), compiled once into a lookup
 * by the first six digits: bit (length - 13) is set when a card of that
 * length may start with them. Patterns longer than six digits are widened to
 * their first six (a little more is refused, never less). A digit run that
 * no brand issues (a GTIN from 400-440 is 13 digits and Visa is 16, 18 or 19;
 * epoch milliseconds start with 1) is not a card whatever its Luhn digit:
 * this is what keeps barcodes, order ids and timestamps from being refused.
 * The table's Maestro pattern "6" is left out: it is the library's type-ahead
 * fallback for a half-typed number, not an issued range (Maestro's are 50,
 * 56-59, 63 and 67, which stay), and it would make every window starting
 * with 6 inside a timestamp or a date range a card one time in ten.
 */
const IIN = new Uint8Array(1_000_000);
for (const type of Object.values(creditCardType.types)) {
  const brand = creditCardType.getTypeInfo(type);
  let lengths = 0;
  for (const length of brand.lengths) if (length >= 13 && length <= 19) lengths |= 1 << (length - 13);
  for (const pattern of brand.patterns) {
    if (type === 'maestro' && pattern === 6) continue;
    const [low, high] = Array.isArray(pattern) ? [pattern[0]!, pattern[1] ?? pattern[0]!] : [pattern, pattern];
    const digits = String(low).length;
    const from = digits <= 6 ? low * 10 ** (6 - digits) : Math.floor(low / 10 ** (digits - 6));
    const to = digits <= 6 ? (high + 1) * 10 ** (6 - digits) - 1 : Math.floor(high / 10 ** (digits - 6));
    for (let k = from; k <= to; k++) IIN[k]! |= lengths;
  }
}

/** True if a card brand issues `length`-digit numbers starting with these six digits. */
export function issuedPrefix(prefix6: number, length: number): boolean {
  return length >= 13 && length <= 19 && (IIN[prefix6]! & (1 << (length - 13))) !== 0;
}

/**
 * What each BMP character is to the scanner: a decimal digit (10 + its
 * value, for every Unicode Nd digit: Arabic-Indic, Devanagari, fullwidth,
 * ...), a letter or other number (BREAK: it ends a digit run), or anything
 * else (SEPARATOR: spaces of every kind, NBSP, tabs, line breaks, zero-width
 * and format characters, combining marks, punctuation, symbols). Built once
 * from the Unicode properties of the running JavaScript engine.
 */
const SEPARATOR = 0;
const BREAK = 1;
const CLASS = new Uint8Array(0x10000);
const ND = /\p{Nd}/u;
const ALNUM = /[\p{L}\p{N}]/u;
{
  // Two global matches over every BMP character (surrogates left as separators: classified per code point in the scan).
  let all = '';
  for (let cp = 0; cp < 0x10000; cp++) all += cp >= 0xd800 && cp <= 0xdfff ? ' ' : String.fromCharCode(cp);
  for (const m of all.matchAll(/[\p{L}\p{N}]/gu)) CLASS[m.index] = BREAK;
  let zero = -1;
  for (const m of all.matchAll(/\p{Nd}/gu)) {
    const cp = m.index;
    if (zero < 0 || cp - zero >= 10 || CLASS[cp - 1]! < 10) zero = cp; // each script's digits are a run of ten from its zero
    CLASS[cp] = 10 + (cp - zero);
  }
}

/** The class of a code point beyond the BMP (rare: classified when met; Nd blocks there are runs of ten from their zero). */
function astralClass(cp: number): number {
  const c = String.fromCodePoint(cp);
  if (ND.test(c)) {
    let zero = cp;
    while (zero > cp - 60 && ND.test(String.fromCodePoint(zero - 1))) zero--;
    return 10 + ((cp - zero) % 10);
  }
  return ALNUM.test(c) ? BREAK : SEPARATOR;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex -- anything outside ASCII needs NFKC first
const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * Per position of the current run, modulo 32 (a window reaches back at most
 * 19 positions): its digit, the IIN lengths of the six digits starting there,
 * and the two alternating Luhn prefix sums before it (mod 10; EVEN doubles
 * the digits at even positions, ODD those at odd ones).
 */
const DIGIT = new Uint8Array(32);
const STARTS = new Uint8Array(32);
const EVEN = new Uint8Array(32);
const ODD = new Uint8Array(32);

/**
 * True if `text` holds a payment card number, however it is disguised.
 *
 * The text is normalised first: NFKC (fullwidth, superscript and circled
 * digits become ASCII), every Unicode decimal digit counts as its value, and
 * any run of characters that are neither letters nor digits (spaces of any
 * kind, NBSP, tabs, line breaks, zero-width characters, ".", "_", "/", "-")
 * only separates digits: "4111.1111_1111\u200b1111" is one run of sixteen.
 * Letters end a run. Then every window of 13 to 19 consecutive digits of
 * every run, however long the run ("04111111111111111", a PAN followed by
 * its expiry or CVV), is a card when a card brand issues numbers of that
 * length starting with its first six digits (see IIN) and it passes Luhn.
 *
 * One exception keeps barcodes usable in free text: a run of exactly 13 or
 * 14 digits written without separators that is a valid GTIN is a barcode.
 *
 * One pass with no allocation beyond NFKC of non-ASCII text, and constant
 * work per digit: the six-digit prefix rolls, and each window's Luhn sum is
 * the difference of two prefix sums, taken only when an IIN range can start
 * in the window (at most about 0.15 s per MiB of adversarial digits on the
 * shared 2-core machine: `npm run bench -- card-scan`, BENCHMARKS.md).
 */
export function containsCardNumber(input: string): boolean {
  // NFKC can make several digits of one character ("⑫", "⒛", "⅒"): only ASCII text is too short to check.
  const text = NON_ASCII.test(input) ? input.normalize('NFKC') : input;
  const n = text.length;
  if (n < 13 || (n === 36 && UUID.test(text))) return false;
  let length = 0; // digits in the current run
  let prefix = 0; // the last six digits of the run, as a number
  let issued = -1; // the last position of the run where an IIN range starts
  let even = 0;
  let odd = 0;
  let separated = false; // whether the current run has a separator between two of its digits
  let pendingSeparator = false;
  let candidate = false; // a window of the current run passed, pending the GTIN exception
  for (let i = 0; i < n; i++) {
    const unit = text.charCodeAt(i);
    let kind: number;
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < n) {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) {
        kind = astralClass(cp);
        i++;
      } else kind = SEPARATOR; // a lone surrogate
    } else kind = CLASS[unit]!;
    if (kind < 10) {
      if (length === 0) continue;
      if (kind === SEPARATOR) {
        pendingSeparator = true;
        continue;
      }
      if (candidate && !(length <= 14 && !separated && isGtinRun(length))) return true;
      length = prefix = even = odd = 0;
      issued = -1;
      separated = pendingSeparator = candidate = false;
      continue;
    }
    if (pendingSeparator) separated = true;
    pendingSeparator = false;
    const d = kind - 10;
    const at = length & 31;
    DIGIT[at] = d;
    EVEN[at] = even;
    ODD[at] = odd;
    STARTS[at] = 0;
    even += (length & 1) === 0 ? DOUBLED[d]! : d;
    if (even >= 10) even -= 10;
    odd += (length & 1) === 1 ? DOUBLED[d]! : d;
    if (odd >= 10) odd -= 10;
    prefix = (length >= 6 ? prefix - DIGIT[(length - 6) & 31]! * 100_000 : prefix) * 10 + d;
    length++;
    if (length >= 6 && (STARTS[(length - 6) & 31] = IIN[prefix]!) !== 0) issued = length - 6;
    // The windows ending at this digit, 13 to 19 long, when one may start at an IIN range. Luhn doubles every
    // second digit from the end: those at the parity other than the last digit's (ODD when it is at an even position).
    if (length < 13 || issued < length - 19) continue;
    const end = length - 1;
    const total = (end & 1) === 0 ? odd : even;
    const sums = (end & 1) === 0 ? ODD : EVEN;
    for (let w = 13; w <= 19 && w <= length; w++) {
      const start = (length - w) & 31;
      if ((STARTS[start]! & (1 << (w - 13))) !== 0 && total === sums[start]) {
        if (length > 14 || separated) return true;
        candidate = true;
      }
    }
    if (candidate && (length > 14 || separated)) return true;
  }
  return candidate && !(length <= 14 && !separated && isGtinRun(length));
}

/** Whether the current run (13 or 14 digits, all still held) is a valid GTIN. */
function isGtinRun(length: number): boolean {
  if (length < 13) return false;
  let digits = '';
  for (let k = 0; k < length; k++) digits += String(DIGIT[k]);
  return isValidGtin(digits);
}

/** True for an integer of 13-19 digits holding a card number, or one too large to check. */
export function numberIsCard(n: number): boolean {
  if (!Number.isInteger(n) || Math.abs(n) < 1e12) return false;
  // Beyond 2^53 the digits were already rounded by JSON.parse and cannot be
  // checked; such an integer has no place in a POS document anyway.
  return Number.isSafeInteger(n) ? containsCardNumber(Math.abs(n).toString()) : true;
}

/**
 * An RFC 3339 timestamp and nothing else. Its digits are a clock reading:
 * with microseconds and an offset ("22:41:07.504512+01:00") the time part
 * alone is a 16-digit run that passes Luhn and a Mastercard range for one
 * reading in ten late in the evening (measured: 4% of random microsecond
 * timestamps), and terminals whose platform writes microseconds by default
 * would see sales refused at random.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** True if a string at a field named `key` holds a card number (a valid GTIN in a `gtin` field is a barcode; a value that is exactly a timestamp is a time). */
export function stringIsCard(value: string, key: string | number | undefined): boolean {
  if (key === 'gtin' && isValidGtin(value)) return false;
  if (value.length <= 35 && RFC3339.test(value)) return false;
  return containsCardNumber(value);
}
