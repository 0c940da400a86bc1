import { z } from 'zod';
import { bool, httpEnv, parseEnv, postgresEnv, timeZone } from '@tillstream/config';
import { consumerServiceEnv } from '@tillstream/consumer-service';

/** Everything the trends service reads from the environment; fails at boot with every bad variable named. */
export const trendsEnv = z.object({
  ...consumerServiceEnv.shape,
  ...postgresEnv('trends').shape,
  ...httpEnv(8082).shape,
  STORE_TIME_ZONE: timeZone.default('UTC').describe("The store's IANA time zone: 5-minute and hourly windows follow occurredAt in it."),
  ANOMALY_THRESHOLD: z.coerce.number().positive().default(3.5).describe('Robust deviations (median absolute deviation x 1.4826) from the baseline median that make an anomaly.'),
  ANOMALY_BASELINE_WEEKS: z.coerce.number().int().min(2).max(52).default(8).describe('Weeks of the same weekday and hour an hour is compared with.'),
  FORECAST_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000).describe('How often every SKU with sales is forecast again (forecast.demand.v1); also after a catch-up or late data for past days.'),
  FORECAST_MIN_GAP_MS: z.coerce.number().int().min(0).default(60_000).describe('Least time between two forecasting rounds (late data for past days triggers one); a round that found nothing to forecast does not hold the next back.'),
  FORECAST_HISTORY_DAYS: z.coerce.number().int().min(14).max(730).default(182).describe('Days of day windows a forecast reads; a SKU with no sale in them is not forecast.'),
  FORECAST_FOLDS: z.coerce.number().int().min(1).max(20).default(6).describe('Backtest folds (a week apart) each SKU picks its forecasting method by.'),
  FORECAST_INTERVAL_LEVEL: z.coerce.number().gt(0).lt(1).default(0.8).describe("Coverage of the forecasts' prediction intervals."),
  LOSSPREV_THRESHOLD: z.coerce.number().positive().default(3.5).describe("Loss prevention: robust deviations (median absolute deviation x 1.4826) above the peers' or own history's median rate that make an alert."),
  LOSSPREV_MIN_TRANSACTIONS: z.coerce.number().int().min(1).default(30).describe('Loss prevention: transactions an operator or terminal must have handled in a period (day or 7 days) to be judged, or to count in a baseline.'),
  LOSSPREV_MIN_EVENTS: z.coerce.number().int().min(1).default(3).describe('Loss prevention: occurrences of a signal (post-voids, no-sales, ...) in the period before it can alert.'),
  LOSSPREV_MIN_PEERS: z.coerce.number().int().min(2).default(3).describe('Loss prevention: peers (other operators or terminals of the store with enough transactions) a peer comparison needs.'),
  LOSSPREV_MIN_HISTORY: z.coerce.number().int().min(2).default(4).describe("Loss prevention: earlier periods (days, or weeks for 7 days) with enough transactions a comparison with the member's own history needs."),
  LOSSPREV_HISTORY_DAYS: z.coerce.number().int().min(7).max(28).default(28).describe("Loss prevention: days of a member's own history looked at (the POS journal keeps 35 days; 28 at most so 7-day periods fit)."),
  LOSSPREV_MIN_SPREAD: z.coerce.number().positive().max(1).default(0.01).describe('Loss prevention: floor of the robust spread, as a rate per transaction (0.01: one in a hundred), so a baseline of all zeros does not make one event infinitely anomalous.'),
  LOSSPREV_MIN_EXCESS: z.coerce.number().min(0).max(1).default(0.02).describe('Loss prevention: smallest rate above the baseline median worth an alert (0.02: two transactions in a hundred).'),
  LOSSPREV_MAX_CHANCE: z.coerce.number().gt(0).max(1).default(1e-5).describe("Loss prevention: largest chance that a member's count arises at the baseline's pooled rate (Poisson tail) for an alert; small, as dozens of members x signals are judged each day: an honest operator's lucky day alerts no one."),
  LOSSPREV_REFUND_WINDOW_MINUTES: z.coerce.number().int().min(1).max(7 * 24 * 60).default(30).describe('Loss prevention: a return of an item the same operator sold at most this many minutes before counts as a refund after sale.'),
  LOSSPREV_SCORE_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60).describe('Loss prevention: a business day is scored when first booked, then at most this often while it keeps changing, and once more when a later day is booked (scoring reads 5 weeks of facts; 0: after every batch). While catching up (more than PUBLISH_HOLD_LAG records behind), days wait and are scored together once the backlog is booked.'),
  PUBLISH_SETTLED_WHILE_CATCHING_UP: bool
    .default(true)
    .describe('While catching up (PUBLISH_HOLD_LAG), publish the windows event time has settled (5-minute and hourly windows 2 hours after they start, a day 2 hours after the next midnight) alongside the booking instead of after it (one restated later is published again). false: every window waits for the end of the catch-up, which took 13% longer on 2 cores (BENCHMARKS.md, issue 19).'),
});

export type TrendsEnv = z.output<typeof trendsEnv>;

export function loadEnv(env: Record<string, string | undefined> = process.env): TrendsEnv {
  return parseEnv(trendsEnv, env);
}
