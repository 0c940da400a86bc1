import type { LossComparison, LossSignal } from '@tillstream/contracts';
import { LossSignal as LossSignals } from '@tillstream/contracts';
import { judge } from '../anomalies.ts';

/**
 * Loss-prevention scoring, pure: a member's (operator's or terminal's) rate
 * of each signal over a period, against its peers' rates over the same
 * period and against its own earlier periods, by the anomaly detector's
 * robust score (median and median absolute deviation x 1.4826: one odd peer
 * or one odd week in the baseline does not move it, as a mean and standard
 * deviation would). Only high rates are flagged: a till that voids less than
 * its peers is no concern.
 *
 * Minimum volumes keep a tiny sample from alerting anyone: a member is
 * judged only with `minTransactions` handled in the period and at least
 * `minEvents` of the signal; a peer or an earlier period counts in a baseline
 * only with `minTransactions` too; and a baseline needs `minPeers` peers or
 * `minHistory` earlier periods.
 *
 * Chance: a robust score of rates alone flags honest operators now and then.
 * When every peer's rate is 0, a count of 3 in 75 transactions scores 4
 * (the spread is floored), and with dozens of operator, signal and day
 * combinations some honest one gets there by luck. So a finding must also
 * be unlikely by chance, with room for those many tries: at most
 * `maxChance` (1 in 100,000) for a Poisson count at the
 * baseline's pooled rate (its events over its transactions, with half an
 * event added so a clean baseline is not a rate of exactly 0) to reach the
 * member's count in the member's transactions.
 */

export const SIGNALS: readonly LossSignal[] = LossSignals.options;

export interface LossPolicy {
  /** Robust deviations above the baseline median that make an alert; default 3.5 (as the anomaly detector). */
  threshold: number;
  /** Transactions a member must have handled in a period to be judged, or to count in a baseline; default 30. */
  minTransactions: number;
  /** Occurrences of the signal in the period before it can alert; default 3. */
  minEvents: number;
  /** Peers with enough transactions needed for a peer comparison; default 3. */
  minPeers: number;
  /** Earlier periods with enough transactions needed for a comparison with the member's own history; default 4. */
  minHistory: number;
  /** Days of history looked at: 28 earlier days for a day, 4 earlier weeks for 7 days; default 28. */
  historyDays: number;
  /** Floor of the spread, as a rate (0.01: one transaction in a hundred); the detector's floor of 1 is for counts. */
  minSpread: number;
  /** Smallest rate above the baseline median worth an alert (0.02: two transactions in a hundred). */
  minExcess: number;
  /**
   * Largest chance that the member's count arises at the baseline's pooled rate (Poisson tail) for an alert; default 1e-5:
   * small, because a store judges dozens of members x signals x comparisons every day and a 1-in-1,000 chance happens.
   */
  maxChance: number;
  /** A return of an item the same operator sold at most this many minutes before is a refund after sale. */
  refundWindowMinutes: number;
  /** A business day that keeps changing is scored again at most this often (booking.ts daysToScore); default 60. */
  scoreIntervalSeconds: number;
}

export const DEFAULT_LOSS_POLICY: LossPolicy = {
  threshold: 3.5,
  minTransactions: 30,
  minEvents: 3,
  minPeers: 3,
  minHistory: 4,
  historyDays: 28,
  minSpread: 0.01,
  minExcess: 0.02,
  maxChance: 1e-5,
  refundWindowMinutes: 30,
  scoreIntervalSeconds: 60,
};

export interface SignalTally {
  count: number;
  amount: number;
}

/** What one member did over a period (a day, or several summed). */
export interface MemberPeriod {
  member: string;
  transactions: number;
  signals: Record<LossSignal, SignalTally>;
}

export interface Finding {
  member: string;
  signal: LossSignal;
  comparison: LossComparison;
  observed: { transactions: number; count: number; amount: number; rate: number };
  baseline: { median: number; spread: number; size: number };
  score: number;
}

export function emptyPeriod(member: string): MemberPeriod {
  return { member, transactions: 0, signals: Object.fromEntries(SIGNALS.map((s) => [s, { count: 0, amount: 0 }])) as Record<LossSignal, SignalTally> };
}

/** The sum of several periods of one member (the days of a week). */
export function sumPeriods(member: string, periods: readonly MemberPeriod[]): MemberPeriod {
  const total = emptyPeriod(member);
  for (const p of periods) {
    total.transactions += p.transactions;
    for (const s of SIGNALS) {
      total.signals[s].count += p.signals[s].count;
      total.signals[s].amount += p.signals[s].amount;
    }
  }
  return total;
}

/** P(X >= k) for X ~ Poisson(mu). */
export function poissonTail(k: number, mu: number): number {
  if (k <= 0) return 1;
  let term = Math.exp(-mu);
  let below = term;
  for (let i = 1; i < k; i++) {
    term *= mu / i;
    below += term;
  }
  return Math.max(0, 1 - below);
}

const rate = (p: MemberPeriod, s: LossSignal) => (p.transactions === 0 ? 0 : p.signals[s].count / p.transactions);
const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;

function judged(policy: LossPolicy, subject: MemberPeriod, signal: LossSignal, comparison: LossComparison, baseline: readonly MemberPeriod[]): Finding | undefined {
  const { count, amount } = subject.signals[signal];
  if (subject.transactions < policy.minTransactions || count < policy.minEvents) return undefined;
  const observed = rate(subject, signal);
  const j = judge(observed, baseline.map((p) => rate(p, signal)), policy.minSpread);
  if (j.score < policy.threshold || observed - j.median < policy.minExcess) return undefined;
  const pooledRate = (baseline.reduce((n, p) => n + p.signals[signal].count, 0) + 0.5) / Math.max(1, baseline.reduce((n, p) => n + p.transactions, 0));
  if (poissonTail(count, pooledRate * subject.transactions) > policy.maxChance) return undefined;
  return {
    member: subject.member,
    signal,
    comparison,
    observed: { transactions: subject.transactions, count, amount, rate: round(observed, 6) },
    baseline: { median: round(j.median, 6), spread: round(j.spread, 6), size: baseline.length },
    score: round(j.score, 2),
  };
}

/** Each member against the other members of the same period (only those with enough transactions count as peers). */
export function scoreAgainstPeers(members: readonly MemberPeriod[], policy: LossPolicy): Finding[] {
  const eligible = members.filter((m) => m.transactions >= policy.minTransactions);
  const found: Finding[] = [];
  for (const subject of eligible) {
    const peers = eligible.filter((m) => m.member !== subject.member);
    if (peers.length < policy.minPeers) continue;
    for (const signal of SIGNALS) {
      const f = judged(policy, subject, signal, 'PEERS', peers);
      if (f) found.push(f);
    }
  }
  return found;
}

/** A member's period against its own earlier periods of the same length (only those with enough transactions count). */
export function scoreAgainstHistory(subject: MemberPeriod, earlier: readonly MemberPeriod[], policy: LossPolicy): Finding[] {
  const history = earlier.filter((p) => p.transactions >= policy.minTransactions);
  if (history.length < policy.minHistory) return [];
  return SIGNALS.flatMap((signal) => judged(policy, subject, signal, 'OWN_HISTORY', history) ?? []);
}
