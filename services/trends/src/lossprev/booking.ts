import { countingLines, firstCopies, lossPreventionAlerts, type LossDimension, type LossPreventionAlert, type LossPreventionFigures, type LossScope, type PosRecord } from '@tillstream/contracts';
import { numberArray, textArray, writeOutbox, type PoolClient, type Queryable } from '@tillstream/db';
import { OUTBOX_PUBLISHER, type TrendsContext } from '../facts.ts';
import { SIGNALS, emptyPeriod, scoreAgainstHistory, scoreAgainstPeers, sumPeriods, type Finding, type LossPolicy, type MemberPeriod } from './scoring.ts';

/**
 * Loss prevention's write path (tables: packages/db/migrations/store/*_lossprev*.sql).
 * Trends' second booking of the POS topic, its own consumer group: each
 * transaction once (its first copy), a sale with the SKUs of its counting
 * lines and a return with its counting lines (POS booking rules,
 * pos-rules.ts), then the business days the batch touched are scored
 * (scoring.ts), day and rolling 7 days, operators and terminals, and every
 * alert not found before is stored and written to the outbox for
 * lossprevention.alerts.v1, in the same transaction as the offset.
 *
 * An alert's figures are those of when it was first found: a period scored
 * again (a later batch of the same day) finds the same alertId and changes
 * nothing, so a re-run never duplicates one.
 */

export const DIMENSIONS: readonly LossDimension[] = ['OPERATOR', 'TERMINAL'];

export async function bookLossPrevention(
  client: PoolClient,
  records: readonly PosRecord[],
  ctx: TrendsContext,
  policy: LossPolicy,
  options: { catchingUp?: boolean } = {},
): Promise<LossPreventionAlert[]> {
  const unique = firstCopies(records);
  const { rows: inserted } = await client.query<{ transaction_id: string }>(
    `INSERT INTO lossprev_transactions (transaction_id, business_day, occurred_at, operator_id, terminal_id, type, training, grand, original_id, voided_lines, voided_amount, kafka_partition, kafka_offset, sold_skus)
     SELECT u.id, u.day, u.at, u.operator, u.terminal, u.type, u.training, u.grand, u.original, u.voided_lines, u.voided_amount, u.kafka_partition, u.kafka_offset,
       string_to_array(u.sold, ',')
     FROM unnest($1::uuid[], $2::date[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::bigint[], $9::uuid[], $10::int[], $11::bigint[], $12::int[], $13::bigint[], $14::text[])
       AS u(id, day, at, operator, terminal, type, training, grand, original, voided_lines, voided_amount, kafka_partition, kafka_offset, sold)
     ON CONFLICT (transaction_id) DO NOTHING
     RETURNING transaction_id`,
    [
      textArray(unique.map((r) => r.tx.transactionId)),
      textArray(unique.map((r) => r.tx.businessDay)),
      textArray(unique.map((r) => r.tx.occurredAt)),
      textArray(unique.map((r) => r.tx.operatorId)),
      textArray(unique.map((r) => r.tx.terminalId)),
      textArray(unique.map((r) => r.tx.type)),
      unique.map((r) => r.tx.trainingMode),
      numberArray(unique.map((r) => r.tx.totals.grand)),
      textArray(unique.map((r) => r.tx.original?.transactionId ?? null)),
      numberArray(unique.map((r) => r.tx.lines.filter((l) => l.voided).length)),
      numberArray(unique.map((r) => r.tx.lines.filter((l) => l.voided).reduce((sum, l) => sum + l.extendedAmount, 0))),
      numberArray(unique.map((r) => r.partition)),
      numberArray(unique.map((r) => r.offset)),
      // The SKUs a sale counts (pos-rules countingLines: none in training), comma-joined (a SKU holds no comma): what a
      // refund after sale is matched against.
      textArray(unique.map((r) => (r.tx.type === 'SALE' ? countingLines(r.tx).map((l) => l.sku).join(',') || null : null))),
    ],
  );
  const isNew = new Set(inserted.map((r) => r.transaction_id));
  const fresh = unique.filter((r) => isNew.has(r.tx.transactionId)).map((r) => r.tx);
  if (fresh.length === 0) return [];
  // The fresh returns' counting lines: lossprev_lines has no key, the insert above decides that each is booked once.
  const lines = fresh.filter((tx) => tx.type === 'RETURN').flatMap((tx) => countingLines(tx).map((l) => ({ tx, l })));
  if (lines.length > 0) {
    await client.query(
      `INSERT INTO lossprev_lines (transaction_id, line_number, type, operator_id, sku, occurred_at, amount)
       SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::bigint[])`,
      [
        lines.map(({ tx }) => tx.transactionId),
        lines.map(({ l }) => l.lineNumber),
        lines.map(({ tx }) => tx.type),
        lines.map(({ tx }) => tx.operatorId),
        lines.map(({ l }) => l.sku),
        lines.map(({ tx }) => tx.occurredAt),
        lines.map(({ l }) => l.extendedAmount),
      ],
    );
  }
  const days = await daysToScore(client, [...new Set(fresh.map((tx) => tx.businessDay))], policy.scoreIntervalSeconds, options.catchingUp ?? false);
  const findings = await scoreDays(client, days, policy);
  return recordAlerts(client, ctx, findings);
}

