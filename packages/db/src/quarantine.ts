import { safeErrorText, QuarantineEntryV1, type QuarantineEntry, type QuarantineSource, type QuarantineStatus } from '@tillstream/contracts';
import type { PoolClient, Queryable } from './pool.ts';
import { appendSyncOutbox } from './sync-outbox.ts';

/**
 * The quarantine (migrations/store/*_quarantine.sql and hq/*_hq-quarantine.sql;
 * docs/quarantine.md). A store's entries live in its `quarantine` table and
 * every entry, at every revision, is appended to the sync outbox (stream
 * `quarantine`) in the same transaction, so HQ sees every store's poison.
 * HQ keeps the latest revision per (store, entry id) in `hq_quarantine`,
 * beside the dead letters of its own consumers.
 */

/** Which database: a store's (`quarantine`) or HQ's (`hq_quarantine`). */
export type QuarantineTarget = 'store' | 'hq';

const TABLE: Record<QuarantineTarget, string> = { store: 'quarantine', hq: 'hq_quarantine' };

/** A record a consumer dead-lettered: where it was, its bytes, and why. */
export interface DeadLetterInput {
  source: 'dead-letter';
  /** The service that dead-lettered it ("inventory", "trends", "sync", "hq"). */
  service: string;
  consumerGroup: string;
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  /** The original record's headers and the error headers, as on the dead-letter topic. */
  headers: Record<string, string>;
  code: string;
  message: string;
}

/** An outbox record HQ refused with a non-retriable 4xx, isolated by sync. */
export interface UploadRefusedInput {
  source: 'upload-refused';
  service: string;
  outboxId: string;
  code: string;
  message: string;
  /** When the record is a POS transaction, or derives from one. */
  transactionId?: string | null;
  businessDay?: string | null;
}

export type QuarantineInput = DeadLetterInput | UploadRefusedInput;

/** One quarantine row as the CLI and the dashboards show it. */
export interface QuarantineRow {
  /** The row id (the CLI's id; at a store also the entry id). */
  id: string;
  storeId: string;
  entryId: string;
  source: QuarantineSource;
  service: string;
  consumerGroup: string | null;
  topic: string | null;
  partition: number | null;
  offset: string | null;
  outboxId: string | null;
  code: string;
  message: string;
  headers: Record<string, string>;
  transactionId: string | null;
  businessDay: string | null;
  quarantinedAt: string;
  status: QuarantineStatus;
  actor: string | null;
  reason: string | null;
  resolvedAt: string | null;
  revision: number;
  /** Whether this database holds the record's bytes (a dead letter of one of its own consumers): replayable here. */
  replayable: boolean;
}

interface DbRow {
  id: string;
  store_id: string;
  entry_id: string;
  source: QuarantineSource;
  service: string;
  consumer_group: string | null;
  topic: string | null;
  kafka_partition: number | null;
  kafka_offset: string | null;
  outbox_id: string | null;
  code: string;
  message: string;
  headers: Record<string, string>;
  transaction_id: string | null;
  business_day: string | null;
  quarantined_at: Date;
  status: QuarantineStatus;
  actor: string | null;
  reason: string | null;
  resolved_at: Date | null;
  revision: number;
  replayable: boolean;
}

function columns(target: QuarantineTarget): string {
  const entryId = target === 'store' ? 'id::text' : 'entry_id';
  return `id::text AS id, store_id, ${entryId} AS entry_id, source, service, consumer_group, topic, kafka_partition, kafka_offset::text AS kafka_offset,
    outbox_id::text AS outbox_id, code, message, headers, transaction_id::text AS transaction_id,
    to_char(business_day, 'YYYY-MM-DD') AS business_day, quarantined_at, status, actor, reason, resolved_at, revision,
    record_value IS NOT NULL AS replayable`;
}

