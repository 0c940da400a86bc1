import { Writable } from 'node:stream';
import { storeTopics } from '@tillstream/contracts';
import { issueStoreToken } from '@tillstream/db';
import { hqEnv, startHq, type HqService } from '@tillstream/hq';
import { testIngest, type TestIngest } from '@tillstream/ingest/testing';
import { testInventory, type TestInventory } from '@tillstream/inventory/testing';
import { createLogger, type Logger } from '@tillstream/observability';
import { startSync, syncEnv } from '@tillstream/sync';
import { bearer, kafkaServiceEnv, syncRedisUrl, testDatabase, testEnv, testHqTlsEnv, testKafka, testStoreClientEnv, testTlsEnv, testTokens, waitFor, type SiteTokens, type TestDatabase, type TestKafka } from '@tillstream/testing';
import { testTrends, type TestTrends } from '@tillstream/trends/testing';
import { onTestFinished } from 'vitest';

/** A logger that keeps every line it writes (to assert what a service never logs). */
export function capturingLogger(name: string): { logger: Logger; logs: string[] } {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ name, level: 'info', destination }), logs };
}

export interface Chain {
  hq: HqService;
  hqDb: TestDatabase;
  hqKafka: TestKafka;
  db: TestDatabase;
  kafka: TestKafka;
  ingest: TestIngest;
  inventory: TestInventory;
  trends: TestTrends;
  sync: Awaited<ReturnType<typeof startSync>>;
  storeToken: string;
  /** HQ's people (an HQ viewer, an HQ admin) and the store's (a store manager, a store viewer): see testTokens. */
  hqTokens: SiteTokens<'hq'>;
  storeTokens: SiteTokens<'store'>;
  /** Every service's log lines, by service. */
  logs: Record<'ingest' | 'inventory' | 'trends' | 'sync' | 'hq', string[]>;
}

/**
 * One store (S001: ingest, inventory with the store API in front of trends
 * and sync, trends, sync) and HQ, on the real brokers, PostgreSQL and Redis,
 * in this process; every service on a free port, stopped when the test ends.
 */
export async function startChain(options: { ingest?: Record<string, string>; inventory?: Record<string, string>; sync?: Record<string, string>; hq?: Record<string, string> } = {}): Promise<Chain> {
  const hqDb = await testDatabase({ target: 'hq' });
  const hqKafka = await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS });
  const hqLog = capturingLogger('hq');
  const hq = await startHq(
    hqEnv.parse({ ...testHqTlsEnv(), ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: hqKafka.prefix, DATABASE_URL: hqDb.urlFor('hq'), PORT: '0', RECONCILE_INTERVAL_MS: '300', ...options.hq }),
    { logger: hqLog.logger },
  );
  onTestFinished(() => hq.stop());
  const storeToken = await issueStoreToken(hqDb.pool, 'S001');

  const db = await testDatabase({ target: 'store' });
  const kafka = await testKafka({ specs: storeTopics });
  const trends = await testTrends({ STORE_TIME_ZONE: 'UTC' }, { db, kafka });
  const syncLog = capturingLogger('sync');
  const sync = await startSync(
    syncEnv.parse({
      ...testTlsEnv(),
      ...(await testStoreClientEnv('S001')),
      STORE_ID: 'S001',
      TOPIC_PREFIX: kafka.prefix,
      ...kafkaServiceEnv('sync'),
      DATABASE_URL: db.urlFor('sync'),
      REDIS_URL: syncRedisUrl(),
      PORT: '0',
      HQ_URL: hq.url,
      HQ_TOKEN: storeToken,
      SWEEP_INTERVAL_MS: '500',
      // Windows and levels coalesced over a short interval; batches cut at once.
      SYNC_COALESCE_MS: '300',
      SYNC_BATCH_MAX_DELAY_MS: '0',
      MANIFEST_INTERVAL_MS: '500',
      HEARTBEAT_INTERVAL_MS: '500',
      CATALOG_INTERVAL_MS: '1000',
      RETRY_BASE_MS: '200',
      RETRY_MAX_MS: '2000',
      ...options.sync,
    }),
    { logger: syncLog.logger },
  );
  onTestFinished(() => sync.stop());
  const inventory = await testInventory({ TRENDS_URL: trends.url, SYNC_URL: sync.url, ...options.inventory }, { db, kafka });
  // No per-terminal budgets (requests and transactions): chain tests post as fast as they can from one till; the budgets have
  // tests of their own (ingest's rate-limit tests, test/ingest-fairness.test.ts). With the default 100 transactions/s, a
  // 2,000-sale run was refused from its ~1,900th sale whenever the machine was quick enough to post faster than that.
  const ingest = await testIngest(
    { TERMINAL_RATE_PER_SECOND: '1000000', TERMINAL_RATE_BURST: '1000000', TERMINAL_TRANSACTIONS_PER_SECOND: '1000000', ...options.ingest },
    { db, kafka },
  );
  const hqTokens = await testTokens(hqDb.pool, 'hq');
  const storeTokens = await testTokens(db.pool, 'store');
  for (const [url, viewer] of [[hq.url, hqTokens['hq-viewer']], [sync.url, storeTokens['store-viewer']], [trends.url, storeTokens['store-viewer']], [inventory.url, storeTokens['store-viewer']], [ingest.url, storeTokens['store-viewer']]] as const) {
    await waitFor(async () => (await fetch(`${url}/readyz`, { headers: bearer(viewer) })).status === 200, { timeoutMs: 60_000, message: `${url} to be ready` });
  }
  return {
    hq,
    hqDb,
    hqKafka,
    db,
    kafka,
    ingest,
    inventory,
    trends,
    sync,
    storeToken,
    hqTokens,
    storeTokens,
    logs: { ingest: ingest.logs, inventory: inventory.logs, trends: trends.logs, sync: syncLog.logs, hq: hqLog.logs },
  };
}

/** The log lines at level error or above (pino: 50 error, 60 fatal). */
export function errorLines(logs: readonly string[]): string[] {
  return logs.filter((line) => /"level":(5\d|6\d)/.test(line));
}
