import { describe, expect, it } from 'vitest';
import type { LossSignal } from '@tillstream/contracts';
import { DEFAULT_LOSS_POLICY, emptyPeriod, poissonTail, scoreAgainstHistory, scoreAgainstPeers, sumPeriods, type MemberPeriod } from './scoring.ts';

const period = (member: string, transactions: number, counts: Partial<Record<LossSignal, number>> = {}): MemberPeriod => {
  const p = emptyPeriod(member);
  p.transactions = transactions;
  for (const [signal, count] of Object.entries(counts) as Array<[LossSignal, number]>) p.signals[signal] = { count, amount: count * 250 };
  return p;
};

const policy = DEFAULT_LOSS_POLICY;

describe('loss-prevention scoring against peers', () => {
  it('flags the one operator far above peers, and no one else', () => {
    const found = scoreAgainstPeers([period('OP1', 200, { POST_VOID: 2 }), period('OP2', 180, { POST_VOID: 1 }), period('OP3', 210, { POST_VOID: 20, NO_SALE: 12 }), period('OP4', 190, { POST_VOID: 2 })], policy);
    expect(found.map((f) => [f.member, f.signal, f.comparison])).toEqual([
      ['OP3', 'POST_VOID', 'PEERS'],
      ['OP3', 'NO_SALE', 'PEERS'],
    ]);
    const postVoids = found[0]!;
    expect(postVoids.observed).toEqual({ transactions: 210, count: 20, amount: 5000, rate: 0.095238 });
    expect(postVoids.baseline.size).toBe(3);
    // Peers at 1, 0.56 and 1.05 per hundred: median 1 %, spread floored at 1 point, so the score is about (9.5 - 1) / 1.
    expect(postVoids.score).toBeCloseTo(8.47, 1);
  });

  it('is robust to one odd peer: the median and MAD ignore it', () => {
    const found = scoreAgainstPeers([period('OP1', 200, { NO_SALE: 2 }), period('OP2', 200, { NO_SALE: 3 }), period('OP3', 200, { NO_SALE: 2 }), period('OP4', 200, { NO_SALE: 60 })], policy);
    expect(found.map((f) => f.member)).toEqual(['OP4']);
  });

  it('alerts no one on a tiny sample: too few transactions, too few events or too few peers', () => {
    // Two no-sales out of 40 is 5 % against peers' 0 %, but two events are not evidence.
    expect(scoreAgainstPeers([period('OP1', 40, { NO_SALE: 2 }), period('OP2', 40), period('OP3', 40), period('OP4', 40)], policy)).toEqual([]);
    // Ten no-sales out of 12 transactions: too few transactions to judge.
    expect(scoreAgainstPeers([period('OP1', 12, { NO_SALE: 10 }), period('OP2', 100), period('OP3', 100), period('OP4', 100)], policy)).toEqual([]);
    // Two peers only.
    expect(scoreAgainstPeers([period('OP1', 100, { NO_SALE: 30 }), period('OP2', 100), period('OP3', 100)], policy)).toEqual([]);
    // Peers below the minimum do not count as peers.
    expect(scoreAgainstPeers([period('OP1', 100, { NO_SALE: 30 }), period('OP2', 100), period('OP3', 100), period('OP4', 10)], policy)).toEqual([]);
  });

  it('needs both the score and the minimum excess: a slightly higher rate among very uniform peers is no alert', () => {
    const uniform = [period('OP1', 1000, { LINE_VOID: 10 }), period('OP2', 1000, { LINE_VOID: 10 }), period('OP3', 1000, { LINE_VOID: 10 })];
    // 2.5 % against 1 %: 1.5 points above, 1.5 spreads (spread floor 1 point): below both thresholds.
    expect(scoreAgainstPeers([...uniform, period('OP4', 1000, { LINE_VOID: 25 })], policy)).toEqual([]);
    // With a lower threshold and excess (configurable) it is.
    expect(scoreAgainstPeers([...uniform, period('OP4', 1000, { LINE_VOID: 25 })], { ...policy, threshold: 1.2, minExcess: 0.01, maxChance: 1 }).map((f) => f.member)).toEqual(['OP4']);
  });

  it("alerts no one for an honest operator's lucky day: three refunds after sale in 75 transactions where peers had none", () => {
    const day = [period('OP1', 75, { REFUND_AFTER_SALE: 3 }), period('OP2', 80), period('OP3', 70), period('OP4', 75)];
    // On rates alone this scores 4 (4 % against a median of 0, spread floored at 1 point) with 4 points of excess...
    expect(scoreAgainstPeers(day, { ...policy, maxChance: 1 }).map((f) => [f.member, f.score])).toEqual([['OP1', 4]]);
    // ...but at the peers' pooled rate (half an event in 225 transactions) three in 75 has a chance of 7 in 10,000, which
    // dozens of members x signals judged every day meet: no alert.
    expect(poissonTail(3, (0.5 / 225) * 75)).toBeCloseTo(0.00068, 5);
    expect(scoreAgainstPeers(day, policy)).toEqual([]);
    // Three times as many, as a sweethearting operator rings, is no luck.
    expect(scoreAgainstPeers([period('OP1', 75, { REFUND_AFTER_SALE: 9 }), ...day.slice(1)], policy).map((f) => f.member)).toEqual(['OP1']);
  });

  it('computes the Poisson tail P(X >= k)', () => {
    expect(poissonTail(0, 2)).toBe(1);
    expect(poissonTail(1, 0.5)).toBeCloseTo(1 - Math.exp(-0.5), 12);
    // 1 - e^-0.5 (1 + 0.5 + 0.125)
    expect(poissonTail(3, 0.5)).toBeCloseTo(0.014388, 6);
    expect(poissonTail(30, 1)).toBeLessThan(1e-20);
  });

  it('never flags a rate below the peers', () => {
    expect(scoreAgainstPeers([period('OP1', 200, { POST_VOID: 20 }), period('OP2', 200, { POST_VOID: 20 }), period('OP3', 200, { POST_VOID: 20 }), period('OP4', 200)], policy)).toEqual([]);
  });
});

describe('loss-prevention scoring against own history', () => {
  const history = Array.from({ length: 10 }, (_, k) => period('T01', 150 + k, { TRAINING_MODE: k % 3 }));

  it('flags a period far above the member’s own earlier periods', () => {
    const found = scoreAgainstHistory(period('T01', 160, { TRAINING_MODE: 15 }), history, policy);
    expect(found.map((f) => [f.member, f.signal, f.comparison, f.baseline.size])).toEqual([['T01', 'TRAINING_MODE', 'OWN_HISTORY', 10]]);
  });

  it('says nothing without enough history with enough transactions', () => {
    expect(scoreAgainstHistory(period('T01', 160, { TRAINING_MODE: 15 }), history.slice(0, 3), policy)).toEqual([]);
    expect(scoreAgainstHistory(period('T01', 160, { TRAINING_MODE: 15 }), [...history.slice(0, 3), period('T01', 5), period('T01', 0)], policy)).toEqual([]);
  });

  it('sums days into a period', () => {
    const week = sumPeriods('OP1', [period('OP1', 10, { NO_SALE: 1 }), period('OP1', 20, { NO_SALE: 2, POST_VOID: 1 })]);
    expect(week.transactions).toBe(30);
    expect(week.signals.NO_SALE).toEqual({ count: 3, amount: 750 });
    expect(week.signals.POST_VOID).toEqual({ count: 1, amount: 250 });
  });
});
