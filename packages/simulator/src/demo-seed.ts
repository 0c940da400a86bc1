import { createHash } from 'node:crypto';
import { countsForSales, salesSign, type PosTransactionInput } from '@tillstream/contracts';
import { bakeryCatalog, bakeryTransactions, readBakeryCsv, zoneOffset, type BakeryRow } from './bakery.ts';
import { TerminalClient, emptyTally, type Tally } from './terminal-client.ts';

/**
 * A demo store that looks like a real one from the first minute: the
 * bakery's catalog with reorder settings, an opening delivery, and weeks of
 * history replayed from the bakery's real log into the recent past, sent
 * THROUGH INGEST as a terminal's backlog arrives (the batch endpoint, the
 * terminals' own tokens), with weekly deliveries booked through inventory's
 * API as a back office would. Used by `tillstream demo` and by tests.
 *
 * Everything is a function of the calendar date, never of when the demo
 * runs, so a restarted demo (today, or a week later) sends the same
 * transactionIds with the same bodies (ingest answers 200, nothing counted
 * twice) and books the same deliveries under the same Idempotency-Keys:
 *
 * - Date D of the demo shows the log's day L(D) = the log's first Monday +
 *   ((D - 2001-01-01) mod 22 weeks): a 22-week cycle through the log
 *   (159 days), weekday for weekday, so Saturdays look like the bakery's
 *   Saturdays and "the same weekday last week" compares like with like.
 *   A day the bakery was closed or all but closed (Christmas, New Year's Day:
 *   under 10 sales) shows the same weekday a week earlier instead: every demo
 *   day is a trading day.
 * - The history is the calendar weeks (Monday to Sunday) from `weeks`
 *   before this week's Monday up to now; today stops at the current time.
 * - Deliveries come as a bakery's do (`deliverySchedule`): what is baked
 *   in the store's own kitchen (bread, pastry, kitchen: lead time one day)
 *   arrives every morning holding that day's demand (from the log, so known
 *   in advance); drinks and retail goods arrive on Monday holding the
 *   week's, rounded up to packs. Stock never falls below the opening level,
 *   which is one unit above the fixed reorder point and no more: by
 *   late morning the fresh goods are at or below their forecast reorder
 *   point (today's demand plus safety stock), as a real bakery's are before
 *   it orders tomorrow's bake, and the weekly goods reach theirs as their
 *   week runs down, so "What to order today" lists real orders from the
 *   first minute without anything forced.
 */

const DAY_MS = 86_400_000;
/** A Monday, the origin of the cycle. */
const CYCLE_ORIGIN = Date.UTC(2001, 0, 1);
const CYCLE_DAYS = 22 * 7;

export interface DemoItem {
  sku: string;
  description: string;
  category: string;
  unitPrice: number;
  /** Units sold per day on average over the whole log (for settings that do not depend on the demo's date). */
  dailyDemand: number;
}

/** Replenishment parameters of an item; see `replenishmentSettings`. */
export interface ReplenishmentSettings {
  leadTimeDays: number;
  /** Days between deliveries: 1 for the daily bake, 7 for the weekly goods. */
  reviewPeriodDays: number;
  packSize: number;
  serviceLevel: number;
}

/** The item settings the demo sets (PUT /v1/inventory/items/:sku/settings): reorder levels and replenishment parameters. */
export interface DemoItemSettings extends ReplenishmentSettings {
  reorderPoint: number;
  reorderQuantity: number;
  maximum: number;
  /** FORECAST: the suggested orders' reorder point follows the item's forecast (the fixed one still drives stock alerts). */
  reorderMode: 'FORECAST';
}

/**
 * Lead time, pack size and service level per item, as a bakery's buyer
 * would set them: goods baked in the store's own kitchen (bread, pastry,
 * kitchen) come next day in trays, drinks from a wholesaler in cases within
 * three days, retail goods one at a time from their makers within a week.
 * Sent with the reorder levels (`itemSettings`); the pack size also rounds
 * the demo's deliveries.
 */
