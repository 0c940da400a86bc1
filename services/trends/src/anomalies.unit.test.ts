import { describe, expect, it } from 'vitest';
import { judge, median } from './anomalies.ts';

describe('robust anomaly scores', () => {
  it('takes the median, odd and even', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('scores by median absolute deviation, which one wild baseline week does not move', () => {
    const baseline = [10, 12, 11, 9, 10, 13, 11, 80]; // one festival week
    const j = judge(40, baseline);
    expect(j.median).toBe(11);
    // MAD = median(|x - 11|) = median(1, 1, 0, 2, 1, 2, 0, 69) = 1; spread = 1.4826 (floored at 10 % of the median: 1.1)
    expect(j.spread).toBeCloseTo(1.4826, 4);
    expect(j.score).toBeCloseTo((40 - 11) / 1.4826, 3);
    expect(Math.abs(judge(12, baseline).score)).toBeLessThan(3.5);
  });

  it('does not call a flat baseline infinitely surprised', () => {
    const j = judge(21, [20, 20, 20, 20]);
    expect(j.spread).toBe(2); // 10 % of the median
    expect(j.score).toBe(0.5);
    expect(judge(0, [0, 0, 0, 0]).spread).toBe(1);
  });
});
