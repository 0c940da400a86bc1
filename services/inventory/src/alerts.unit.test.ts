import { describe, expect, it } from 'vitest';
import type { StockState } from '@tillstream/contracts';
import { nextState, type Transition } from './alerts.ts';

const policy = { bandPercent: 20 };
const units = (n: number) => n * 1000;

/** Walks on-hand levels from a state and collects the alerts raised. */
function walk(levels: number[], reorderPoint: number | null, from: StockState = 'OK'): { state: StockState; alerts: string[] } {
  let state = from;
  const alerts: string[] = [];
  for (const level of levels) {
    const t: Transition = nextState(state, units(level), reorderPoint === null ? null : units(reorderPoint), policy);
    state = t.state;
    if (t.alert) alerts.push(`${t.alert}@${level}`);
  }
  return { state, alerts };
}

describe('stock alert states', () => {
  it('alerts once when stock falls to the reorder point, then out, then negative', () => {
    expect(walk([12, 11, 10, 9, 1, 0, -1, -2], 10)).toEqual({ state: 'NEGATIVE', alerts: ['LOW_STOCK@10', 'OUT_OF_STOCK@0', 'NEGATIVE_STOCK@-1'] });
  });

  it('does not alert again while a SKU hovers around its reorder point (hysteresis)', () => {
    // Reorder point 10, band 20% = 2 units: LOW until above 12.
    expect(walk([11, 10, 11, 12, 10, 11, 12, 10], 10)).toEqual({ state: 'LOW', alerts: ['LOW_STOCK@10'] });
    expect(walk([10, 13, 12, 10], 10)).toEqual({ state: 'LOW', alerts: ['LOW_STOCK@10', 'LOW_STOCK@10'] });
  });

  it('uses at least one unit of band for small reorder points', () => {
    expect(walk([2, 3, 2, 4, 2], 2)).toEqual({ state: 'LOW', alerts: ['LOW_STOCK@2', 'LOW_STOCK@2'] });
  });

  it('reports BACK_IN_STOCK as soon as an out or negative SKU has stock again', () => {
    expect(walk([0, 5], 10)).toEqual({ state: 'LOW', alerts: ['OUT_OF_STOCK@0', 'BACK_IN_STOCK@5'] });
    expect(walk([-3, 0, 20], 10)).toEqual({ state: 'OK', alerts: ['NEGATIVE_STOCK@-3', 'BACK_IN_STOCK@20'] });
    expect(walk([-3, 0], null)).toEqual({ state: 'OUT', alerts: ['NEGATIVE_STOCK@-3'] });
  });

  it('treats a SKU without a reorder point as OK while it has stock', () => {
    expect(walk([5, 1, 0.5, 0.001], null)).toEqual({ state: 'OK', alerts: [] });
  });

  it('keeps decimals exact at the threshold (weighed goods)', () => {
    expect(walk([2.001, 2, 2.4, 2.401], 2)).toEqual({ state: 'LOW', alerts: ['LOW_STOCK@2'] });
    expect(walk([3.001], 2, 'LOW')).toEqual({ state: 'OK', alerts: [] });
  });
});
