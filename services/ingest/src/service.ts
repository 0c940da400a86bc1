import { posTransactions, topicName } from '@tillstream/contracts';
import { pruneJournal } from '@tillstream/db';
import { startService, type RunningService } from '@tillstream/consumer-service';
import { KafkaAccessDenied, TopicsMissing, asAccessDenied, requireTopics } from '@tillstream/kafka';
import { createMetricsRegistry, type Logger } from '@tillstream/observability';
import { createApp, type IngestConfig } from './app.ts';
import { DEFAULT_PACING, type Clock } from './rate-limit.ts';
import { ProducerGate } from './broker.ts';
import { Capture } from './capture.ts';
import { KnownIds } from './known-ids.ts';
import type { IngestEnv } from './env.ts';
import { createIngestMetrics } from './metrics.ts';
import { catchUpWithBroker } from './recovery.ts';

/** `url`: the address it listens on (PORT=0 picks a free port). */
export type IngestService = RunningService;

/**
 * Builds and starts ingest (the store database is migrated beforehand by
 * `npx tillstream migrate`: ingest's role may not run DDL), creates the store's
 * topics, connects the producer (or keeps trying, answering 503 meanwhile)
 * and listens through the service runtime. stop() refuses new work, drains
 * what is in flight and closes everything, in that order.
 */
export function startIngest(env: IngestEnv, options: { logger?: Logger; clock?: Clock } = {}): Promise<IngestService> {
  // Journal commits are durable (synchronous_commit on): the journal is what
  // terminals were told, the day manifest is built from it, and a receipt
  // lost to a database crash while ingest runs on would never be read back
  // from the broker (that happens only at ingest's start). The WAL flush
  // costs no terminal anything: receipts are written after the answer, by
  // one writer that merges every batch waiting meanwhile.
  // Ingest's broker link is its gate (a producer that answers 503 while the broker is away): no runtime producer, no consumers.
  const setup = { name: 'ingest', env, logger: options.logger, storeId: env.STORE_ID, kafka: { brokers: env.KAFKA_BROKERS, topicPrefix: env.TOPIC_PREFIX, producer: false as const } };
  return startService(setup, async ({ logger: log, pool, kafka }) => {
    const principal = env.KAFKA_SASL_USERNAME;
    const gate = new ProducerGate({ kafka, logger: log, topicPrefix: env.TOPIC_PREFIX, idleProbeMs: env.BROKER_PROBE_MS, principal });
    // Ingest creates no topics (its principal may not): the provisioning step did, or it says so.
    await requireTopics({ kafka, prefix: env.TOPIC_PREFIX, specs: [posTransactions], principal }).catch((err: unknown) => {
      if (err instanceof KafkaAccessDenied) gate.deny(err);
      else if (err instanceof TopicsMissing) log.error({ err: err.message }, 'the POS topic is missing; answering 503 until it is provisioned');
      else log.warn({ err }, 'could not check the topics now (broker down?); the producer will wait for the broker');
    });
    await gate.start();

    const registry = createMetricsRegistry({ service: 'ingest' });
    const metrics = createIngestMetrics(registry);
    const knownIds = new KnownIds(env.IDEMPOTENCY_FILTER_CAPACITY);
    const loaded = await knownIds.load(pool);
    log.info({ transactionIds: loaded }, 'idempotency filter loaded from the journal');
    const capture = new Capture({
      pool,
      knownIds,
      gate,
      logger: log,
      metrics,
      storeId: env.STORE_ID,
      produceTimeoutMs: env.PRODUCE_TIMEOUT_MS,
      maxBatch: env.GROUP_COMMIT_MAX_BATCH,
      lingerMs: env.GROUP_COMMIT_LINGER_MS,
      maxInFlight: env.MAX_IN_FLIGHT,
      maxInFlightPerTerminal: env.MAX_IN_FLIGHT_PER_TERMINAL,
    });
    // Before anything is answered, the journal catches up with the broker's
    // log (receipts of a process killed before it wrote them). With the broker
    // away at start this retries in the background, and capture answers 503.
    let catchUpTimer: NodeJS.Timeout | undefined;
    let stopped = false;
    const catchUp = async (): Promise<void> => {
      try {
        if (!gate.isReady()) throw new Error('the broker is unreachable');
        await catchUpWithBroker({ kafka, pool, knownIds, topic: topicName(env.TOPIC_PREFIX, posTransactions), retentionDays: env.IDEMPOTENCY_RETENTION_DAYS, logger: log, groupPrefix: `${env.TOPIC_PREFIX}ingest.` });
        capture.open();
      } catch (err) {
        const denied = asAccessDenied(err, principal, `reading ${topicName(env.TOPIC_PREFIX, posTransactions)} back at start`);
        // Retrying cannot grant an ACL: the gate reports it (log, /readyz) and the journal stays closed.
        if (denied instanceof KafkaAccessDenied) return gate.deny(denied);
        log.warn({ err: (err as Error).message }, "could not read the broker's log yet; answering 503 until it can");
        if (!stopped) catchUpTimer = setTimeout(() => void catchUp(), 2000);
      }
    };
    await catchUp();

    const config: IngestConfig = {
      storeId: env.STORE_ID,
      bodyLimitBytes: env.BODY_LIMIT_BYTES,
      batchBodyLimitBytes: env.BATCH_BODY_LIMIT_BYTES,
      retentionDays: env.IDEMPOTENCY_RETENTION_DAYS,
      maxClockSkewMinutes: env.MAX_CLOCK_SKEW_MINUTES,
      limits: {
        requests: { perSecond: env.TERMINAL_RATE_PER_SECOND, burst: env.TERMINAL_RATE_BURST },
        transactions: { perSecond: env.TERMINAL_TRANSACTIONS_PER_SECOND, burst: env.TERMINAL_TRANSACTIONS_BURST },
        bytes: { perSecond: env.TERMINAL_BYTES_PER_SECOND, burst: env.TERMINAL_BYTES_BURST },
      },
      pacing: { ...DEFAULT_PACING, delayMs: env.TERMINAL_REFUSAL_DELAY_MS },
      tokenCacheMs: env.TOKEN_CACHE_MS,
    };
    // Forget transactionIds past the retention, an hour apart, a slice at a time.
    const prune = setInterval(() => {
      const before = new Date(Date.now() - env.IDEMPOTENCY_RETENTION_DAYS * 86_400_000);
      pruneJournal(pool, before)
        .then((pruned) => (pruned > 0 ? knownIds.load(pool) : undefined))
        .catch((err: unknown) => log.warn({ err }, 'journal pruning failed'));
    }, 3600_000);
    prune.unref();

    // Terminals send their bearer token with every sale: HTTPS unless on loopback (the runtime refuses otherwise).
    return {
      app: () => createApp({ config, pool, gate, capture, metrics, registry, logger: log, ...(options.clock ? { clock: options.clock } : {}) }),
      logFields: { topicPrefix: env.TOPIC_PREFIX },
      workers: [
        { name: 'journal pruning', stop: () => clearInterval(prune) },
        {
          name: 'catch-up',
          stop: () => {
            stopped = true;
            clearTimeout(catchUpTimer);
          },
        },
      ],
      // Requests in flight are answered (their receipts written) before the API's last connection closes.
      drains: [{ name: 'capture', stop: () => capture.close() }],
      links: [{ name: 'broker gate', stop: () => gate.stop() }],
    };
  });
}