export function replenishmentSettings(item: Pick<DemoItem, 'category'>): ReplenishmentSettings {
  switch (item.category) {
    case 'bread':
      return { leadTimeDays: 1, reviewPeriodDays: 1, packSize: 4, serviceLevel: 0.95 };
    case 'pastry':
      return { leadTimeDays: 1, reviewPeriodDays: 1, packSize: 6, serviceLevel: 0.95 };
    case 'kitchen':
      return { leadTimeDays: 1, reviewPeriodDays: 1, packSize: 2, serviceLevel: 0.9 };
    case 'drinks':
      return { leadTimeDays: 3, reviewPeriodDays: 7, packSize: 12, serviceLevel: 0.98 };
    default:
      return { leadTimeDays: 7, reviewPeriodDays: 7, packSize: 1, serviceLevel: 0.9 };
  }
}

const roundUp = (n: number, pack: number) => Math.ceil(n / pack) * pack;

/** Delivered every morning (the store's own bake, a day's lead time) rather than weekly. */
export const deliveredDaily = (item: Pick<DemoItem, 'category'>) => replenishmentSettings(item).reviewPeriodDays === 1;

/**
 * Weekly goods: reorder point two days of demand plus a pack, reorder
 * quantity a week of it in packs. The daily bake: reorder point one pack
 * (the tray the shelf should never be without), reorder quantity a day's
 * demand in packs. Maximum: room for two reorder quantities above the
 * reorder point; and the item's replenishment
 * parameters (`replenishmentSettings`), so suggested orders follow its
 * forecast in whole packs. The reorder mode is FORECAST: what to order today
 * compares stock with the forecast demand over the lead time plus safety
 * stock (inventory's replenishment.ts), so the slow movers with a week's lead
 * time, whose forecast error calls for more than the fixed two days, are
 * there to order from the first minute; the fixed reorder point still
 * drives the stock alerts and the demo's back office (`DemoBackOffice`).
 */
export function itemSettings(item: DemoItem): DemoItemSettings {
  const replenishment = replenishmentSettings(item);
  const daily = deliveredDaily(item);
  const reorderPoint = daily ? replenishment.packSize : roundUp(Math.max(1, 2 * item.dailyDemand), replenishment.packSize);
  const reorderQuantity = roundUp(Math.max(1, (daily ? 1 : 7) * item.dailyDemand), replenishment.packSize);
  return { reorderPoint, reorderQuantity, maximum: reorderPoint + 2 * reorderQuantity, ...replenishment, reorderMode: 'FORECAST' };
}

/**
 * The opening delivery of an item: one unit above its reorder point, so the
 * store opens OK (not LOW) with no days of stock to spare, as a shop runs
 * down to its minimum before the next delivery: the deliveries bring each
 * day's or week's demand on top of it.
 */
export const openingStock = (item: DemoItem) => itemSettings(item).reorderPoint + 1;

/** The bakery's catalog with each item's average daily demand over the whole log. */
export function demoCatalog(rows: BakeryRow[] = readBakeryCsv()): DemoItem[] {
  const catalog = bakeryCatalog();
  const sold = new Map<string, number>();
  const days = new Set<string>();
  for (const row of rows) {
    days.add(row.date);
    if (row.item !== 'NONE') sold.set(row.item, (sold.get(row.item) ?? 0) + 1);
  }
  return Object.entries(catalog.items)
    .map(([description, item]) => ({ sku: item.sku, description, category: item.category, unitPrice: item.unitPrice, dailyDemand: (sold.get(description) ?? 0) / Math.max(1, days.size) }))
    .sort((a, b) => a.sku.localeCompare(b.sku));
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);

