import { forecastDemand, lossPreventionAlerts, posTransactions, salesAggregates, salesAnomalies, type LossPreventionAlert, type PosTransaction } from '@tillstream/contracts';
import { repeatEvery, startConsumerService, type ConsumerFeed, type RunningService, type ServiceWorker } from '@tillstream/consumer-service';
import { Counter, createMetricsRegistry, Gauge, type Logger } from '@tillstream/observability';
import { DEFAULT_POLICY, detectAnomalies, type AnomalyPolicy } from './anomalies.ts';
import type { TrendsEnv } from './env.ts';
import { OUTBOX_PUBLISHER, aggregatesOutbox, recordSales, type TrendsContext } from './facts.ts';
import { runForecasts, type ForecastPolicy } from './forecasts.ts';
import { today } from './queries.ts';
import { createApp } from './app.ts';
import { bookLossPrevention } from './lossprev/booking.ts';
import type { LossPolicy } from './lossprev/scoring.ts';

export type TrendsService = RunningService;

/** How often the forecasting worker checks whether a round is due (cheap: in memory). */
const FORECAST_CHECK_MS = 5000;
/**
 * A round begun this soon after a booking of past days is made once more (after FORECAST_MIN_GAP_MS), and so on: a
 * round begun more than this after the last booking of past days always comes. Whoever sees a backlog booked (the
 * demo, packages/cli demo.ts, waits for a round begun this long after the booking's updatedAt) can wait for one.
 */
const SETTLE_MS = FORECAST_CHECK_MS;
/** A full batch with no batch after it for this long: the catch-up is over (its last batch happened to be full). */
const CATCH_UP_IDLE_MS = 30_000;

/**
 * The trends service: books every POS transaction into its sales windows
 * (effects and offset in one database transaction), detects anomalies as
 * event time moves past each hour, forecasts every SKU's demand at least
 * every FORECAST_INTERVAL_MS and after a catch-up (forecasts.ts), serves the
 * sales and forecast parts of the store API and publishes aggregates,
 * anomalies and forecasts.
 */
