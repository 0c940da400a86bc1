import { z } from 'zod';
import { TillstreamError } from './errors.ts';
import { isValidGtin } from './gtin.ts';
import { CurrencyCode, MinorUnits, Quantity, extendPrice } from './money.ts';
import { Text } from './text.ts';

/**
 * POS transaction, contract v1. Modelled on ARTS POSLog: one JSON document per
 * transaction, money in integer minor units, a document that must balance.
 *
 * Amounts are never negative: the transaction `type` gives the direction
 * (a RETURN's totals are what the store paid back, its tenders what it paid out).
 *
 * Balance rules, all exact integer arithmetic:
 *   line:    extendedAmount = round(quantity x unitPrice) - discount
 *   totals:  gross = sum round(quantity x unitPrice), discount = sum discount,
 *            net = gross - discount = sum extendedAmount, tax = sum taxAmount,
 *            grand = net + tax                (voided lines excluded)
 *   tenders: sum(amount - change) = grand
 */

// 13 digits in a row: the shape of a card number.
const LONG_DIGIT_RUN = /\d{13}/;

/**
 * True when `text` holds 13 or more digits in a row. The rule for every
 * identifier (store, terminal, operator, SKU, idempotency key): no id needs
 * that many digits in a row, and an id is copied into keys, topics, URLs and
 * logs where a card number must never be, so such a run is refused outright
 * rather than checked with Luhn. A card number written with separators
 * ("4111_1111_1111_1111") is the scanner's to catch (@tillstream/http
 * containsCardNumber: Luhn and the issuers' ranges), as in free text: counting
 * digits across separators here would refuse one random UUID in fifty
 * ("…-4372-9071-60318…" holds 13 digits between dashes) and ordinary SKUs
 * such as "PLU-4011-2026-1128".
 */
export function hasLongDigitRun(text: string): boolean {
  return LONG_DIGIT_RUN.test(text);
}

const LONG_DIGIT_RUN_MESSAGE = 'must not hold 13 or more digits in a row (the shape of a card number)';

/** An identifier of `max` characters matching `pattern`, without a long digit run (see hasLongDigitRun). */
export function identifier(max: number, pattern: RegExp, message: string) {
  return z
    .string()
    .min(1)
    .max(max)
    .regex(pattern, message)
    .refine((id) => !hasLongDigitRun(id), LONG_DIGIT_RUN_MESSAGE);
}

/** Identifiers of stores, terminals, operators: short, printable, safe in keys and topic names. */
export const Identifier = identifier(32, /^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'must be letters, digits, "-" or "_"');