/** The log's day shown on demo date `day` (YYYY-MM-DD): same weekday, a 22-week cycle through the log. */
export function logDayOf(day: string, logStartMonday: string): string {
  const offset = ((((dayMs(day) - CYCLE_ORIGIN) / DAY_MS) % CYCLE_DAYS) + CYCLE_DAYS) % CYCLE_DAYS;
  return isoDay(dayMs(logStartMonday) + offset * DAY_MS);
}

/** A stable UUID (version 4 layout) from a name: the same demo transaction always has the same id. */
function stableUuid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The local date and time of `at` in `timeZone`. */
function localNow(at: Date, timeZone: string): { day: string; time: string } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return { day: `${get('year')}-${get('month')}-${get('day')}`, time: `${get('hour')}:${get('minute')}:${get('second')}` };
}

export interface DemoWeek {
  /** Its Monday (YYYY-MM-DD): the delivery's date and key. */
  monday: string;
  /** The week's whole demand per SKU (also the days after today, for the Monday delivery). */
  demand: Map<string, number>;
  /** Each day's demand per SKU (YYYY-MM-DD, Monday first, also the days after today). */
  days: Array<{ day: string; demand: Map<string, number> }>;
  /** The week's transactions up to now, in time order. */
  transactions: PosTransactionInput[];
}

export interface DemoHistoryOptions {
  storeId: string;
  timeZone: string;
  /** Full weeks before the current one (default 8). */
  weeks?: number;
  now?: Date;
  rows?: BakeryRow[];
}

/** The history of a demo store: per calendar week, its transactions up to now and its whole demand. */
export function demoHistory(options: DemoHistoryOptions): DemoWeek[] {
  const rows = options.rows ?? readBakeryCsv();
  const byDay = new Map<string, BakeryRow[]>();
  for (const row of rows) {
    let list = byDay.get(row.date);
    if (!list) byDay.set(row.date, (list = []));
    list.push(row);
  }
  const trading = (logDay: string) => new Set(byDay.get(logDay)?.map((r) => r.transaction)).size >= 10;
  const firstLogDay = rows[0]!.date;
  const logStartMonday = isoDay(dayMs(firstLogDay) + ((8 - new Date(dayMs(firstLogDay)).getUTCDay()) % 7) * DAY_MS);
  const now = localNow(options.now ?? new Date(), options.timeZone);
  const thisMonday = dayMs(now.day) - ((new Date(dayMs(now.day)).getUTCDay() + 6) % 7) * DAY_MS;
  const catalog = bakeryCatalog();
  const weeks: DemoWeek[] = [];
  for (let w = options.weeks ?? 8; w >= 0; w--) {
    const monday = thisMonday - w * 7 * DAY_MS;
    const week: DemoWeek = { monday: isoDay(monday), demand: new Map(), days: [], transactions: [] };
    for (let d = 0; d < 7; d++) {
      const day = isoDay(monday + d * DAY_MS);
      let logDay = logDayOf(day, logStartMonday);
      for (let back = 0; !trading(logDay) && back < 4; back++) logDay = logDayOf(isoDay(dayMs(day) - (back + 1) * 7 * DAY_MS), logStartMonday);
      const dayRows = byDay.get(logDay) ?? [];
      const dayDemand = new Map<string, number>();
      for (const row of dayRows) {
        if (row.item !== 'NONE') {
          const sku = catalog.items[row.item]!.sku;
          week.demand.set(sku, (week.demand.get(sku) ?? 0) + 1);
          dayDemand.set(sku, (dayDemand.get(sku) ?? 0) + 1);
        }
      }
      week.days.push({ day, demand: dayDemand });
      if (day > now.day) continue;
      // Today up to now: whole transactions (by their first row's time), so a later run sends each with the same body.
      const rungAt = new Map<number, string>();
      for (const r of dayRows) if (!rungAt.has(r.transaction)) rungAt.set(r.transaction, r.time);
      const shown = dayRows.filter((r) => day < now.day || rungAt.get(r.transaction)! <= now.time).map((r) => ({ ...r, date: day }));
      const txs = bakeryTransactions({ storeId: options.storeId, rows: shown });
      // Numbered from the log's own transaction numbers (T01 has the odd ones, T02 the even), not from what is shown: a day's numbers never change.
      const first = firstSequenceOf(day) - Math.min(...rungAt.keys());
      for (const tx of txs) {
        const time = tx.occurredAt.slice(11, 19);
        const bakeryNumber = tx.sequenceNumber;
        week.transactions.push({
          ...tx,
          transactionId: stableUuid(`tillstream-demo:${options.storeId}:${day}:${bakeryNumber}`),
          sequenceNumber: first + tx.sequenceNumber,
          // The log's wall-clock time, in the store's own time zone.
          occurredAt: `${day}T${time}${zoneOffset(day, time, options.timeZone)}`,
          businessDay: day,
          // The bakery logged no operators: the live tills' four (OP1-OP4), so the history has peers to compare.
          operatorId: `OP${1 + (bakeryNumber % 4)}`,
        });
      }
    }
    week.transactions.sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt));
    weeks.push(week);
  }
  return weeks;
}