export function startTrends(env: TrendsEnv, options: { logger?: Logger } = {}): Promise<TrendsService> {
  const registry = createMetricsRegistry({ service: OUTBOX_PUBLISHER });
  const transactions = new Counter({ name: 'trends_pos_transactions_total', help: 'POS transactions consumed, by outcome (booked, duplicate)', labelNames: ['outcome'], registers: [registry] });
  const restated = new Counter({ name: 'trends_windows_restated_total', help: 'Windows added to or restated, by granularity', labelNames: ['granularity'], registers: [registry] });
  const anomalies = new Counter({ name: 'trends_anomalies_total', help: 'Anomalies detected, by kind', labelNames: ['kind'], registers: [registry] });
  const forecastRounds = new Counter({ name: 'trends_forecast_rounds_total', help: 'Forecasting rounds, by outcome (ran, skipped: another process held the lock)', labelNames: ['outcome'], registers: [registry] });
  const forecastCpu = new Counter({ name: 'trends_forecast_cpu_seconds_total', help: "CPU time of this process's forecasting rounds (user + system)", registers: [registry] });
  const forecastSkus = new Gauge({ name: 'trends_forecast_skus', help: 'SKUs forecast by the last round', registers: [registry] });
  const ctx: TrendsContext = { storeId: env.STORE_ID, timeZone: env.STORE_TIME_ZONE };
  const policy: AnomalyPolicy = { ...DEFAULT_POLICY, threshold: env.ANOMALY_THRESHOLD, weeks: env.ANOMALY_BASELINE_WEEKS };
  const forecastPolicy: ForecastPolicy = { historyDays: env.FORECAST_HISTORY_DAYS, folds: env.FORECAST_FOLDS, level: env.FORECAST_INTERVAL_LEVEL, profileWeeks: 8 };
  // When the forecasts are due: every FORECAST_INTERVAL_MS, and once a catch-up (or late data for a past day) has been booked.
  // A round that found nothing to forecast (a store's first start, before any history) does not hold the next back by
  // FORECAST_MIN_GAP_MS: the history arriving next is forecast as soon as it is booked. A catch-up is over once a full batch
  // is followed by no other for CATCH_UP_IDLE_MS (a backlog that ended on a full batch does not hold the forecasts back).
  const schedule = { lastRound: undefined as number | undefined, lastSkus: 0, pastBookedAt: 0, catchingUp: false, bookedAt: 0 };
  const workers: ServiceWorker[] = [];
  const lossAlerts = new Counter({ name: 'trends_lossprevention_alerts_total', help: 'Loss-prevention alerts found, by signal and comparison', labelNames: ['signal', 'comparison'], registers: [registry] });
  const lossPolicy = lossPolicyOf(env);
  let lossFound: LossPreventionAlert[] = [];
  return startConsumerService({
    name: OUTBOX_PUBLISHER,
    env,
    registry,
    ...(options.logger ? { logger: options.logger } : {}),
    publishes: [salesAggregates, salesAnomalies, forecastDemand, lossPreventionAlerts],
    outboxSources: (pool) => [aggregatesOutbox(pool, ctx, { publishWhileHeld: env.PUBLISH_SETTLED_WHILE_CATCHING_UP })],
    // Windows restated by every batch (today's, the current hour's) go out at most once a second, at their latest revision.
    publishLingerMs: 1000,
    book: async (client, records) => {
      const recorded = await recordSales(client, records.map((r) => ({ tx: r.envelope.data, partition: r.partition, offset: r.offset })), ctx);
      const found = recorded.latestWall === undefined ? [] : await detectAnomalies(client, recorded.latestWall, ctx, policy);
      return { ...recorded, found };
    },
    afterCommit: ({ booked, windows, found }, records) => {
      transactions.inc({ outcome: 'booked' }, booked);
      transactions.inc({ outcome: 'duplicate' }, records.length - booked);
      for (const [granularity, n] of Object.entries(windows)) restated.inc({ granularity }, n);
      for (const a of found) anomalies.inc({ kind: a.kind });
      // A full batch: more is waiting (a catch-up); the forecasts wait for its end.
      schedule.catchingUp = records.length >= env.CONSUME_MAX_BATCH;
      schedule.bookedAt = Date.now();
      const now = today(ctx.timeZone);
      if (booked > 0 && records.some((r) => r.envelope.data.businessDay < now)) schedule.pastBookedAt = Date.now();
    },
    // Loss prevention books the POS topic as its own consumer group, with its own tables and offset (lossprev/booking.ts).
    feeds: [
      {
        name: 'lossprev',
        spec: posTransactions,
        book: async (client, records, { catchingUp }) => {
          // Catching up, the days a batch touched are scored once the backlog is booked (booking.ts daysToScore).
          lossFound = await bookLossPrevention(client, records.map((r) => ({ tx: r.envelope.data, partition: r.partition, offset: r.offset })), ctx, lossPolicy, { catchingUp });
        },
        afterCommit: () => {
          for (const a of lossFound) lossAlerts.inc({ signal: a.signal, comparison: a.comparison });
        },
      } satisfies ConsumerFeed<PosTransaction>,
    ],
    createApp: ({ pool, logger, registry, consuming, published }) => {
      const log = logger.child({ component: 'forecast' });
      const worker = repeatEvery(
        Math.min(FORECAST_CHECK_MS, env.FORECAST_INTERVAL_MS),
        async () => {
          const now = Date.now();
          const last = schedule.lastRound;
          const catchingUp = schedule.catchingUp && now - schedule.bookedAt < CATCH_UP_IDLE_MS;
          const due =
            !catchingUp &&
            (last === undefined ||
              now - last >= env.FORECAST_INTERVAL_MS ||
              (schedule.pastBookedAt >= last - SETTLE_MS && (schedule.lastSkus === 0 || now - last >= env.FORECAST_MIN_GAP_MS)));
          if (!due) return;
          schedule.lastRound = now;
          const cpu = process.cpuUsage();
          const round = await runForecasts(pool, ctx, forecastPolicy).catch((err: unknown) => {
            schedule.lastRound = last; // retried at the next check
            throw err;
          });
          const used = process.cpuUsage(cpu);
          forecastRounds.inc({ outcome: round.ran ? 'ran' : 'skipped' });
          if (!round.ran) return;
          schedule.lastSkus = round.skus;
          forecastCpu.inc((used.user + used.system) / 1e6);
          forecastSkus.set(round.skus);
          published();
          log.info({ skus: round.skus, dataThrough: round.dataThrough, cpuMs: Math.round((used.user + used.system) / 1000), ms: Date.now() - now }, 'demand forecasts made');
        },
        (err) => log.warn({ err }, 'cannot forecast now; retrying at the next check'),
      );
      workers.push({ name: 'forecast', stop: () => worker.stop() });
      return createApp({ pool, logger, registry, ctx, consuming, refundWindowMinutes: lossPolicy.refundWindowMinutes });
    },
    workers,
  });
}

/** The loss-prevention policy of the service's env (documented in --help). */
export function lossPolicyOf(env: TrendsEnv): LossPolicy {
  return {
    threshold: env.LOSSPREV_THRESHOLD,
    minTransactions: env.LOSSPREV_MIN_TRANSACTIONS,
    minEvents: env.LOSSPREV_MIN_EVENTS,
    minPeers: env.LOSSPREV_MIN_PEERS,
    minHistory: env.LOSSPREV_MIN_HISTORY,
    historyDays: env.LOSSPREV_HISTORY_DAYS,
    minSpread: env.LOSSPREV_MIN_SPREAD,
    minExcess: env.LOSSPREV_MIN_EXCESS,
    maxChance: env.LOSSPREV_MAX_CHANCE,
    refundWindowMinutes: env.LOSSPREV_REFUND_WINDOW_MINUTES,
    scoreIntervalSeconds: env.LOSSPREV_SCORE_INTERVAL_SECONDS,
  };
}
