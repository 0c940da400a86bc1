import { salesAnomalies, type SalesAnomaly } from '@tillstream/contracts';
import { writeOutbox, type PoolClient } from '@tillstream/db';
import { OUTBOX_PUBLISHER, type TrendsContext } from './facts.ts';
import { wallMs, wallString } from './windows.ts';

/**
 * Anomalies by a robust measure: an hour's store revenue, or a SKU's units
 * in that hour, against the same hour on the same weekday of the previous
 * weeks. The baseline's median and its median absolute deviation (scaled by
 * 1.4826 to estimate a standard deviation) are insensitive to the odd
 * holiday in the baseline, unlike a mean and a standard deviation.
 *
 * Hours are evaluated in event time, once the stream has moved past them
 * (the latest occurredAt booked is later than the hour's end plus a grace
 * period), so a replay of last year's log finds last year's anomalies.
 * An hour is evaluated once; data arriving for it later restates its
 * aggregates but does not re-run detection.
 */

export interface AnomalyPolicy {
  /** Robust deviations from the median that make an anomaly; default 3.5. */
  threshold: number;
  /** Weeks of baseline looked at; default 8. */
  weeks: number;
  /** Baseline hours (with the store trading) needed before judging; default 4. */
  minWindows: number;
  /** Smallest absolute difference worth reporting: SKU units, and revenue in minor units. */
  minUnits: number;
  minRevenue: number;
}

export const DEFAULT_POLICY: AnomalyPolicy = { threshold: 3.5, weeks: 8, minWindows: 4, minUnits: 5, minRevenue: 2000 };

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Judgement {
  median: number;
  spread: number;
  score: number;
}

/**
 * How far `observed` lies from `baseline`, in robust deviations. A baseline
 * with no spread at all (every week the same) gets a floor of 10 % of its
 * median (at least `minSpread`, default 1: one unit or minor unit), so
 * "always 20, now 21" is not infinitely anomalous. Rates (loss prevention)
 * pass a floor of their own scale.
 */
export function judge(observed: number, baseline: readonly number[], minSpread = 1): Judgement {
  const m = median(baseline);
  const mad = median(baseline.map((v) => Math.abs(v - m)));
  const spread = Math.max(1.4826 * mad, 0.1 * Math.abs(m), minSpread);
  return { median: m, spread, score: (observed - m) / spread };
}

const HOUR_MS = 3600_000;
const WEEK_MS = 7 * 24 * HOUR_MS;

/**
 * Evaluates every hour that ended at least `graceMinutes` before
 * `latestWall` (the latest occurredAt booked, as local wall-clock ms) and was not evaluated yet (at most the last 7 days of them),
 * records what it finds and writes it to the outbox.
 */
