import { countingTransactions, testConsumerService, type TestConsumerService } from '@tillstream/consumer-service/testing';
import type { TestDatabase, TestKafka, TopicRecord } from '@tillstream/testing';
import { trendsEnv, type TrendsEnv } from './env.ts';
import { startTrends } from './service.ts';

export type TestTrends = TestConsumerService<TrendsEnv>;

/**
 * The trends service for one test (see testConsumerService); the store is in
 * Europe/London and loss prevention scores a day after every batch
 * (LOSSPREV_SCORE_INTERVAL_SECONDS=0: what a test reads once caught up is
 * final) unless overridden.
 */
export function testTrends(overrides: Record<string, string> = {}, options: { db?: TestDatabase; kafka?: TestKafka } = {}): Promise<TestTrends> {
  return testConsumerService({ name: 'trends', schema: trendsEnv, start: startTrends, overrides: { STORE_TIME_ZONE: 'Europe/London', LOSSPREV_SCORE_INTERVAL_SECONDS: '0', ...overrides }, ...options });
}

export interface DayTotals {
  net: number;
  tax: number;
  transactions: number;
  units: number;
}

/**
 * Per business day, computed straight from the POS topic's records,
 * independently of the service: the transactions that count (see
 * countingTransactions), returns subtracting.
 */
export function expectedDays(records: readonly TopicRecord[]): Map<string, DayTotals> {
  const days = new Map<string, DayTotals>();
  for (const tx of countingTransactions(records)) {
    const sign = tx.type === 'SALE' ? 1 : -1;
    const day = days.get(tx.businessDay) ?? { net: 0, tax: 0, transactions: 0, units: 0 };
    for (const line of tx.lines) {
      if (line.voided) continue;
      day.net += sign * line.extendedAmount;
      day.tax += sign * line.taxAmount;
      day.units += sign * Math.round(line.quantity * 1000);
    }
    if (tx.type === 'SALE') day.transactions++;
    days.set(tx.businessDay, day);
  }
  return days;
}