export interface DemoDelivery {
  /** The morning it arrives (YYYY-MM-DD): its key. */
  day: string;
  lines: Array<{ sku: string; quantity: number }>;
}

/**
 * A week's deliveries up to `today` (YYYY-MM-DD): every morning the daily
 * bake's items, that day's demand exactly (baked in the store's kitchen to
 * the day's plan: no packs left over to pile up); on Monday also the weekly
 * goods, the week's demand rounded up to packs. A function of the week's
 * dates only: a restart books the same bodies under the same keys.
 */
export function deliverySchedule(week: DemoWeek, catalog: DemoItem[], today: string): DemoDelivery[] {
  const bySku = new Map(catalog.map((item) => [item.sku, item]));
  const deliveries: DemoDelivery[] = [];
  for (const { day, demand } of week.days) {
    if (day > today) break;
    const lines = [...demand].filter(([sku]) => deliveredDaily(bySku.get(sku)!)).map(([sku, quantity]) => ({ sku, quantity }));
    if (day === week.monday) {
      for (const [sku, units] of week.demand) {
        const item = bySku.get(sku)!;
        if (!deliveredDaily(item)) lines.push({ sku, quantity: roundUp(units, replenishmentSettings(item).packSize) });
      }
    }
    const shown = lines.filter((l) => l.quantity > 0).sort((a, b) => a.sku.localeCompare(b.sku));
    if (shown.length > 0) deliveries.push({ day, lines: shown });
  }
  return deliveries;
}

/**
 * A till's sequence numbers are numbered by day: day D's history on a till
 * is <days since 2000-01-01> * 1,000,000 + 1 + the log's transaction number
 * less the day's first (the log has ~300 a day), so a day's numbers never
 * depend on when the demo ran. The
 * live tills go on from LIVE_SEQUENCE_OFFSET past today's first, above any
 * history number of today: a demo restarted later today sends the rest of
 * today's history under numbers no live sale used.
 */
const firstSequenceOf = (day: string) => Math.round((dayMs(day) - Date.UTC(2000, 0, 1)) / DAY_MS) * 1_000_000 + 1;
const LIVE_SEQUENCE_OFFSET = 10_000;

/** The terminals the history rings up on (the bakery's two tills). */
export const HISTORY_TERMINALS = ['T01', 'T02'] as const;

export interface SeedProgress {
  storeId: string;
  /** What was just done ("opening delivery", "week 3/9 sent", ...). */
  step: string;
  /** History transactions confirmed by ingest so far, of the total. */
  transactions: number;
  totalTransactions: number;
}

export interface SeedStoreOptions {
  storeId: string;
  timeZone: string;
  /** Ingest's base URL (terminals' API). */
  ingestUrl: string;
  /** The store API's base URL (inventory). */
  storeApiUrl: string;
  /** A store manager's token: books deliveries and sets item settings. */
  managerToken: string;
  /** Tokens of T01 and T02, the tills the history rings up on. */
  terminalTokens: Record<(typeof HISTORY_TERMINALS)[number], string>;
  weeks?: number;
  now?: Date;
  onProgress?(progress: SeedProgress): void;
}