/**
 * Marks the batch's business days changed and picks the changed days to
 * score now (see lossprev_days in the migration): those never scored, those
 * scored at least `intervalSeconds` ago, and those before the latest day
 * booked (a day the stream has moved past gets its final scoring at once).
 *
 * While `catchingUp` (a backlog waits behind the batch) none: the days
 * wait, marked changed, and the first batch booked without a backlog
 * behind it scores them all in one read of their facts. Scored as they
 * came, a 30-day catch-up scored each day twice (when first booked, then
 * when the next day was): 60 reads of 5 weeks of facts, 15 s of query time
 * in a 1,000,000-line catch-up that took 36 s (BENCHMARKS.md, issue 19).
 */
async function daysToScore(client: PoolClient, touched: readonly string[], intervalSeconds: number, catchingUp: boolean): Promise<string[]> {
  if (touched.length === 0) return [];
  await client.query(
    `INSERT INTO lossprev_days (business_day, changed_at) SELECT unnest($1::date[]), now()
     ON CONFLICT (business_day) DO UPDATE SET changed_at = now()`,
    [touched],
  );
  if (catchingUp) return [];
  const { rows } = await client.query<{ business_day: string }>(
    `UPDATE lossprev_days SET scored_at = now()
     WHERE (scored_at IS NULL OR scored_at < changed_at)
       AND (scored_at IS NULL OR scored_at <= now() - make_interval(secs => $2::int) OR business_day < (SELECT max(d) FROM unnest($1::date[]) AS d))
     RETURNING to_char(business_day, 'YYYY-MM-DD') AS business_day`,
    [touched, intervalSeconds],
  );
  return rows.map((r) => r.business_day).sort();
}

/** A business day `n` days after `day` (n may be negative). */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** Per dimension, member and business day ($1 to $2): transactions handled, and each signal's count and amount ($3: the refund window in minutes). */
export const DAILY_PERIODS = `WITH quick AS (
       -- Refunds after sale: a return's lines (counting ones, so none in training) of an item its operator sold within the window before.
       SELECT r.transaction_id, sum(r.amount) AS amount
       FROM lossprev_transactions rt JOIN lossprev_lines r ON r.transaction_id = rt.transaction_id
       WHERE rt.type = 'RETURN' AND NOT rt.training AND rt.business_day BETWEEN $1::date AND $2::date
         AND EXISTS (
           SELECT 1 FROM lossprev_transactions s
           WHERE s.sold_skus IS NOT NULL AND s.operator_id = r.operator_id AND r.sku = ANY (s.sold_skus)
             AND s.occurred_at <= r.occurred_at AND s.occurred_at >= r.occurred_at - make_interval(mins => $3::int))
       GROUP BY r.transaction_id
     ), f AS (
       SELECT t.business_day, t.operator_id, t.terminal_id,
         (NOT t.training AND t.type = 'POST_VOID') AS post_void, coalesce(o.grand, 0) AS original_grand,
         CASE WHEN t.training THEN 0 ELSE t.voided_lines END AS line_voids, CASE WHEN t.training THEN 0 ELSE t.voided_amount END AS line_void_amount,
         (NOT t.training AND t.type = 'RETURN' AND (o.transaction_id IS NULL OR o.type <> 'SALE' OR o.training)) AS unmatched,
         (NOT t.training AND t.type = 'NO_SALE') AS no_sale,
         t.training, t.grand, q.amount AS refund_after_sale_amount
       FROM lossprev_transactions t
       LEFT JOIN lossprev_transactions o ON o.transaction_id = t.original_id
       LEFT JOIN quick q ON q.transaction_id = t.transaction_id
       WHERE t.business_day BETWEEN $1::date AND $2::date
     )
     SELECT d.dimension, d.member, to_char(f.business_day, 'YYYY-MM-DD') AS business_day, count(*)::int AS transactions,
       count(*) FILTER (WHERE post_void)::int AS post_void, coalesce(sum(original_grand) FILTER (WHERE post_void), 0)::bigint AS post_void_amount,
       sum(line_voids)::int AS line_void, sum(line_void_amount)::bigint AS line_void_amount,
       count(*) FILTER (WHERE unmatched)::int AS return_without_original, coalesce(sum(grand) FILTER (WHERE unmatched), 0)::bigint AS return_without_original_amount,
       count(*) FILTER (WHERE no_sale)::int AS no_sale, 0::bigint AS no_sale_amount,
       count(*) FILTER (WHERE training)::int AS training_mode, coalesce(sum(grand) FILTER (WHERE training), 0)::bigint AS training_mode_amount,
       count(refund_after_sale_amount)::int AS refund_after_sale, coalesce(sum(refund_after_sale_amount), 0)::bigint AS refund_after_sale_amount
     FROM f CROSS JOIN LATERAL (VALUES ('OPERATOR', f.operator_id), ('TERMINAL', f.terminal_id)) AS d(dimension, member)
     GROUP BY 1, 2, 3`;

