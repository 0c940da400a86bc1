import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { computeTotals, extendPrice, type PosTransactionInput, type TransactionLine } from '@tillstream/contracts';

/**
 * The bakery's real POS log (../shared/data/bakery-transactions.csv: 9,684
 * transactions, Oct 2016 - Apr 2017, columns Date,Time,Transaction,Item)
 * turned into POS transactions with a catalog of the project's own
 * (packages/simulator/data/bakery-catalog.json: SKU, category and price per
 * item). Rows with the item "NONE" carry no goods; a transaction of only
 * those is a NO_SALE.
 */

export const BAKERY_CSV = fileURLToPath(new URL('../../../../shared/data/bakery-transactions.csv', import.meta.url));
const CATALOG_FILE = fileURLToPath(new URL('../data/bakery-catalog.json', import.meta.url));

export interface BakeryCatalog {
  currency: string;
  timeZone: string;
  items: Record<string, { sku: string; category: string; unitPrice: number }>;
}

export function bakeryCatalog(): BakeryCatalog {
  return JSON.parse(readFileSync(CATALOG_FILE, 'utf8')) as BakeryCatalog;
}

/** Categories whose goods carry 20 % VAT in the catalog (the rest is zero-rated food). */
const TAXED = new Set(['drinks', 'retail']);

export interface BakeryRow {
  date: string;
  time: string;
  transaction: number;
  item: string;
}

export function readBakeryCsv(path = BAKERY_CSV): BakeryRow[] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  if (header !== 'Date,Time,Transaction,Item') throw new Error(`unexpected header in ${path}: ${header}`);
  return lines.map((line) => {
    const [date, time, transaction, ...item] = line.split(',');
    return { date: date!, time: time!, transaction: Number(transaction), item: item.join(',').trim() };
  });
}

/** Offset of a time zone at a local wall-clock time, as "+01:00" (DST-aware, via Intl). */
export function zoneOffset(date: string, time: string, timeZone: string): string {
  const guess = new Date(`${date}T${time}Z`);
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(guess);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const asLocal = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  const minutes = Math.round((asLocal - guess.getTime()) / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** A stable transactionId per bakery transaction number, so a replay is recognised as one. */
export function bakeryTransactionId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** The CSV as POS transactions, in log order. Odd transaction numbers ring up on T01, even ones on T02. */
export function bakeryTransactions(options: { storeId?: string; rows?: BakeryRow[] } = {}): PosTransactionInput[] {
  const catalog = bakeryCatalog();
  const rows = options.rows ?? readBakeryCsv();
  const byNumber = new Map<number, BakeryRow[]>();
  for (const row of rows) {
    let group = byNumber.get(row.transaction);
    if (!group) byNumber.set(row.transaction, (group = []));
    group.push(row);
  }
  return [...byNumber].map(([n, group]) => {
    const first = group[0]!;
    const counts = new Map<string, number>();
    for (const row of group) if (row.item !== 'NONE') counts.set(row.item, (counts.get(row.item) ?? 0) + 1);
    const lines: TransactionLine[] = [...counts].map(([item, quantity], i) => {
      const entry = catalog.items[item];
      if (!entry) throw new Error(`item "${item}" is not in the bakery catalog`);
      const extended = extendPrice(quantity, entry.unitPrice);
      return {
        lineNumber: i + 1,
        sku: entry.sku,
        description: item,
        category: entry.category,
        quantity,
        unitOfMeasure: 'EA',
        unitPrice: entry.unitPrice,
        discount: 0,
        taxAmount: TAXED.has(entry.category) ? Math.round(extended * 0.2) : 0,
        extendedAmount: extended,
        voided: false,
      };
    });
    const totals = computeTotals(lines);
    const terminalId = n % 2 === 1 ? 'T01' : 'T02';
    return {
      transactionId: bakeryTransactionId(n),
      storeId: options.storeId ?? 'S001',
      terminalId,
      sequenceNumber: n,
      businessDay: first.date,
      occurredAt: `${first.date}T${first.time}${zoneOffset(first.date, first.time, catalog.timeZone)}`,
      type: lines.length > 0 ? 'SALE' : 'NO_SALE',
      trainingMode: false,
      operatorId: 'BAKER',
      currency: catalog.currency,
      lines,
      tenders: totals.grand === 0 ? [] : [totals.grand > 1000 ? { type: 'CARD', amount: totals.grand, card: { token: `tok_${n}_bakery`, last4: '4242' } } : { type: 'CASH', amount: totals.grand, change: 0 }],
      totals,
    } satisfies PosTransactionInput;
  });
}
