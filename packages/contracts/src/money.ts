import { z } from 'zod';

/**
 * Money is integer minor units (cents). The cap keeps every product of a
 * quantity (in thousandths) and a price inside Number.MAX_SAFE_INTEGER,
 * so balance checks are exact integer arithmetic.
 */
export const MAX_MINOR_UNITS = 1_000_000_000; // 10 million in major units
export const MAX_QUANTITY = 100_000;

export const MinorUnits = z.number().int().min(0).max(MAX_MINOR_UNITS);

export const CurrencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR');

/**
 * A quantity in units, or up to 3 decimals for weighed goods. JSON numbers
 * with at most 3 decimals survive the round trip through `Number` exactly when
 * read as thousandths, which is how every computation treats them.
 */
export const Quantity = z.number().positive().max(MAX_QUANTITY).refine(hasAtMostThreeDecimals, { message: 'must have at most 3 decimals' });

/** True when `q` has at most 3 decimals (as far as a double can tell): the rule of every quantity. */
export function hasAtMostThreeDecimals(q: number): boolean {
  return Math.abs(q * 1000 - Math.round(q * 1000)) < 1e-6;
}

/** A quantity as integer thousandths (1.25 kg -> 1250). */
export function toMilli(quantity: number): number {
  return Math.round(quantity * 1000);
}

/** Thousandths back to the exact decimal string PostgreSQL NUMERIC takes. */
export function milliToDecimal(milli: number): string {
  const sign = milli < 0 ? '-' : '';
  const abs = Math.abs(milli);
  const whole = Math.trunc(abs / 1000);
  const frac = abs % 1000;
  return frac === 0 ? `${sign}${whole}` : `${sign}${whole}.${String(frac).padStart(3, '0').replace(/0+$/, '')}`;
}

/** round(quantity x unitPrice), half away from zero, in exact integer arithmetic. */
export function extendPrice(quantity: number, unitPrice: number): number {
  const product = toMilli(quantity) * unitPrice;
  return Math.floor((product + 500) / 1000);
}

/**
 * A PostgreSQL NUMERIC (as pg returns it, a string such as "-12.345") as
 * integer thousandths. Exact: no float ever holds the quantity.
 */
export function decimalToMilli(decimal: string): number {
  const match = /^(-?)(\d+)(?:\.(\d{1,3})0*)?$/.exec(decimal);
  if (!match) throw new RangeError(`not a decimal with at most 3 places: ${decimal}`);
  const [, sign, whole, frac = ''] = match;
  const milli = Number(whole) * 1000 + Number(frac.padEnd(3, '0'));
  return sign === '-' ? -milli : milli;
}

/** Thousandths as the JSON number APIs and events carry (exact: at most 3 decimals). */
export function milliToQuantity(milli: number): number {
  return Number(milliToDecimal(milli));
}