/** Per dimension, member and business day: what was handled and each signal's count and amount. */
export async function dailyPeriods(db: Queryable, from: string, to: string, refundWindowMinutes: number): Promise<Map<string, Map<string, Map<string, MemberPeriod>>>> {
  const { rows } = await db.query<{ dimension: string; member: string; business_day: string; transactions: number } & Record<string, string | number>>(
    DAILY_PERIODS,
    [from, to, refundWindowMinutes],
  );
  // dimension -> business day -> member -> period
  const out = new Map<string, Map<string, Map<string, MemberPeriod>>>();
  for (const r of rows) {
    const period = emptyPeriod(r.member);
    period.transactions = r.transactions;
    for (const s of SIGNALS) {
      const column = s.toLowerCase();
      period.signals[s] = { count: Number(r[column]), amount: Number(r[`${column}_amount`]) };
    }
    let byDay = out.get(r.dimension);
    if (!byDay) out.set(r.dimension, (byDay = new Map<string, Map<string, MemberPeriod>>()));
    let members = byDay.get(r.business_day);
    if (!members) byDay.set(r.business_day, (members = new Map<string, MemberPeriod>()));
    members.set(r.member, period);
  }
  return out;
}

export interface ScopedFinding extends Finding {
  dimension: LossDimension;
  scope: LossScope;
  businessDay: string;
}

const SCOPE_DAYS: Record<LossScope, number> = { DAY: 1, '7D': 7 };

/** Scores each of `days` (business days), day and 7 days, operators and terminals, against peers and own history. */
export async function scoreDays(db: Queryable, days: readonly string[], policy: LossPolicy): Promise<ScopedFinding[]> {
  if (days.length === 0) return [];
  const earliest = addDays(days[0]!, -(6 + policy.historyDays + 7));
  const daily = await dailyPeriods(db, earliest, days[days.length - 1]!, policy.refundWindowMinutes);
  const found: ScopedFinding[] = [];
  for (const dimension of DIMENSIONS) {
    const byDay = daily.get(dimension) ?? new Map<string, Map<string, MemberPeriod>>();
    // A member's period of `length` days ending with `end`.
    const period = (member: string, end: string, length: number) =>
      sumPeriods(member, Array.from({ length }, (_, k) => byDay.get(addDays(end, -k))?.get(member) ?? emptyPeriod(member)));
    for (const day of days) {
      for (const scope of ['DAY', '7D'] as const) {
        const length = SCOPE_DAYS[scope];
        const members = new Set<string>();
        for (let k = 0; k < length; k++) for (const m of byDay.get(addDays(day, -k))?.keys() ?? []) members.add(m);
        const periods = [...members].map((m) => period(m, day, length));
        const scoped = (f: Finding): ScopedFinding => ({ ...f, dimension, scope, businessDay: day });
        found.push(...scoreAgainstPeers(periods, policy).map(scoped));
        const earlierPeriods = Math.floor(policy.historyDays / length);
        for (const subject of periods) {
          const earlier = Array.from({ length: earlierPeriods }, (_, k) => period(subject.member, addDays(day, -(k + 1) * length), length));
          found.push(...scoreAgainstHistory(subject, earlier, policy).map(scoped));
        }
      }
    }
  }
  return found;
}

