import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { hqEnv, startHq } from '@tillstream/hq';
import type { ChainResult } from '@tillstream/simulator';
import { bearer, kafkaServiceEnv, testDatabase, testEnv, testHqTlsEnv, testKafka, testLogger, testTlsFiles, testTokens, waitFor, type TestDatabase } from '@tillstream/testing';

/**
 * `tillstream simulate-chain` against a real HQ (its own database and topics
 * on HQ's broker): what HQ ends with for each simulated store-day must be
 * exactly what the simulator says it sent, and each day reconciled complete.
 */

const BIN = fileURLToPath(new URL('../packages/cli/bin/tillstream.js', import.meta.url));

async function tillstream(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A certs dir as `tillstream certs` lays it out, holding the run's CA (the one HQ's TLS_CLIENT_CA_FILE trusts). */
async function chainCertsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tillstream-chain-certs-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const { caFile, caKeyFile } = testTlsFiles();
  await mkdir(join(dir, 'ca'), { mode: 0o700 });
  await copyFile(caFile, join(dir, 'ca', 'ca.crt'));
  await copyFile(caKeyFile, join(dir, 'ca', 'ca.key'));
  return dir;
}

async function startTestHq(db: TestDatabase) {
  const prefix = (await testKafka({ brokers: testEnv.HQ_KAFKA_BROKERS })).prefix;
  const hq = await startHq(
    hqEnv.parse({ ...testHqTlsEnv(), ...kafkaServiceEnv('hq'), HQ_TOPIC_PREFIX: prefix, DATABASE_URL: db.urlFor('hq'), PORT: '0', RECONCILE_INTERVAL_MS: '300' }),
    { logger: testLogger('hq') },
  );
  onTestFinished(() => hq.stop());
  const viewer = bearer((await testTokens(db.pool, 'hq'))['hq-viewer']);
  await waitFor(async () => (await fetch(`${hq.url}/readyz`, { headers: viewer })).status === 200, { timeoutMs: 30_000, message: 'HQ to be ready' });
  return hq;
}

/** What HQ holds for a store's business day. */
async function hqDay(db: TestDatabase, storeId: string, businessDay: string) {
  const { rows } = await db.pool.query<{ transactions: string; net: string | null; window_net: string | null; status: string | null; seen: boolean; batches: string }>(
    `SELECT (SELECT count(*) FROM hq_transactions WHERE store_id = $1 AND business_day = $2) AS transactions,
            (SELECT sum(net) FROM hq_transactions WHERE store_id = $1 AND business_day = $2) AS net,
            (SELECT net FROM hq_sales_aggregates WHERE store_id = $1 AND granularity = 'day' AND dimension = 'store' AND member = 'all' AND business_day = $2) AS window_net,
            (SELECT status FROM hq_manifests WHERE store_id = $1 AND business_day = $2) AS status,
            EXISTS (SELECT 1 FROM hq_store_health WHERE store_id = $1) AS seen,
            (SELECT count(*) FROM hq_batches WHERE store_id = $1) AS batches`,
    [storeId, businessDay],
  );
  const r = rows[0]!;
  return { transactions: Number(r.transactions), net: Number(r.net ?? 0), windowNet: Number(r.window_net ?? 0), status: r.status, seen: r.seen, batches: Number(r.batches) };
}

async function expectHqMatches(db: TestDatabase, result: ChainResult, businessDay: string) {
  for (const store of result.stores) {
    await waitFor(async () => (await hqDay(db, store.storeId, businessDay)).status === 'complete', { timeoutMs: 60_000, message: `${store.storeId}'s day to be reconciled complete` });
    const day = await hqDay(db, store.storeId, businessDay);
    expect(store.transactions).toBeGreaterThan(0);
    expect(day).toMatchObject({ transactions: store.transactions, net: store.netTotal, windowNet: store.netTotal, seen: true });
  }
  const batches = (await Promise.all(result.stores.map(async (s) => (await hqDay(db, s.storeId, businessDay)).batches))).reduce((a, b) => a + b, 0);
  expect(batches).toBe(result.tally.acknowledgedBatches);
  expect(result.tally).toMatchObject({ storesDone: result.stores.length, manifests: result.stores.length, rejectedBatches: 0, abandonedRecords: 0, backlogRecords: 0, replayRequests: 0 });
  expect(result.tally.acknowledgedRecords).toBe(result.tally.generated.records);
}

describe('npx tillstream simulate-chain', () => {
  it("plays five stores' upload traffic (today's profile) against a real HQ: every store-day complete, HQ's transactions and day totals equal to what was sent", async () => {
    const db = await testDatabase({ target: 'hq' });
    const hq = await startTestHq(db);
    const certsDir = await chainCertsDir();
    const day = '2026-11-20';
    const run = await tillstream(
      'simulate-chain', '--hq-url', hq.url, '--stores', '5', '--store-prefix', 'SIM', '--profile', 'today',
      '--transactions', '40', '--day-seconds', '6', '--business-day', day, '--heartbeat-seconds', '1',
      '--database-url', db.url, '--certs-dir', certsDir, '--hq-ca-file', testTlsFiles().caFile, '--json',
    );
    expect(run.stderr).not.toMatch(/refused/);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as ChainResult;
    expect(result.stores.map((s) => s.storeId)).toEqual(['SIM0001', 'SIM0002', 'SIM0003', 'SIM0004', 'SIM0005']);
    await expectHqMatches(db, result, day);
  }, 240_000);

  it('plays the coalesced profile too: fewer records for the same trading, the same totals at HQ', async () => {
    const db = await testDatabase({ target: 'hq' });
    const hq = await startTestHq(db);
    const certsDir = await chainCertsDir();
    const day = '2026-11-21';
    const args = ['--hq-url', hq.url, '--stores', '3', '--transactions', '40', '--day-seconds', '6', '--business-day', day, '--database-url', db.url, '--certs-dir', certsDir, '--hq-ca-file', testTlsFiles().caFile, '--json'];
    const coalesced = await tillstream('simulate-chain', ...args, '--store-prefix', 'CO', '--profile', 'coalesced', '--coalesce-seconds', '3600');
    expect(coalesced.code).toBe(0);
    const today = await tillstream('simulate-chain', ...args, '--store-prefix', 'TO', '--profile', 'today');
    expect(today.code).toBe(0);
    const [c, t] = [JSON.parse(coalesced.stdout) as ChainResult, JSON.parse(today.stdout) as ChainResult];
    expect(c.tally.generated.transactions).toBe(t.tally.generated.transactions);
    expect(c.tally.generated.records).toBeLessThan(t.tally.generated.records);
    await expectHqMatches(db, c, day);
    await expectHqMatches(db, t, day);
  }, 240_000);
});
