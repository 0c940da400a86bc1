import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PosTransactionV1, posTransactions, salesAggregates, storeTopics } from '@tillstream/contracts';
import { bookedOffset, topicEnd } from '@tillstream/consumer-service/testing';
import { TypedProducer } from '@tillstream/kafka';
import { freePort, kafkaServiceEnv, killProcess, readRecords, seededRandom, startProcess, stopProcess, storeTraffic, testDatabase, testKafka, waitFor } from '@tillstream/testing';

/**
 * The compacted topic's contract under SIGKILL (sales.aggregates.v1: every
 * window's latest revision reaches the topic; republishing is allowed,
 * losing the latest is not). The trends service remembers what it published
 * per slot (migrations/store/*_trends-published-by-slot.sql), not per
 * window: a kill between a batch's commit and the round that publishes it,
 * between a produce and its acknowledgement, or while a slot is restated
 * between a round's read and its acknowledgement, must leave no window's
 * latest revision off the topic once the service runs again.
 */
describe('trends publishing under SIGKILL', () => {
  it('publishes every window at its latest revision, whatever the moment of the kills', async () => {
    const db = await testDatabase({ target: 'store' });
    const kafka = await testKafka({ specs: storeTopics });
    const posTopic = `${kafka.prefix}${posTransactions.name}`;
    const aggregatesTopic = `${kafka.prefix}${salesAggregates.name}`;
    const group = `${kafka.prefix}trends`;
    const logFile = join(mkdtempSync(join(tmpdir(), 'tillstream-trends-publish-crash-')), 'trends.log');
    const port = await freePort();
    const env = {
      STORE_ID: 'S001',
      TOPIC_PREFIX: kafka.prefix,
      ...kafkaServiceEnv('trends'),
      DATABASE_URL: db.urlFor('trends'),
      PORT: String(port),
      LOG_LEVEL: 'info',
      STORE_TIME_ZONE: 'UTC',
      // Small batches, and publishing never held: commits and publishing rounds interleave, so kills land in every gap between them.
      CONSUME_MAX_BATCH: '50',
      PUBLISH_HOLD_LAG: '1000000',
      CONSUMER_SESSION_TIMEOUT_MS: '6000',
    };
    let child: ChildProcess | undefined;
    onTestFinished(async () => {
      if (child) await killProcess(child);
    });
    const start = async () => {
      child = await startProcess('services/trends/src/main.ts', env, `http://127.0.0.1:${port}/healthz`, { logFile });
    };
    const listedSlots = async () => Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM sales_aggregate_changes WHERE changes > published_changes')).rows[0]!.n);

    // Traffic keeps arriving while the kills go on (windows restated again and again), then the rest at once.
    const producer = new TypedProducer({ kafka: kafka.kafka, logger: kafka.logger, source: 'test', topicPrefix: kafka.prefix });
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const traffic = storeTraffic(6000, seededRandom(20261202));
    let sent = 0;
    let killing = true;
    const flowing = (async () => {
      while (sent < traffic.length) {
        const slice = traffic.slice(sent, sent + (killing ? 10 : 500));
        await producer.send(posTransactions, slice.map((tx) => ({ storeId: 'S001', data: PosTransactionV1.parse(tx) })));
        sent += slice.length;
        if (killing) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    const random = seededRandom(11);
    for (let kills = 0; kills < 4; kills++) {
      const before = await bookedOffset(db, group, posTopic);
      await start();
      // Once it booked something (and so has windows to publish), or the traffic ran out, at an arbitrary moment after.
      await waitFor(async () => sent === traffic.length || (await bookedOffset(db, group, posTopic)) !== before, { timeoutMs: 30_000, message: `trends to book something after restart ${kills}` });
      await new Promise((resolve) => setTimeout(resolve, random() * 1500));
      await killProcess(child!);
    }
    killing = false;
    await flowing;
    await start();
    const end = await topicEnd(kafka, posTopic);
    await waitFor(async () => (await bookedOffset(db, group, posTopic)) === end && (await listedSlots()) === 0, {
      timeoutMs: 60_000,
      message: `trends to book up to offset ${end} and publish every window (log: ${logFile})`,
    });
    await stopProcess(child!);

    // The topic's latest revision of every window (the highest, as consumers keep it) is the window as stored.
    const latest = new Map<string, { revision: number; net: number; units: number }>();
    for (const record of await readRecords(kafka.kafka, aggregatesTopic)) {
      const { data } = salesAggregates.envelope.parse(JSON.parse(record.value));
      const key = `${data.granularity}|${data.dimension}|${data.member}|${data.windowStart}`;
      if ((latest.get(key)?.revision ?? 0) < data.revision) latest.set(key, { revision: data.revision, net: data.figures.net, units: data.figures.units });
    }
    const { rows } = await db.pool.query<{ key: string; revision: number; net: string; units: string }>(
      `SELECT granularity || '|' || dimension || '|' || member || '|' || to_char(window_start, 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"') AS key, revision, net, units
       FROM sales_aggregates ORDER BY 1`,
    );
    // The traffic is stamped now: a few dozen windows (today's, this hour's, the last minutes'), restated by almost every batch,
    // so a latest revision lost at any kill would show.
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.filter((r) => r.revision > 10).length).toBeGreaterThan(10);
    expect(new Map(rows.map((r) => [r.key, { revision: r.revision, net: Number(r.net), units: Number(r.units) }]))).toEqual(latest);
  }, 180_000);
});