export function alertOf(storeId: string, f: ScopedFinding, detectedAt: string): LossPreventionAlert {
  return {
    alertId: [storeId, f.dimension, f.member, f.signal, f.scope, f.comparison, f.businessDay].join('|'),
    storeId,
    businessDay: f.businessDay,
    scope: f.scope,
    dimension: f.dimension,
    member: f.member,
    signal: f.signal,
    comparison: f.comparison,
    observed: f.observed,
    baseline: f.baseline,
    score: f.score,
    detectedAt,
  };
}

/** Stores the alerts not found before and writes them to the outbox; returns those. */
async function recordAlerts(client: PoolClient, ctx: TrendsContext, findings: readonly ScopedFinding[]): Promise<LossPreventionAlert[]> {
  if (findings.length === 0) return [];
  const detectedAt = new Date().toISOString();
  const alerts = findings.map((f) => alertOf(ctx.storeId, f, detectedAt));
  const { rows } = await client.query<{ alert_id: string }>(
    `INSERT INTO lossprev_alerts (alert_id, business_day, dimension, member, detected_at, alert)
     SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
     ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id`,
    [alerts.map((a) => a.alertId), alerts.map((a) => a.businessDay), alerts.map((a) => a.dimension), alerts.map((a) => a.member), alerts.map((a) => a.detectedAt), alerts.map((a) => JSON.stringify(a))],
  );
  const isNew = new Set(rows.map((r) => r.alert_id));
  const published = alerts.filter((a) => isNew.has(a.alertId));
  await writeOutbox(client, OUTBOX_PUBLISHER, published.map((data) => ({ topic: lossPreventionAlerts.name, data })));
  return published;
}

/** The alerts found, newest business day first. */
export async function listAlerts(db: Queryable, q: { businessDay?: string | undefined; dimension?: LossDimension | undefined; member?: string | undefined; limit: number }): Promise<LossPreventionAlert[]> {
  const { rows } = await db.query<{ alert: LossPreventionAlert }>(
    `SELECT alert FROM lossprev_alerts
     WHERE ($1::date IS NULL OR business_day = $1::date) AND ($2::text IS NULL OR dimension = $2) AND ($3::text IS NULL OR member = $3)
     ORDER BY business_day DESC, detected_at DESC, alert_id
     LIMIT $4`,
    [q.businessDay ?? null, q.dimension ?? null, q.member ?? null, q.limit],
  );
  return rows.map((r) => r.alert);
}

/** Every member's figures over a day, or the 7 days ending with it (default: the latest business day booked). */
export async function memberFigures(db: Queryable, q: { businessDay?: string | undefined; scope: LossScope; dimension: LossDimension }, refundWindowMinutes: number): Promise<LossPreventionFigures> {
  const day = q.businessDay ?? (await db.query<{ day: string | null }>(`SELECT to_char(max(business_day), 'YYYY-MM-DD') AS day FROM lossprev_transactions`)).rows[0]?.day ?? null;
  if (day === null) return { businessDay: null, scope: q.scope, dimension: q.dimension, members: [] };
  const length = SCOPE_DAYS[q.scope];
  const byDay = (await dailyPeriods(db, addDays(day, -(length - 1)), day, refundWindowMinutes)).get(q.dimension) ?? new Map<string, Map<string, MemberPeriod>>();
  const names = new Set([...byDay.values()].flatMap((members) => [...members.keys()]));
  const members = [...names].sort().map((member) => {
    const p = sumPeriods(member, [...byDay.values()].flatMap((m) => m.get(member) ?? []));
    const signals = Object.fromEntries(SIGNALS.map((s) => [s, { ...p.signals[s], rate: p.transactions === 0 ? 0 : Math.round((p.signals[s].count / p.transactions) * 1e6) / 1e6 }]));
    return { member, transactions: p.transactions, signals: signals as LossPreventionFigures['members'][number]['signals'] };
  });
  return { businessDay: day, scope: q.scope, dimension: q.dimension, members };
}
