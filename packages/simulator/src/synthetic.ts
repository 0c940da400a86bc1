import { randomUUID } from 'node:crypto';
import type { PosTransactionInput } from '@tillstream/contracts';
import { bakeryCatalog, readBakeryCsv } from './bakery.ts';
import { makeTransaction, type LineSpec } from './transactions.ts';

type Tender = NonNullable<PosTransactionInput['tenders']>[number];

/** A small deterministic PRNG (mulberry32), so a run can be repeated with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticOptions {
  storeId: string;
  /** Terminal ids, e.g. T01..T03. */
  terminals: readonly string[];
  /** The last sequence number each terminal used before (a till keeps numbering across runs); default 0. */
  lastSequence?: Readonly<Record<string, number>>;
  seed?: number;
  /** The store's time zone: a transaction's business day is its local date there. */
  timeZone?: string;
  /** Shares of transactions (0..1): returns of an earlier sale, post-voids of one, training-mode. */
  returnRate?: number;
  voidRate?: number;
  trainingRate?: number;
  /** Chance per transaction that its terminal then loses the network for `offlineMs`. */
  offlineRate?: number;
  offlineMs?: number;
  /** Terminal clocks are off by up to this much (each its own fixed skew, either way). */
  maxSkewMs?: number;
  /**
   * Plants a sweethearting operator (loss prevention's demo and tests): on
   * that share of the transactions `operatorId` rings, instead of a sale,
   * one of a no-sale, a post-void of their own latest sale, a refund of an
   * item they just sold, or a return without an original receipt (an
   * original this store never sold). Operators are OP1..OP4.
   */
  sweetheart?: { operatorId: string; rate: number };
}

interface Item {
  sku: string;
  description: string;
  category: string;
  unitPrice: number;
}

/** The bakery's items, each weighted by how often its real log sells it: baskets look like the shop's. */
function weightedItems(): { items: Item[]; cumulative: number[] } {
  const catalog = bakeryCatalog();
  const sold = new Map<string, number>();
  for (const row of readBakeryCsv()) if (row.item !== 'NONE') sold.set(row.item, (sold.get(row.item) ?? 0) + 1);
  const items = Object.entries(catalog.items)
    .filter(([name]) => name !== 'Adjustment')
    .map(([name, item]) => ({ ...item, description: name }));
  let total = 0;
  const cumulative = items.map((item) => (total += sold.get(item.description) ?? 1));
  return { items, cumulative: cumulative.map((c) => c / total) };
}

const TAXED = new Set(['drinks', 'retail']);

export interface TerminalState {
  terminalId: string;
  skewMs: number;
  sequence: number;
  /** Offline until then (epoch ms): its sales wait in the till's queue and go up as one backlog later. */
  offlineUntil: number;
}

/**
 * One store's synthetic till traffic. `next` rings up the next transaction
 * on a terminal: a basket of the bakery's items (weighted by their real
 * sales, 1-6 lines, paid cash or by card), now and then a return or a
 * post-void of one of the store's recent sales, or a training-mode
 * transaction. Each terminal numbers its own sequence and has a fixed clock
 * skew; some lose the network for a while and keep selling offline.
 */
export class SyntheticStore {
  readonly terminals: TerminalState[];
  private readonly random: () => number;
  private readonly catalog = weightedItems();
  private readonly recent: PosTransactionInput[] = [];
  private readonly day: Intl.DateTimeFormat;
  private turn = 0;