export const Sku = identifier(64, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "-" or "_"');

/** An Idempotency-Key a client chooses: 1-128 letters, digits, ".", ":", "-", "_". */
export const IdempotencyKey = identifier(128, /^[\w.:-]+$/, 'must be 1-128 letters, digits, ".", ":", "-" or "_"');

export const BusinessDay = z.iso.date({ message: 'must be a calendar date YYYY-MM-DD' });

/** RFC 3339 with an explicit offset: terminal clocks are local, and the offset is what makes them comparable. */
export const Rfc3339 = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 timestamp with offset' });

export const TransactionType = z.enum(['SALE', 'RETURN', 'POST_VOID', 'NO_SALE']);
export type TransactionType = z.infer<typeof TransactionType>;

export const UnitOfMeasure = z.enum(['EA', 'KG', 'G', 'LB', 'L']);
export const TenderType = z.enum(['CASH', 'CARD', 'GIFT_CARD', 'MOBILE', 'VOUCHER']);
export type TenderType = z.infer<typeof TenderType>;

export const Gtin = z.string().refine(isValidGtin, { message: 'must be a GTIN-8/12/13/14 with a valid check digit' });

export const TransactionLine = z
  .strictObject({
    lineNumber: z.number().int().min(1).max(9999),
    sku: Sku,
    gtin: Gtin.optional(),
    description: Text(200),
    category: Text(64),
    quantity: Quantity,
    unitOfMeasure: UnitOfMeasure.default('EA'),
    unitPrice: MinorUnits,
    discount: MinorUnits.default(0),
    taxAmount: MinorUnits.default(0),
    extendedAmount: MinorUnits,
    voided: z.boolean().default(false),
  })
  .superRefine((line, ctx) => {
    if (line.unitOfMeasure === 'EA' && !Number.isInteger(line.quantity)) {
      ctx.addIssue({ code: 'custom', path: ['quantity'], message: 'must be a whole number for unitOfMeasure EA' });
    }
    const expected = extendPrice(line.quantity, line.unitPrice) - line.discount;
    if (expected < 0) {
      ctx.addIssue({ code: 'custom', path: ['discount'], message: 'must not exceed quantity x unitPrice' });
    } else if (line.extendedAmount !== expected) {
      ctx.addIssue({
        code: 'custom',
        path: ['extendedAmount'],
        message: `must equal round(quantity x unitPrice) - discount = ${expected}`,
      });
    }
  });
export type TransactionLine = z.infer<typeof TransactionLine>;

export const CardDetails = z.strictObject({
  /** The payment processor's token; never the card number. */
  token: z.string().min(8).max(128).regex(/^[A-Za-z0-9_:.-]+$/),
  last4: z.string().regex(/^\d{4}$/),
});

export const Tender = z
  .strictObject({
    type: TenderType,
    amount: MinorUnits.refine((n) => n > 0, { message: 'must be positive' }),
    change: MinorUnits.default(0),
    card: CardDetails.optional(),
  })
  .superRefine((tender, ctx) => {
    if (tender.type === 'CARD' && !tender.card) {
      ctx.addIssue({ code: 'custom', path: ['card'], message: 'is required for CARD tenders (token and last4)' });
    }
    if (tender.type !== 'CARD' && tender.card) {
      ctx.addIssue({ code: 'custom', path: ['card'], message: 'is only allowed on CARD tenders' });
    }
    if (tender.change > 0 && tender.type !== 'CASH') {
      ctx.addIssue({ code: 'custom', path: ['change'], message: 'only CASH tenders give change' });
    }
    if (tender.change >= tender.amount) {
      ctx.addIssue({ code: 'custom', path: ['change'], message: 'must be less than amount' });
    }
  });
export type Tender = z.infer<typeof Tender>;

export const Totals = z.strictObject({
  gross: MinorUnits,
  discount: MinorUnits,
  tax: MinorUnits,
  net: MinorUnits,
  grand: MinorUnits,
});
export type Totals = z.infer<typeof Totals>;

export const OriginalReference = z.strictObject({
  transactionId: z.uuid(),
  terminalId: Identifier,
  sequenceNumber: z.number().int().min(1).optional(),
  businessDay: BusinessDay.optional(),
});

/** Lines beyond this make no sense at a till and would only be an attack on memory. */
export const MAX_LINES = 500;
export const MAX_TENDERS = 20;

const TransactionFields = z.strictObject({
  transactionId: z.uuid(),
  storeId: Identifier,
  terminalId: Identifier,
  sequenceNumber: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  businessDay: BusinessDay,
  occurredAt: Rfc3339,
  type: TransactionType,
  trainingMode: z.boolean().default(false),
  operatorId: Identifier,
  currency: CurrencyCode,
  lines: z.array(TransactionLine).max(MAX_LINES).default([]),
  tenders: z.array(Tender).max(MAX_TENDERS).default([]),
  totals: Totals,
  original: OriginalReference.optional(),
});

/** Totals a document must carry, computed from its lines. */
export function computeTotals(lines: readonly TransactionLine[]): Totals {
  let gross = 0;
  let discount = 0;
  let tax = 0;
  for (const line of lines) {
    if (line.voided) continue;
    gross += extendPrice(line.quantity, line.unitPrice);
    discount += line.discount;
    tax += line.taxAmount;
  }
  const net = gross - discount;
  return { gross, discount, tax, net, grand: net + tax };
}

type Ctx = z.core.$RefinementCtx<z.output<typeof TransactionFields>>;

function checkBalance(tx: z.output<typeof TransactionFields>, ctx: Ctx): void {
  const expected = computeTotals(tx.lines);
  for (const key of ['gross', 'discount', 'tax', 'net', 'grand'] as const) {
    if (tx.totals[key] !== expected[key]) {
      ctx.addIssue({
        code: 'custom',
        path: ['totals', key],
        message: `does not balance: lines give ${expected[key]}, document says ${tx.totals[key]}`,
      });
    }
  }
  const tendered = tx.tenders.reduce((sum, t) => sum + t.amount - t.change, 0);
  if (tendered !== tx.totals.grand) {
    ctx.addIssue({
      code: 'custom',
      path: ['tenders'],
      message: `do not balance: tenders net ${tendered}, totals.grand is ${tx.totals.grand}`,
    });
  }
}

function checkBusinessRules(tx: z.output<typeof TransactionFields>, ctx: Ctx): void {
  const seen = new Set<number>();
  tx.lines.forEach((line, i) => {
    if (seen.has(line.lineNumber)) {
      ctx.addIssue({ code: 'custom', path: ['lines', i, 'lineNumber'], message: 'is duplicated in this transaction' });
    }
    seen.add(line.lineNumber);
  });

  const needsOriginal = tx.type === 'RETURN' || tx.type === 'POST_VOID';
  if (needsOriginal && !tx.original) {
    ctx.addIssue({ code: 'custom', path: ['original'], message: `is required for ${tx.type}` });
  }
  if (!needsOriginal && tx.original) {
    ctx.addIssue({ code: 'custom', path: ['original'], message: `is only allowed on RETURN and POST_VOID` });
  }
  if (tx.original && tx.original.transactionId === tx.transactionId) {
    ctx.addIssue({ code: 'custom', path: ['original', 'transactionId'], message: 'must not be the transaction itself' });
  }
  if (tx.type === 'SALE' || tx.type === 'RETURN') {
    if (!tx.lines.some((l) => !l.voided)) {
      ctx.addIssue({ code: 'custom', path: ['lines'], message: `a ${tx.type} needs at least one line that is not voided` });
    }
  }
  if (tx.type === 'NO_SALE' || tx.type === 'POST_VOID') {
    // A post-void refers to its original; it carries no goods or money of its own.
    if (tx.lines.length > 0) ctx.addIssue({ code: 'custom', path: ['lines'], message: `must be empty for ${tx.type}` });
    if (tx.tenders.length > 0) ctx.addIssue({ code: 'custom', path: ['tenders'], message: `must be empty for ${tx.type}` });
  }

  // The business day is the trading day the terminal assigned; it may differ
  // from the calendar date of occurredAt (late-night trading), but not by more than a day.
  const occurred = Date.parse(tx.occurredAt);
  const day = Date.parse(`${tx.businessDay}T12:00:00Z`);
  if (Number.isFinite(occurred) && Number.isFinite(day) && Math.abs(occurred - day) > 50 * 3600_000) {
    ctx.addIssue({ code: 'custom', path: ['businessDay'], message: 'is more than a day away from occurredAt' });
  }
}

export const PosTransactionV1 = TransactionFields.superRefine((tx, ctx) => {
  checkBusinessRules(tx, ctx);
  checkBalance(tx, ctx);
});

/** A POS transaction as a terminal sends it (defaults not yet applied). */
export type PosTransactionInput = z.input<typeof PosTransactionV1>;
/** A validated POS transaction, defaults applied. */
export type PosTransaction = z.output<typeof PosTransactionV1>;

/**
 * A store's consumers only book that store's transactions: one of another
 * store on its topic is a misrouted record (never retriable, so the consumer
 * runner dead-letters it).
 */
export function assertOwnStore(tx: Pick<PosTransaction, 'storeId'>, storeId: string): void {
  if (tx.storeId !== storeId) {
    throw new TillstreamError('WRONG_STORE', `transaction of store ${tx.storeId} on store ${storeId}'s topic`);
  }
}