export async function detectAnomalies(client: PoolClient, latestWall: number, ctx: TrendsContext, policy: AnomalyPolicy, graceMinutes = 5): Promise<SalesAnomaly[]> {
  const horizon = latestWall - graceMinutes * 60_000;
  const { rows: hours } = await client.query<{ window_start: string }>(
    `SELECT to_char(a.window_start, 'YYYY-MM-DD HH24:MI:SS') AS window_start FROM sales_aggregates a
     WHERE a.granularity = '1h' AND a.dimension = 'store' AND a.member = 'all'
       AND a.window_start + interval '1 hour' <= $1::timestamp AND a.window_start > $1::timestamp - interval '7 days'
       AND NOT EXISTS (SELECT 1 FROM sales_anomaly_hours h WHERE h.window_start = a.window_start)
     ORDER BY a.window_start`,
    [wallString(horizon)],
  );
  if (hours.length === 0) return [];
  const evaluate = hours.map((h) => h.window_start);
  const wanted = new Set<string>();
  for (const h of evaluate) for (let k = 0; k <= policy.weeks; k++) wanted.add(wallString(wallMs(h) - k * WEEK_MS));
  const { rows } = await client.query<{ window_start: string; dimension: string; member: string; net: string; units: string }>(
    `SELECT to_char(window_start, 'YYYY-MM-DD HH24:MI:SS') AS window_start, dimension, member, net, units FROM sales_aggregates
     WHERE granularity = '1h' AND dimension IN ('store', 'sku') AND window_start = ANY($1::timestamp[])`,
    [[...wanted]],
  );
  const at = new Map<string, { revenue: number; skus: Map<string, number> }>();
  for (const r of rows) {
    let hour = at.get(r.window_start);
    if (!hour) at.set(r.window_start, (hour = { revenue: 0, skus: new Map() }));
    if (r.dimension === 'store') hour.revenue = Number(r.net);
    else hour.skus.set(r.member, Number(r.units));
  }

  const found: SalesAnomaly[] = [];
  const detectedAt = new Date().toISOString();
  const { rows: utc } = await client.query<{ local: string; utc: Date }>(
    `SELECT l AS local, (l::timestamp AT TIME ZONE $2) AS utc FROM unnest($1::text[]) AS l`,
    [evaluate, ctx.timeZone],
  );
  const utcOf = new Map(utc.map((r) => [r.local, r.utc.toISOString()]));
  for (const hour of evaluate) {
    const now = at.get(hour);
    if (!now) continue;
    // Baseline weeks in which the store traded at that hour (a closed hour is no evidence).
    const weeks = Array.from({ length: policy.weeks }, (_, k) => at.get(wallString(wallMs(hour) - (k + 1) * WEEK_MS))).filter((w) => w !== undefined);
    if (weeks.length < policy.minWindows) continue;
    const flag = (kind: SalesAnomaly['kind'], member: string, observed: number, baseline: number[], minDiff: number) => {
      const j = judge(observed, baseline);
      if (Math.abs(j.score) < policy.threshold || Math.abs(observed - j.median) < minDiff) return;
      found.push({
        anomalyId: `${ctx.storeId}|${kind}|${member}|${utcOf.get(hour)}`,
        storeId: ctx.storeId,
        kind,
        member,
        windowStart: utcOf.get(hour)!,
        observed,
        baselineMedian: j.median,
        baselineSpread: Math.round(j.spread * 1000) / 1000,
        score: Math.round(j.score * 100) / 100,
        direction: j.score > 0 ? 'HIGH' : 'LOW',
        baselineWindows: baseline.length,
        detectedAt,
      });
    };
    flag('STORE_REVENUE', 'all', now.revenue, weeks.map((w) => w.revenue), policy.minRevenue);
    const skus = new Set([...now.skus.keys(), ...weeks.flatMap((w) => [...w.skus.keys()])]);
    for (const sku of skus) flag('SKU_UNITS', sku, now.skus.get(sku) ?? 0, weeks.map((w) => w.skus.get(sku) ?? 0), policy.minUnits);
  }

  await client.query('INSERT INTO sales_anomaly_hours (window_start) SELECT unnest($1::timestamp[]) ON CONFLICT DO NOTHING', [evaluate]);
  if (found.length > 0) {
    const { rows: fresh } = await client.query<{ anomaly_id: string }>(
      `INSERT INTO sales_anomalies (anomaly_id, kind, member, window_start, observed, baseline_median, baseline_spread, score, direction, baseline_windows, detected_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::text[], $10::int[], $11::timestamptz[])
       ON CONFLICT DO NOTHING RETURNING anomaly_id`,
      [
        found.map((a) => a.anomalyId),
        found.map((a) => a.kind),
        found.map((a) => a.member),
        found.map((a) => a.windowStart),
        found.map((a) => a.observed),
        found.map((a) => a.baselineMedian),
        found.map((a) => a.baselineSpread),
        found.map((a) => a.score),
        found.map((a) => a.direction),
        found.map((a) => a.baselineWindows),
        found.map((a) => a.detectedAt),
      ],
    );
    const isNew = new Set(fresh.map((r) => r.anomaly_id));
    const published = found.filter((a) => isNew.has(a.anomalyId));
    await writeOutbox(client, OUTBOX_PUBLISHER, published.map((data) => ({ topic: salesAnomalies.name, data })));
    return published;
  }
  return [];
}