  constructor(private readonly options: SyntheticOptions) {
    this.random = seededRandom(options.seed ?? 1);
    const skew = options.maxSkewMs ?? 0;
    this.terminals = options.terminals.map((terminalId) => ({ terminalId, skewMs: Math.round((this.random() * 2 - 1) * skew), sequence: options.lastSequence?.[terminalId] ?? 0, offlineUntil: 0 }));
    this.day = new Intl.DateTimeFormat('en-CA', { timeZone: options.timeZone ?? 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' });
  }

  private pickItem(): Item {
    const r = this.random();
    const { items, cumulative } = this.catalog;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return items[lo]!;
  }

  private basket(): LineSpec[] {
    const lines = new Map<string, LineSpec>();
    const count = 1 + Math.min(5, Math.floor(-Math.log(1 - this.random()) * 1.2));
    for (let i = 0; i < count; i++) {
      const item = this.pickItem();
      const seen = lines.get(item.sku);
      if (seen) seen.quantity = (seen.quantity ?? 1) + 1;
      else lines.set(item.sku, { sku: item.sku, category: item.category, unitPrice: item.unitPrice, quantity: 1 });
    }
    return [...lines.values()].map((l) => ({ ...l, taxAmount: TAXED.has(l.category!) ? Math.round((l.quantity ?? 1) * l.unitPrice! * 0.2) : 0 }));
  }

  private tenders(tx: PosTransactionInput): Tender[] {
    const grand = tx.totals.grand;
    if (grand <= 0) return [];
    if (grand > 800 && this.random() < 0.7) return [{ type: 'CARD', amount: grand, card: { token: `tok_${randomUUID().slice(0, 12)}`, last4: String(1000 + Math.floor(this.random() * 9000)) } }];
    const given = Math.ceil(grand / 500) * 500;
    return [{ type: 'CASH', amount: given, change: given - grand }];
  }

  /** What a planted sweethearting operator rings instead of a sale (see SyntheticOptions.sweetheart). */
  private sweetheart(common: Partial<PosTransactionInput> & Pick<PosTransactionInput, 'operatorId' | 'terminalId'>, own: PosTransactionInput | undefined): PosTransactionInput {
    const act = Math.floor(this.random() * 4);
    const line = own?.lines?.[0];
    if (act === 0 || !own || !line) return makeTransaction([], { ...common, type: 'NO_SALE' });
    if (act === 1) {
      this.recent.splice(this.recent.indexOf(own), 1);
      return makeTransaction([], { ...common, type: 'POST_VOID', original: { transactionId: own.transactionId, terminalId: own.terminalId } });
    }
    // A refund of the item just sold, against that sale or against a receipt the store never issued.
    const original = act === 2 ? { transactionId: own.transactionId, terminalId: own.terminalId } : { transactionId: randomUUID(), terminalId: common.terminalId };
    const tx = makeTransaction([{ sku: line.sku, category: line.category, unitPrice: line.unitPrice, quantity: 1, taxAmount: (line.taxAmount ?? 0) > 0 ? Math.round(line.unitPrice * 0.2) : 0 }], { ...common, type: 'RETURN', original });
    return { ...tx, tenders: [{ type: 'CASH', amount: tx.totals.grand, change: 0 }] };
  }

  /** The next transaction, rung up now on the next terminal in turn. */
  next(now = Date.now()): { terminal: TerminalState; tx: PosTransactionInput } {
    const terminal = this.terminals[this.turn++ % this.terminals.length]!;
    const at = new Date(now + terminal.skewMs);
    const common = {
      storeId: this.options.storeId,
      terminalId: terminal.terminalId,
      sequenceNumber: ++terminal.sequence,
      occurredAt: at.toISOString(),
      businessDay: this.day.format(at),
      operatorId: `OP${1 + (terminal.sequence % 4)}`,
      currency: 'GBP',
    };
    const r = this.random();
    const { returnRate = 0.02, voidRate = 0.01, trainingRate = 0.01 } = this.options;
    const earlier = this.recent.length > 0 ? this.recent[Math.floor(this.random() * this.recent.length)]! : undefined;
    let tx: PosTransactionInput;
    const planted = this.options.sweetheart;
    const own = planted?.operatorId === common.operatorId ? this.recent.findLast((t) => t.operatorId === common.operatorId) : undefined;
    if (planted && planted.operatorId === common.operatorId && this.random() < planted.rate) {
      tx = this.sweetheart(common, own);
    } else if (earlier && r < voidRate) {
      tx = makeTransaction([], { ...common, type: 'POST_VOID', original: { transactionId: earlier.transactionId, terminalId: earlier.terminalId } });
      this.recent.splice(this.recent.indexOf(earlier), 1);
    } else if (earlier?.lines?.[0] && r < voidRate + returnRate) {
      // A customer brings one of a recent sale's items back.
      const line = earlier.lines[0];
      tx = makeTransaction([{ sku: line.sku, category: line.category, unitPrice: line.unitPrice, quantity: 1, taxAmount: (line.taxAmount ?? 0) > 0 ? Math.round(line.unitPrice * 0.2) : 0 }], {
        ...common,
        type: 'RETURN',
        original: { transactionId: earlier.transactionId, terminalId: earlier.terminalId },
      });
      tx = { ...tx, tenders: [{ type: 'CASH', amount: tx.totals.grand, change: 0 }] };
    } else {
      tx = makeTransaction(this.basket(), { ...common, trainingMode: r > 1 - trainingRate });
      tx = { ...tx, tenders: this.tenders(tx) };
      if (!tx.trainingMode) {
        this.recent.push(tx);
        if (this.recent.length > 200) this.recent.shift();
      }
    }
    const { offlineRate = 0, offlineMs = 30_000 } = this.options;
    if (terminal.offlineUntil <= now && offlineRate > 0 && this.random() < offlineRate) terminal.offlineUntil = now + offlineMs;
    return { terminal, tx };
  }
}
