import { lossPreventionAlerts, salesAggregates, salesAnomalies, type LossPreventionAlert } from '@tillstream/contracts';
import { startConsumerService, type RunningService } from '@tillstream/consumer-service';
import { Counter, createMetricsRegistry, type Logger } from '@tillstream/observability';
import { DEFAULT_POLICY, detectAnomalies, type AnomalyPolicy } from './anomalies.ts';
import type { TrendsEnv } from './env.ts';
import { OUTBOX_PUBLISHER, aggregatesOutbox, recordSales, type TrendsContext } from './facts.ts';
import { createApp } from './app.ts';
import { bookLossPrevention } from './lossprev/booking.ts';
import type { LossPolicy } from './lossprev/scoring.ts';

export type TrendsService = RunningService;

/**
 * The trends service: books every POS transaction into its sales windows
 * (effects and offset in one database transaction), detects anomalies as
 * event time moves past each hour, serves the sales part of the store API
 * and publishes aggregates and anomalies.
 */
export function startTrends(env: TrendsEnv, options: { logger?: Logger } = {}): Promise<TrendsService> {
  const registry = createMetricsRegistry({ service: OUTBOX_PUBLISHER });
  const transactions = new Counter({ name: 'trends_pos_transactions_total', help: 'POS transactions consumed, by outcome (booked, duplicate)', labelNames: ['outcome'], registers: [registry] });
  const restated = new Counter({ name: 'trends_windows_restated_total', help: 'Windows added to or restated, by granularity', labelNames: ['granularity'], registers: [registry] });
  const anomalies = new Counter({ name: 'trends_anomalies_total', help: 'Anomalies detected, by kind', labelNames: ['kind'], registers: [registry] });
  const ctx: TrendsContext = { storeId: env.STORE_ID, timeZone: env.STORE_TIME_ZONE };
  const policy: AnomalyPolicy = { ...DEFAULT_POLICY, threshold: env.ANOMALY_THRESHOLD, weeks: env.ANOMALY_BASELINE_WEEKS };
  const lossAlerts = new Counter({ name: 'trends_lossprevention_alerts_total', help: 'Loss-prevention alerts found, by signal and comparison', labelNames: ['signal', 'comparison'], registers: [registry] });
  const lossPolicy = lossPolicyOf(env);
  let lossFound: LossPreventionAlert[] = [];
  return startConsumerService({
    name: OUTBOX_PUBLISHER,
    env,
    registry,
    ...(options.logger ? { logger: options.logger } : {}),
    publishes: [salesAggregates, salesAnomalies, lossPreventionAlerts],
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
    },
    // Loss prevention books the POS topic as its own consumer group, with its own tables and offset (lossprev/booking.ts).
    secondary: [
      {
        name: 'lossprev',
        book: async (client, records) => {
          lossFound = await bookLossPrevention(client, records.map((r) => ({ tx: r.envelope.data, partition: r.partition, offset: r.offset })), ctx, lossPolicy);
        },
        afterCommit: () => {
          for (const a of lossFound) lossAlerts.inc({ signal: a.signal, comparison: a.comparison });
        },
      },
    ],
    createApp: ({ pool, logger, registry, consuming }) => createApp({ pool, logger, registry, ctx, consuming, refundWindowMinutes: lossPolicy.refundWindowMinutes }),
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
    refundWindowMinutes: env.LOSSPREV_REFUND_WINDOW_MINUTES,
    scoreIntervalSeconds: env.LOSSPREV_SCORE_INTERVAL_SECONDS,
  };
}