function toRow(r: DbRow): QuarantineRow {
  return {
    id: r.id,
    storeId: r.store_id,
    entryId: r.entry_id,
    source: r.source,
    service: r.service,
    consumerGroup: r.consumer_group,
    topic: r.topic,
    partition: r.kafka_partition,
    offset: r.kafka_offset,
    outboxId: r.outbox_id,
    code: r.code,
    message: r.message,
    headers: r.headers,
    transactionId: r.transaction_id,
    businessDay: r.business_day,
    quarantinedAt: r.quarantined_at.toISOString(),
    status: r.status,
    actor: r.actor,
    reason: r.reason,
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    revision: r.revision,
    replayable: r.replayable,
  };
}

/** The entry as it travels to HQ. */
export function quarantineEntry(row: QuarantineRow): QuarantineEntry {
  return QuarantineEntryV1.parse({
    entryId: row.entryId,
    storeId: row.storeId,
    source: row.source,
    service: row.service,
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    outboxId: row.outboxId,
    code: row.code,
    message: row.message,
    transactionId: row.transactionId,
    businessDay: row.businessDay,
    quarantinedAt: row.quarantinedAt,
    status: row.status,
    resolution: row.status === 'open' ? null : { actor: row.actor ?? 'unknown', at: row.resolvedAt ?? row.quarantinedAt, reason: row.reason },
    revision: row.revision,
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * What a dead-lettered record says about itself, read leniently (it may be
 * invalid, or not JSON at all): the store, and the transaction and business
 * day when it is a POS transaction.
 */
export function describeRecord(value: Buffer | null): { storeId: string | null; transactionId: string | null; businessDay: string | null } {
  const none = { storeId: null, transactionId: null, businessDay: null };
  if (!value) return none;
  let doc: unknown;
  try {
    doc = JSON.parse(value.toString('utf8'));
  } catch {
    return none;
  }
  const envelope = (doc && typeof doc === 'object' ? doc : {}) as { storeId?: unknown; data?: unknown };
  const data = (envelope.data && typeof envelope.data === 'object' ? envelope.data : {}) as { transactionId?: unknown; businessDay?: unknown; storeId?: unknown };
  const str = (v: unknown, re: RegExp) => (typeof v === 'string' && re.test(v) ? v : null);
  return {
    storeId: str(envelope.storeId, /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/) ?? str(data.storeId, /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/),
    transactionId: str(data.transactionId, UUID)?.toLowerCase() ?? null,
    businessDay: str(data.businessDay, DAY),
  };
}

function originOf(input: QuarantineInput): string {
  return input.source === 'dead-letter'
    ? `dead-letter:${input.consumerGroup}:${input.topic}:${input.partition}:${input.offset}`
    : `upload-refused:${input.outboxId}`;
}

/** Appends an entry at its current revision to the sync outbox (store only). */
async function forward(client: PoolClient, row: QuarantineRow): Promise<void> {
  const entry = quarantineEntry(row);
  await appendSyncOutbox(client, [{ stream: 'quarantine', key: `${entry.entryId}#${entry.revision}`, data: entry }]);
}

/**
 * Quarantines a record in the caller's transaction (a store's `quarantine`,
 * or HQ's `hq_quarantine` for HQ's own consumers) and, at a store, appends
 * the entry to the sync outbox for HQ. The same event recorded twice (a
 * consumer that crashed after dead-lettering) returns the first entry.
 */
export async function recordQuarantine(client: PoolClient, target: QuarantineTarget, storeId: string, input: QuarantineInput): Promise<QuarantineRow> {
  const described = input.source === 'dead-letter' ? describeRecord(input.value) : { storeId: null, transactionId: input.transactionId ?? null, businessDay: input.businessDay ?? null };
  const dead = input.source === 'dead-letter' ? input : undefined;
  const origin = originOf(input);
  const headers = Object.fromEntries(Object.entries(dead?.headers ?? {}).map(([k, v]) => [safeErrorText(k, 200), safeErrorText(v)]));
  const values = [
    origin,
    target === 'hq' ? (described.storeId ?? storeId) : storeId,
    input.source,
    input.service,
    dead?.consumerGroup ?? null,
    dead?.topic ?? null,
    dead?.partition ?? null,
    dead?.offset ?? null,
    dead?.key ?? null,
    dead?.value ?? null,
    JSON.stringify(headers),
    input.source === 'upload-refused' ? input.outboxId : null,
    safeErrorText(input.code, 100),
    safeErrorText(input.message),
    described.transactionId,
    described.businessDay,
  ];
  const hqColumns = target === 'hq' ? ', entry_id, quarantined_at, status, revision' : '';
  const hqValues = target === 'hq' ? ", 'hq-' || substr(md5($1), 1, 16), now(), 'open', 1" : '';
  const { rows } = await client.query<DbRow>(
    `INSERT INTO ${TABLE[target]} (origin, store_id, source, service, consumer_group, topic, kafka_partition, kafka_offset, record_key, record_value, headers,
       outbox_id, code, message, transaction_id, business_day${hqColumns})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16${hqValues})
     ON CONFLICT (origin) DO NOTHING
     RETURNING ${columns(target)}`,
    values,
  );
  if (rows[0]) {
    const row = toRow(rows[0]);
    if (target === 'store') await forward(client, row);
    // HQ's own consumer set a sale aside: its day is verified again (and is not complete while the entry is open).
    if (target === 'hq' && row.businessDay) {
      await client.query("UPDATE hq_manifests SET status = 'pending', check_offsets = NULL WHERE store_id = $1 AND business_day = $2", [row.storeId, row.businessDay]);
    }
    return row;
  }
  const { rows: existing } = await client.query<DbRow>(`SELECT ${columns(target)} FROM ${TABLE[target]} WHERE origin = $1`, [origin]);
  return toRow(existing[0]!);
}

export interface QuarantineFilter {
  status?: QuarantineStatus | 'all';
  source?: QuarantineSource;
  topic?: string;
  service?: string;
  code?: string;
  storeId?: string;
  /** Row ids from..to inclusive. */
  ids?: { from: string; to: string };
  limit?: number;
}

function where(filter: QuarantineFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    clauses.push(sql.replace(/\?/g, () => `$${params.push(values.shift())}`));
  };
  const status = filter.status ?? 'open';
  if (status !== 'all') add('status = ?', status);
  if (filter.source) add('source = ?', filter.source);
  if (filter.topic) add('topic = ?', filter.topic);
  if (filter.service) add('service = ?', filter.service);
  if (filter.code) add('code = ?', filter.code);
  if (filter.storeId) add('store_id = ?', filter.storeId);
  if (filter.ids) add('id BETWEEN ? AND ?', filter.ids.from, filter.ids.to);
  return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

/** Entries matching `filter` (default: the open ones), oldest first. */
export async function listQuarantine(db: Queryable, target: QuarantineTarget, filter: QuarantineFilter = {}): Promise<QuarantineRow[]> {
  const { sql, params } = where(filter);
  const { rows } = await db.query<DbRow>(`SELECT ${columns(target)} FROM ${TABLE[target]} ${sql} ORDER BY id LIMIT ${Math.min(filter.limit ?? 1000, 10_000)}`, params);
  return rows.map(toRow);
}

export interface QuarantineGroup {
  storeId: string;
  topic: string | null;
  service: string;
  code: string;
  count: number;
  oldestAt: string;
  newestAt: string;
}

/** Counts and ages per store, topic, service and code (default: open entries). */
export async function summarizeQuarantine(db: Queryable, target: QuarantineTarget, filter: QuarantineFilter = {}): Promise<QuarantineGroup[]> {
  const { sql, params } = where(filter);
  const { rows } = await db.query<{ store_id: string; topic: string | null; service: string; code: string; n: string; oldest: Date; newest: Date }>(
    `SELECT store_id, topic, service, code, count(*) AS n, min(quarantined_at) AS oldest, max(quarantined_at) AS newest
     FROM ${TABLE[target]} ${sql} GROUP BY store_id, topic, service, code ORDER BY min(quarantined_at)`,
    params,
  );
  return rows.map((r) => ({
    storeId: r.store_id,
    topic: r.topic,
    service: r.service,
    code: r.code,
    count: Number(r.n),
    oldestAt: r.oldest.toISOString(),
    newestAt: r.newest.toISOString(),
  }));
}

export async function getQuarantine(db: Queryable, target: QuarantineTarget, id: string): Promise<QuarantineRow | undefined> {
  if (!/^\d{1,19}$/.test(id)) return undefined;
  const { rows } = await db.query<DbRow>(`SELECT ${columns(target)} FROM ${TABLE[target]} WHERE id = $1`, [id]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** The record's bytes, key and original position, for a replay (dead letters of this database's own consumers). */
export async function quarantinedRecord(
  db: Queryable,
  target: QuarantineTarget,
  id: string,
): Promise<{ key: string | null; value: Buffer; headers: Record<string, string>; topic: string; consumerGroup: string } | undefined> {
  const { rows } = await db.query<{ record_key: string | null; record_value: Buffer; headers: Record<string, string>; topic: string; consumer_group: string }>(
    `SELECT record_key, record_value, headers, topic, consumer_group FROM ${TABLE[target]} WHERE id = $1 AND record_value IS NOT NULL`,
    [id],
  );
  const r = rows[0];
  return r ? { key: r.record_key, value: r.record_value, headers: r.headers, topic: r.topic, consumerGroup: r.consumer_group } : undefined;
}

/**
 * Resolves an open entry (replayed, or discarded with a reason), once: the
 * revision goes up and, at a store, the new revision goes to HQ. Returns
 * undefined when the entry is not open (already resolved, or unknown).
 *
 * `tillstream dlq replay` calls it with `replayed` after it re-produced a
 * dead letter for its consumer group. For an `upload-refused` entry the
 * replay is this status change alone: sync uploads again an isolated outbox
 * record whose entry is no longer `open` (`replayed`), and never one that is
 * `discarded`.
 */
export async function resolveQuarantine(
  client: PoolClient,
  target: QuarantineTarget,
  id: string,
  resolution: { status: Exclude<QuarantineStatus, 'open'>; actor: string; reason?: string | null },
): Promise<QuarantineRow | undefined> {
  if (resolution.status === 'discarded' && !resolution.reason?.trim()) throw new Error('a discard needs a reason');
  const { rows } = await client.query<DbRow>(
    `UPDATE ${TABLE[target]} SET status = $2, actor = $3, reason = $4, resolved_at = now(), revision = revision + 1
     WHERE id = $1 AND status = 'open'
     RETURNING ${columns(target)}`,
    [id, resolution.status, safeErrorText(resolution.actor, 200), resolution.reason?.trim() ? safeErrorText(resolution.reason.trim()) : null],
  );
  if (!rows[0]) return undefined;
  const row = toRow(rows[0]);
  if (target === 'store') await forward(client, row);
  if (target === 'hq' && row.businessDay) {
    await client.query("UPDATE hq_manifests SET status = 'pending', check_offsets = NULL WHERE store_id = $1 AND business_day = $2", [row.storeId, row.businessDay]);
  }
  return row;
}

/**
 * Opens again a store entry that was replayed (or discarded) when the same
 * record fails again: the cause was not fixed after all. A new revision
 * with the new error goes to HQ too, so a record is never set aside unseen.
 */
export async function reopenQuarantine(client: PoolClient, id: string, failure: { code: string; message: string }): Promise<QuarantineRow | undefined> {
  const { rows } = await client.query<DbRow>(
    `UPDATE quarantine SET status = 'open', actor = NULL, reason = NULL, resolved_at = NULL, code = $2, message = $3, revision = revision + 1
     WHERE id = $1 AND status <> 'open'
     RETURNING ${columns('store')}`,
    [id, safeErrorText(failure.code, 100), safeErrorText(failure.message)],
  );
  if (!rows[0]) return undefined;
  const row = toRow(rows[0]);
  await forward(client, row);
  return row;
}

/**
 * Books entries a store uploaded (HQ, inside the batch's transaction): the
 * latest revision of each (store, entry id) wins, whatever order revisions
 * arrive in.
 */
export async function bookHqQuarantine(db: Queryable, entries: readonly QuarantineEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const latest = new Map<string, QuarantineEntry>();
  for (const e of entries) {
    const k = `${e.storeId}\u0000${e.entryId}`;
    const seen = latest.get(k);
    if (!seen || e.revision > seen.revision) latest.set(k, e);
  }
  const rows = [...latest.values()].map((e) => ({
    store_id: e.storeId,
    entry_id: e.entryId,
    source: e.source,
    service: e.service,
    topic: e.topic,
    kafka_partition: e.partition,
    kafka_offset: e.offset,
    outbox_id: e.outboxId,
    code: e.code,
    message: safeErrorText(e.message),
    transaction_id: e.transactionId,
    business_day: e.businessDay,
    quarantined_at: e.quarantinedAt,
    status: e.status,
    actor: e.resolution?.actor ?? null,
    reason: e.resolution?.reason ?? null,
    resolved_at: e.resolution?.at ?? null,
    revision: e.revision,
  }));
  await db.query(
    `INSERT INTO hq_quarantine AS q (store_id, entry_id, source, service, topic, kafka_partition, kafka_offset, outbox_id, code, message, transaction_id,
       business_day, quarantined_at, status, actor, reason, resolved_at, revision)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(store_id text, entry_id text, source text, service text, topic text, kafka_partition integer,
       kafka_offset bigint, outbox_id bigint, code text, message text, transaction_id uuid, business_day date, quarantined_at timestamptz, status text,
       actor text, reason text, resolved_at timestamptz, revision integer)
     ON CONFLICT (store_id, entry_id) DO UPDATE SET status = EXCLUDED.status, actor = EXCLUDED.actor, reason = EXCLUDED.reason,
       resolved_at = EXCLUDED.resolved_at, revision = EXCLUDED.revision, received_at = now()
     WHERE q.revision < EXCLUDED.revision`,
    [JSON.stringify(rows)],
  );
}

/** Transactions of a store's day that an open quarantine entry names, at HQ (reconciliation: such a day is not complete). */
export async function openQuarantinedTransactions(db: Queryable, storeId: string, businessDay: string): Promise<string[]> {
  const { rows } = await db.query<{ transaction_id: string }>(
    `SELECT DISTINCT transaction_id::text AS transaction_id FROM hq_quarantine
     WHERE store_id = $1 AND business_day = $2 AND status = 'open' AND transaction_id IS NOT NULL ORDER BY 1`,
    [storeId, businessDay],
  );
  return rows.map((r) => r.transaction_id);
}

const QUARANTINE_STATUSES = new Set(['open', 'replayed', 'discarded', 'all']);

/**
 * What the quarantine API routes and dashboards show (store: GET
 * /v1/sync/quarantine; HQ: GET /v1/quarantine): counts and ages per store,
 * topic, service and code, and the entries themselves without their headers.
 */
export async function quarantineView(
  db: Queryable,
  target: QuarantineTarget,
  filter: QuarantineFilter = {},
): Promise<{ open: number; groups: QuarantineGroup[]; entries: Array<Omit<QuarantineRow, 'headers'>> }> {
  if (filter.status && !QUARANTINE_STATUSES.has(filter.status)) throw new Error(`unknown status ${filter.status}`);
  const [groups, rows, open] = await Promise.all([
    summarizeQuarantine(db, target, filter),
    listQuarantine(db, target, { ...filter, limit: filter.limit ?? 100 }),
    db.query<{ n: string }>(`SELECT count(*) AS n FROM ${TABLE[target]} WHERE status = 'open'${filter.storeId ? ' AND store_id = $1' : ''}`, filter.storeId ? [filter.storeId] : []),
  ]);
  return { open: Number(open.rows[0]?.n ?? 0), groups, entries: rows.map(({ headers: _headers, ...entry }) => entry) };
}
