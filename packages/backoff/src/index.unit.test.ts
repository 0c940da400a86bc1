import { describe, expect, it } from 'vitest';
import { backoffDelay } from './index.ts';

describe('backoffDelay', () => {
  const plain = { initialMs: 200, maxMs: 5000, jitter: false };

  it('doubles from the initial delay and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 50, 10_000].map((a) => backoffDelay(a, plain))).toEqual([200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('treats an attempt below 1 as the first', () => {
    expect(backoffDelay(0, plain)).toBe(200);
    expect(backoffDelay(-3, plain)).toBe(200);
  });

  it('jitters between half of the ceiling and all of it', () => {
    const at = (r: number) => backoffDelay(3, { initialMs: 200, maxMs: 5000, random: () => r });
    expect(at(0)).toBe(400);
    expect(at(0.5)).toBe(600);
    expect(at(0.999_999)).toBe(800);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(20, { initialMs: 200, maxMs: 5000 });
      expect(d).toBeGreaterThanOrEqual(2500);
      expect(d).toBeLessThanOrEqual(5000);
    }
  });
});
