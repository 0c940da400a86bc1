import { describe, expect, it } from 'vitest';
import { TerminalLimiter } from './rate-limit.ts';

const limits = { requests: { perSecond: 20, burst: 40 }, transactions: { perSecond: 100, burst: 2000 }, bytes: { perSecond: 1000, burst: 4000 } };

describe('per-terminal budgets', () => {
  it('counts transactions and bytes, not only requests, refills them with the clock and keeps terminals apart', () => {
    let now = 0;
    const limiter = new TerminalLimiter(limits, () => now);
    // Four full batches: the transaction burst is spent after four requests, not forty.
    for (let i = 0; i < 4; i++) expect(limiter.take('T1', 'transactions', 500)).toEqual({ remaining: 2000 - 500 * (i + 1) });
    expect(limiter.take('T1', 'transactions', 500)).toEqual({ retryAfterSeconds: 5 });
    expect(limiter.take('T2', 'transactions', 500)).toEqual({ remaining: 1500 }); // another terminal's budget is its own
    now += 2500; // 2.5 s: 250 transactions back
    expect(limiter.take('T1', 'transactions', 500)).toEqual({ retryAfterSeconds: 3 });
    expect(limiter.take('T1', 'transactions', 250)).toEqual({ remaining: 0 });
    now += 3_600_000; // refills up to the burst, never past it
    expect(limiter.take('T1', 'transactions', 1)).toEqual({ remaining: 1999 });
    // Bytes: a body larger than the burst can never pass; the refusal says so rather than naming a wait.
    expect(limiter.take('T1', 'bytes', 4001)).toEqual({ retryAfterSeconds: undefined });
    expect(limiter.take('T1', 'bytes', 3000)).toEqual({ remaining: 1000 });
    const problem = limiter.spend('T1', 'bytes', 3000);
    expect(problem?.status).toBe(429);
    expect(problem?.code).toBe('RATE_LIMITED');
  });
});

describe('pacing the refusals of a terminal that ignores Retry-After', () => {
  it('answers the first refusal at once, holds the repeats within the window, never more than maxHeld at a time, and forgets after a quiet window', () => {
    let now = 0;
    const limiter = new TerminalLimiter(limits, () => now, { delayMs: 1000, windowMs: 5000, maxHeld: 2 });
    expect(limiter.pace('T1').delayMs).toBe(0); // a till that honours Retry-After only ever sees this one
    now += 10;
    const first = limiter.pace('T1');
    const second = limiter.pace('T1');
    expect([first.delayMs, second.delayMs]).toEqual([1000, 1000]);
    expect(limiter.pace('T1').delayMs).toBe(0); // two held already: past the cap, answered at once
    expect(limiter.pace('T2').delayMs).toBe(0); // another terminal is paced on its own
    first.release();
    first.release(); // twice is once
    expect(limiter.pace('T1').delayMs).toBe(1000);
    now += 5000; // a quiet window since the last refusal
    second.release();
    expect(limiter.pace('T1').delayMs).toBe(0);
  });

  it('never holds when the delay is 0 (pacing off)', () => {
    const limiter = new TerminalLimiter(limits, () => 0, { delayMs: 0, windowMs: 5000, maxHeld: 16 });
    for (let i = 0; i < 5; i++) expect(limiter.pace('T1').delayMs).toBe(0);
  });
});