export interface SeedResult {
  storeId: string;
  /** History transactions sent; of them accepted (201) and already there (200). */
  transactions: number;
  tally: Tally;
  /** Deliveries booked now (201) and ones booked by an earlier run (200). */
  deliveries: { booked: number; replayed: number };
  /** Items whose settings were changed (0 when they were already set). */
  settingsChanged: number;
  /** Per history terminal, the number the live tills go on from: past any the history uses today (see firstSequenceOf). */
  lastSequence: Record<string, number>;
  /** Sales (NO_SALEs not counted, as trends does not) per business day: to see that a store's trends booked them. */
  perDay: Map<string, number>;
  /**
   * Each item's stock once inventory has booked all of this seeding: the
   * opening delivery, every delivery and every history sale. The store's
   * stock when nothing else moved it (a store seeded before, with live sales
   * since, holds what those moved too): `DemoBackOffice.open` takes the lower
   * of this and inventory's booked figure.
   */
  stockAfterHistory: Map<string, number>;
}

class SeedError extends Error {}

/** Where and as whom the seeding calls the store API. */
type StoreApiAccess = Pick<SeedStoreOptions, 'storeApiUrl' | 'managerToken'>;

async function storeApi<T>(options: StoreApiAccess, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${options.storeApiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${options.managerToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    // 409: the same Idempotency-Key is being booked (an earlier attempt); 503: the store API is busy. Both retriable.
    if ((res.status === 409 || res.status === 503) && attempt < 20) {
      await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)));
      continue;
    }
    if (res.status >= 300) throw new SeedError(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}

interface ItemRow {
  sku: string;
  onHand: number;
  settings: { [K in keyof DemoItemSettings]: DemoItemSettings[K] | null };
}

