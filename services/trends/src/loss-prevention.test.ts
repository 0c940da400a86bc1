import { describe, expect, it } from 'vitest';
import { LossPreventionAlerts, LossPreventionFigures, lossPreventionAlerts, topicName, type PosTransactionInput } from '@tillstream/contracts';
import { bookedOffset, topicEnd } from '@tillstream/consumer-service/testing';
import { SyntheticStore, bearer, readRecords, waitFor } from '@tillstream/testing';
import { testTrends, type TestTrends } from './testing.ts';

/**
 * Loss prevention end to end on real Kafka and PostgreSQL: synthetic till
 * traffic (the bakery's baskets, 3 terminals, operators OP1..OP4 taking
 * turns, the usual share of returns, post-voids and training), booked by
 * trends' second consumer group, scored, alerted through the outbox.
 */

/** A trading day of synthetic traffic: `count` transactions from 08:00 UTC, 30 s apart. */
function tradingDay(count: number, sweetheart?: { operatorId: string; rate: number }): PosTransactionInput[] {
  const store = new SyntheticStore({ storeId: 'S001', terminals: ['T01', 'T02', 'T03'], seed: 18, timeZone: 'UTC', ...(sweetheart ? { sweetheart } : {}) });
  const start = Date.parse('2026-11-20T08:00:00Z');
  return Array.from({ length: count }, (_, i) => store.next(start + i * 30_000).tx);
}

/**
 * `days` trading days of `perDay` transactions each (08:00 UTC on, a minute
 * apart) from 2026-11-13; on the last day, `lastDay` plants a sweethearting
 * operator who was clean before.
 */
function tradingDays(days: number, perDay: number, lastDay?: { operatorId: string; rate: number }): PosTransactionInput[] {
  const terminals = ['T01', 'T02', 'T03'];
  const clean = new SyntheticStore({ storeId: 'S001', terminals, seed: 7, timeZone: 'UTC' });
  const txs: PosTransactionInput[] = [];
  const at = (day: number, i: number) => Date.parse('2026-11-13T08:00:00Z') + day * 86_400_000 + i * 60_000;
  for (let d = 0; d < days - 1; d++) for (let i = 0; i < perDay; i++) txs.push(clean.next(at(d, i)).tx);
  const last = lastDay
    ? new SyntheticStore({ storeId: 'S001', terminals, seed: 8, timeZone: 'UTC', sweetheart: lastDay, lastSequence: Object.fromEntries(clean.terminals.map((t) => [t.terminalId, t.sequence])) })
    : clean;
  for (let i = 0; i < perDay; i++) txs.push(last.next(at(days - 1, i)).tx);
  return txs;
}

async function publishAll(trends: TestTrends, txs: PosTransactionInput[]): Promise<void> {
  for (let i = 0; i < txs.length; i += 500) await trends.publish(txs.slice(i, i + 500));
}

/** Resolves once loss prevention's own consumer group has booked the whole POS topic. */
async function lossPreventionCaughtUp(trends: TestTrends): Promise<void> {
  const end = await topicEnd(trends.kafka, trends.topic);
  await waitFor(async () => (await bookedOffset(trends.db, `${trends.groupId}.lossprev`, trends.topic)) === end, { timeoutMs: 60_000, message: `loss prevention to book up to offset ${end}` });
}

async function alerts(trends: TestTrends) {
  const res = await trends.get('/v1/loss-prevention/alerts?limit=500');
  expect(res.status).toBe(200);
  return LossPreventionAlerts.parse(await res.json()).alerts;
}

describe('loss prevention', () => {
  it('finds the planted sweethearting operator, and no one else; a re-run finds the same alerts and publishes none twice', async () => {
    const trends = await testTrends();
    const day = tradingDay(1200, { operatorId: 'OP3', rate: 0.3 });
    await publishAll(trends, day);
    await lossPreventionCaughtUp(trends);

    // The figures kept per operator, against a plain count over what was sent.
    const figures = LossPreventionFigures.parse(await (await trends.get('/v1/loss-prevention/figures?businessDay=2026-11-20&scope=DAY&dimension=OPERATOR')).json());
    expect(figures.members.map((m) => m.member)).toEqual(['OP1', 'OP2', 'OP3', 'OP4']);
    for (const m of figures.members) {
      const own = day.filter((tx) => tx.operatorId === m.member);
      expect(m.transactions).toBe(own.length);
      expect(m.signals.NO_SALE.count).toBe(own.filter((tx) => tx.type === 'NO_SALE' && !tx.trainingMode).length);
      expect(m.signals.POST_VOID.count).toBe(own.filter((tx) => tx.type === 'POST_VOID' && !tx.trainingMode).length);
      expect(m.signals.TRAINING_MODE.count).toBe(own.filter((tx) => tx.trainingMode).length);
      expect(m.signals.NO_SALE.rate).toBeCloseTo(m.signals.NO_SALE.count / m.transactions, 5);
    }
    const sold = new Set(day.filter((tx) => tx.type === 'SALE' && !tx.trainingMode).map((tx) => tx.transactionId));
    expect(figures.members.find((m) => m.member === 'OP3')!.signals.RETURN_WITHOUT_ORIGINAL.count).toBe(
      day.filter((tx) => tx.operatorId === 'OP3' && tx.type === 'RETURN' && !sold.has(tx.original!.transactionId)).length,
    );
    expect((await trends.get('/v1/loss-prevention/figures', bearer(trends.tokens['store-viewer']))).status).toBe(403);

    const found = await alerts(trends);
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found.map((a) => `${a.dimension}:${a.member}`))).toEqual(new Set(['OPERATOR:OP3']));
    // What they did: no-sales, post-voids of their own sales, refunds of what they just sold, returns without a receipt.
    expect(new Set(found.map((a) => a.signal))).toEqual(new Set(['NO_SALE', 'POST_VOID', 'REFUND_AFTER_SALE', 'RETURN_WITHOUT_ORIGINAL']));
    for (const a of found) {
      expect(a.comparison).toBe('PEERS');
      expect(a.score).toBeGreaterThanOrEqual(3.5);
      expect(a.observed.count).toBeGreaterThanOrEqual(3);
      expect(a.baseline.size).toBe(3);
    }

    // Published once each, through the outbox, on the versioned topic keyed by alertId.
    const topic = topicName(trends.kafka.prefix, lossPreventionAlerts);
    const published = (await readRecords(trends.kafka.kafka, topic, { atLeast: found.length })).map((r) => ({ key: r.key, alert: lossPreventionAlerts.envelope.parse(JSON.parse(r.value)).data }));
    expect(published.map((p) => p.alert.alertId).sort()).toEqual(found.map((a) => a.alertId).sort());
    expect(published.every((p) => p.key === p.alert.alertId)).toBe(true);

    // A re-run from scratch (its facts gone, its offset back to 0) scores the same day again: the same ids, nothing new.
    await trends.db.pool.query('TRUNCATE lossprev_transactions, lossprev_lines');
    await trends.db.pool.query('UPDATE consumer_offsets SET next_offset = 0 WHERE group_id = $1', [`${trends.groupId}.lossprev`]);
    await trends.restart();
    await waitFor(async () => (await trends.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM lossprev_transactions')).rows[0]!.n === 1200, { timeoutMs: 60_000, message: 'the re-run to book every transaction' });
    await lossPreventionCaughtUp(trends);
    expect((await alerts(trends)).map((a) => a.alertId).sort()).toEqual(found.map((a) => a.alertId).sort());
    // Alerts go to the outbox in the transaction that stores the offset: caught up, every alert of the re-run is on the topic or in the outbox.
    const { rows } = await trends.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM event_outbox WHERE topic = 'lossprevention.alerts.v1'");
    expect((await readRecords(trends.kafka.kafka, topic)).length + rows[0]!.n).toBe(found.length);
  });

  it('alerts no one in clean traffic: a busy day, then eight ordinary days (peers, own history, day and 7 days)', async () => {
    const trends = await testTrends();
    await publishAll(trends, tradingDay(1200));
    await lossPreventionCaughtUp(trends);
    expect(await alerts(trends)).toEqual([]);

    const week = await testTrends();
    await publishAll(week, tradingDays(8, 600));
    await lossPreventionCaughtUp(week);
    expect(await alerts(week)).toEqual([]);
  });

  it("compares an operator with their own history: a clean week, then a day of sweethearting", async () => {
    const trends = await testTrends();
    await publishAll(trends, tradingDays(8, 600, { operatorId: 'OP2', rate: 0.3 }));
    await lossPreventionCaughtUp(trends);
    const found = await alerts(trends);
    // Of the people, only OP2. The tills OP2 worked that day (all three: operators take turns) did see their own rates rise,
    // so they may be named against their own history, never against each other (they are alike).
    expect(new Set(found.filter((a) => a.dimension === 'OPERATOR').map((a) => a.member))).toEqual(new Set(['OP2']));
    expect(found.filter((a) => a.dimension === 'TERMINAL' && a.comparison === 'PEERS')).toEqual([]);
    expect(found.every((a) => a.businessDay === '2026-11-20')).toBe(true);
    const history = found.filter((a) => a.dimension === 'OPERATOR' && a.comparison === 'OWN_HISTORY' && a.scope === 'DAY');
    expect(history.length).toBeGreaterThan(0);
    for (const a of history) expect(a.baseline.size).toBe(7);
  });

  it('scores a busy day at most once per interval while it changes, and finally once a later day is booked', async () => {
    const trends = await testTrends({ LOSSPREV_SCORE_INTERVAL_SECONDS: '3600' });
    const day = tradingDay(1200, { operatorId: 'OP3', rate: 0.3 });
    const state = async () =>
      (await trends.db.pool.query<{ dirty: boolean }>(`SELECT scored_at IS NULL OR scored_at < changed_at AS dirty FROM lossprev_days WHERE business_day = '2026-11-20'`)).rows[0];
    await publishAll(trends, day.slice(0, 100));
    await lossPreventionCaughtUp(trends);
    // Scored when first booked: 100 transactions (25 each) are too few to judge anyone.
    expect(await state()).toEqual({ dirty: false });
    expect(await alerts(trends)).toEqual([]);
    await publishAll(trends, day.slice(100));
    await lossPreventionCaughtUp(trends);
    // Changed within the interval: not scored again yet.
    expect(await state()).toEqual({ dirty: true });
    expect(await alerts(trends)).toEqual([]);
    // The next business day begins: the day gets its final scoring at once.
    const next = new SyntheticStore({ storeId: 'S001', terminals: ['T01'], seed: 3, timeZone: 'UTC', lastSequence: { T01: 10_000 } }).next(Date.parse('2026-11-21T08:00:00Z')).tx;
    await trends.publish([next]);
    await lossPreventionCaughtUp(trends);
    expect(await state()).toEqual({ dirty: false });
    expect(new Set((await alerts(trends)).map((a) => a.member))).toEqual(new Set(['OP3']));
  });

  it('catching up on a backlog, scores its days once, together, after the backlog: the same alerts', async () => {
    // A backlog waits for a stopped service: eight days, a sweethearting operator on the last. Batches of 200 with a backlog
    // of more than 1,000 records behind them are a catch-up (PUBLISH_HOLD_LAG).
    const overrides = { CONSUME_MAX_BATCH: '200', PUBLISH_HOLD_LAG: '1000', LOSSPREV_SCORE_INTERVAL_SECONDS: '0' };
    const stopped = await testTrends(overrides);
    await stopped.service.stop();
    await publishAll(stopped, tradingDays(8, 600, { operatorId: 'OP2', rate: 0.3 }));
    const trends = await testTrends(overrides, { db: stopped.db, kafka: stopped.kafka });
    await lossPreventionCaughtUp(trends);
    // Days booked in the catch-up were scored by the first batch with no backlog behind it, all in one database transaction
    // (one scored_at), not each when first booked and again when the next day began. (The last two days' tails came after.)
    const { rows } = await trends.db.pool.query<{ scorings: number; dirty: number }>(
      `SELECT count(DISTINCT scored_at)::int AS scorings, count(*) FILTER (WHERE scored_at IS NULL OR scored_at < changed_at)::int AS dirty
       FROM lossprev_days WHERE business_day <= '2026-11-18'`,
    );
    expect(rows[0]).toEqual({ scorings: 1, dirty: 0 });
    expect(new Set((await alerts(trends)).filter((a) => a.dimension === 'OPERATOR').map((a) => a.member))).toEqual(new Set(['OP2']));
  });

  it('answers a store manager only: operators are staff data', async () => {
    const trends = await testTrends();
    expect((await trends.get('/v1/loss-prevention/alerts', bearer(trends.tokens['store-viewer']))).status).toBe(403);
    expect((await fetch(`${trends.url}/v1/loss-prevention/alerts`)).status).toBe(401);
    const bad = await trends.get('/v1/loss-prevention/alerts?dimension=SHOP');
    expect(bad.status).toBe(400);
  });
});