async function currentItems(options: StoreApiAccess): Promise<Map<string, ItemRow>> {
  const items = new Map<string, ItemRow>();
  let cursor: string | null = null;
  do {
    const page: { body: { items: ItemRow[]; nextCursor: string | null } } = await storeApi(options, 'GET', `/v1/inventory/items?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    for (const item of page.body.items) items.set(item.sku, item);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

/** A delivery through inventory's API, keyed by store and date: a restarted demo replays it (200) instead of booking it twice. */
async function deliver(options: StoreApiAccess, key: string, reference: string, lines: Array<{ sku: string; quantity: number; description?: string }>): Promise<'booked' | 'replayed' | 'empty'> {
  if (lines.length === 0) return 'empty';
  const { status } = await storeApi(options, 'POST', '/v1/inventory/receipts', { reference, supplier: 'Demo bakery wholesale', lines: lines.map((l) => ({ ...l, unitOfMeasure: 'EA' })) }, { 'idempotency-key': key });
  return status === 201 ? 'booked' : 'replayed';
}

/**
 * Seeds one demo store (see the module comment): the opening delivery, the
 * items' settings, then week by week that week's delivery and its sales
 * through ingest's batch endpoint. Idempotent: a second run books and counts
 * nothing new (ingest answers 200 for each transaction, inventory replays
 * each delivery, settings already set are left alone). Throws if ingest
 * refuses any transaction for good.
 */
export async function seedStore(options: SeedStoreOptions): Promise<SeedResult> {
  const { storeId } = options;
  const catalog = demoCatalog();
  const weeks = demoHistory({ storeId, timeZone: options.timeZone, weeks: options.weeks, now: options.now });
  const total = weeks.reduce((n, w) => n + w.transactions.length, 0);
  const result: SeedResult = { storeId, transactions: total, tally: emptyTally(), deliveries: { booked: 0, replayed: 0 }, settingsChanged: 0, lastSequence: {}, perDay: new Map(), stockAfterHistory: new Map() };
  const stock = result.stockAfterHistory;
  const move = (sku: string, units: number) => stock.set(sku, (stock.get(sku) ?? 0) + units);
  const progress = (step: string) => options.onProgress?.({ storeId, step, transactions: result.tally.accepted + result.tally.replayed, totalTransactions: total });
  const count = (outcome: 'booked' | 'replayed' | 'empty') => {
    if (outcome !== 'empty') result.deliveries[outcome]++;
  };

  // The opening delivery: every catalog item, so nothing the tills sell starts from nothing.
  // v2: the opening level changed (one unit above the reorder point, not a week above it); a store seeded before keeps its stock.
  count(await deliver(options, `demo-opening-v2-${storeId}`, `DEMO-OPENING-${storeId}`, catalog.map((item) => ({ sku: item.sku, quantity: openingStock(item), description: item.description }))));
  for (const item of catalog) move(item.sku, openingStock(item));
  progress('opening delivery');

  // Reorder and replenishment settings, only where they differ (a restarted demo changes nothing).
  const items = await currentItems(options);
  for (const item of catalog) {
    const wanted = itemSettings(item);
    const now = items.get(item.sku)?.settings;
    if (now && (Object.keys(wanted) as Array<keyof DemoItemSettings>).every((k) => now[k] === wanted[k])) continue;
    await storeApi(options, 'PUT', `/v1/inventory/items/${encodeURIComponent(item.sku)}/settings`, wanted);
    result.settingsChanged++;
  }
  progress(`item settings (${result.settingsChanged} changed)`);

  const rejected: string[] = [];
  const clients = Object.fromEntries(
    HISTORY_TERMINALS.map((terminalId) => [
      terminalId,
      new TerminalClient({
        url: options.ingestUrl,
        token: options.terminalTokens[terminalId],
        tally: result.tally,
        stopped: () => false,
        onRejected: (tx, status, detail) => rejected.push(`${tx.transactionId} (${status}: ${detail})`),
      }),
    ]),
  );
  const today = localNow(options.now ?? new Date(), options.timeZone).day;
  for (const [i, week] of weeks.entries()) {
    // The week's deliveries before its sales (each arrives the morning of its day): stock never goes below the opening level.
    for (const delivery of deliverySchedule(week, catalog, today)) {
      count(await deliver(options, `demo-morning-${storeId}-${delivery.day}`, `DEMO-${storeId}-${delivery.day}`, delivery.lines));
      for (const line of delivery.lines) move(line.sku, line.quantity);
    }
    // Each till uploads its week as an offline backlog would arrive: the batch endpoint, 500 at a time.
    await Promise.all(HISTORY_TERMINALS.map((terminalId) => clients[terminalId]!.sendBacklog(week.transactions.filter((tx) => tx.terminalId === terminalId))));
    if (rejected.length > 0) throw new SeedError(`ingest refused ${rejected.length} history transaction(s) of ${storeId}, e.g. ${rejected.slice(0, 3).join('; ')}`);
    for (const tx of week.transactions) {
      if (tx.type === 'SALE') result.perDay.set(tx.businessDay, (result.perDay.get(tx.businessDay) ?? 0) + 1);
      for (const [sku, units] of unitsTaken(tx)) move(sku, -units);
    }
    progress(`week of ${week.monday} (${i + 1}/${weeks.length}): deliveries and ${week.transactions.length} transactions`);
  }
  const liveFrom = firstSequenceOf(today) + LIVE_SEQUENCE_OFFSET;
  for (const terminalId of HISTORY_TERMINALS) result.lastSequence[terminalId] = liveFrom;
  return result;
}

/** What the back office needs to know of an item's shelf. */
interface Shelf {
  /** Units on the shelf by the back office's own count (never more than inventory will book). */
  count: number;
  reorderPoint: number;
  reorderQuantity: number;
}

/**
 * Units a transaction rung up takes off the shelf, per SKU: the counting
 * lines of a sale (contracts' pos-rules: not voided, not training). Returns
 * and the post-voids that put a sale back are left out, so the count errs
 * only low: a count never above what inventory books.
 */
export function unitsTaken(tx: PosTransactionInput): Map<string, number> {
  const taken = new Map<string, number>();
  if (!countsForSales({ type: tx.type, trainingMode: tx.trainingMode ?? false }) || salesSign(tx) !== 1) return taken;
  for (const line of tx.lines ?? []) if (!line.voided) taken.set(line.sku, (taken.get(line.sku) ?? 0) + line.quantity);
  return taken;
}

/**
 * The demo's back office while the tills sell (far faster than the bakery
 * ever did): it counts each item's shelf as the tills ring, and a sale that
 * would take an item's last unit gets that item's delivery booked first
 * (its reorder quantity, plus what the sale takes below the reorder point),
 * so the shelf runs down through LOW and never below one unit.
 *
 * Why before the sale rather than on a timer: inventory books a delivery
 * when its API answers and a sale when its consumer reads it, so stock that
 * the back office delivers before the till rings can never be booked
 * negative, whatever the machine's load or the consumer's lag. The count
 * starts from inventory's booked stock (taken no higher than the seeding's
 * own sum, in case inventory has not booked all of the history yet) and only
 * sales come off it (`unitsTaken`): it never counts more than inventory books.
 */
export class DemoBackOffice {
  private constructor(
    private readonly options: StoreApiAccess & Pick<SeedStoreOptions, 'storeId'>,
    private readonly shelves: Map<string, Shelf>,
  ) {}

  /**
   * Counts the store's shelves: inventory's on-hand figures, each taken no
   * higher than `expected` (the seeding's `stockAfterHistory`) where given.
   */
  static async open(options: StoreApiAccess & Pick<SeedStoreOptions, 'storeId'>, expected?: ReadonlyMap<string, number>): Promise<DemoBackOffice> {
    const shelves = new Map<string, Shelf>();
    for (const item of (await currentItems(options)).values()) {
      const count = Math.min(item.onHand, expected?.get(item.sku) ?? Infinity);
      shelves.set(item.sku, { count, reorderPoint: item.settings.reorderPoint ?? 0, reorderQuantity: item.settings.reorderQuantity ?? 1 });
    }
    return new DemoBackOffice(options, shelves);
  }

  /** The back office's count of an item's shelf (0 for an item it has never seen). */
  count(sku: string): number {
    return this.shelves.get(sku)?.count ?? 0;
  }

  /**
   * Called before a till rings `tx` up: books a delivery for every item the
   * sale would otherwise leave with no unit (keyed by the transaction, so a
   * retried call books it once), then takes the sale off the count. Returns
   * the units delivered per SKU (empty when the shelves had enough).
   */
  async beforeRing(tx: PosTransactionInput): Promise<Map<string, number>> {
    const taken = unitsTaken(tx);
    const lines: Array<{ sku: string; quantity: number }> = [];
    for (const [sku, units] of taken) {
      let shelf = this.shelves.get(sku);
      if (!shelf) this.shelves.set(sku, (shelf = { count: 0, reorderPoint: 0, reorderQuantity: 1 }));
      const after = shelf.count - units;
      if (after < 1) lines.push({ sku, quantity: shelf.reorderQuantity + Math.max(0, shelf.reorderPoint - after) });
    }
    if (lines.length > 0) {
      const digest = createHash('sha256').update(`${this.options.storeId}:${tx.transactionId}`).digest('base64url').slice(0, 32);
      await deliver(this.options, `demo-restock-${digest}`, `DEMO-RESTOCK-${digest.slice(0, 12)}`, lines);
      for (const line of lines) this.shelves.get(line.sku)!.count += line.quantity;
    }
    for (const [sku, units] of taken) this.shelves.get(sku)!.count -= units;
    return new Map(lines.map((l) => [l.sku, l.quantity]));
  }
}
