import { createServer } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { SyncBatch } from '@tillstream/contracts';
import { HqClient, HqUnavailable, backoffMs } from './hq-client.ts';

/** A real HTTP server standing in for HQ, answering what the test says, counting requests. */
async function fakeHq() {
  const state = { status: 500, retryAfter: undefined as string | undefined, requests: 0 };
  const server = createServer((req, res) => {
    state.requests += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(state.status, { 'content-type': 'application/json', ...(state.retryAfter ? { 'retry-after': state.retryAfter } : {}) });
      res.end(JSON.stringify(state.status === 201 ? { batchId: 'S001-1-1', storeId: 'S001', records: 0, appliedAt: new Date().toISOString() } : { status: state.status }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
}

/** A clock the test moves: a quiet period ends when the test says, not after a sleep. */
function testClock() {
  let at = 1_000_000;
  return { now: () => at, advance: (ms: number) => void (at += ms) };
}

const BATCH: SyncBatch = { batchId: 'S001-1-1', records: [], backlog: { records: 0, oldestAt: null } };
const RETRY = { baseMs: 200, maxMs: 1000 };

/** What an upload job sees: the quiet it must wait, or 0 when HQ took the batch. */
async function attempt(client: HqClient): Promise<number> {
  try {
    await client.uploadBatch(BATCH);
    return 0;
  } catch (err) {
    if (!(err instanceof HqUnavailable)) throw err;
    return err.retryAfterMs!;
  }
}


describe('HQ client backoff', () => {
  it('backs off store-wide: a hundred waiting uploads make one request per backoff period, doubling, reset by success', async () => {
    const hq = await fakeHq();
    const clock = testClock();
    const client = new HqClient({ url: hq.url, storeId: 'S001', token: 't', timeoutMs: 2000, retry: RETRY, now: clock.now });

    const first = [await attempt(client), ...(await Promise.all(Array.from({ length: 99 }, () => attempt(client))))];
    expect(hq.requests).toBe(1);
    expect(Math.max(...first)).toBeLessThanOrEqual(200);
    expect(Math.min(...first)).toBeGreaterThan(0);

    clock.advance(Math.max(...first) - 1);
    expect(await attempt(client)).toBe(1); // still quiet: nobody asks HQ
    expect(hq.requests).toBe(1);
    clock.advance(1);
    const second = await attempt(client);
    expect(hq.requests).toBe(2);
    expect(second).toBeGreaterThanOrEqual(200); // failures in a row: 2, ceiling 400

    hq.status = 201;
    clock.advance(second);
    expect(await attempt(client)).toBe(0);
    hq.status = 500;
    expect(await attempt(client)).toBeLessThanOrEqual(200); // the streak was reset
    expect(hq.requests).toBe(4);
  });

  it('while HQ is failing, one request at a time asks whether it is back: chores running side by side do not each ask after every quiet', async () => {
    const hq = await fakeHq();
    const clock = testClock();
    const client = new HqClient({ url: hq.url, storeId: 'S001', token: 't', timeoutMs: 2000, retry: RETRY, now: clock.now });
    const quiet = await attempt(client);
    clock.advance(quiet);
    const answers = await Promise.all(Array.from({ length: 10 }, () => attempt(client)));
    expect(hq.requests).toBe(2);
    expect(answers.every((ms) => ms > 0)).toBe(true);
  });

  it("honours HQ's Retry-After for the whole store, but a 409 (one batch in flight) quiets nobody", async () => {
    const hq = await fakeHq();
    const clock = testClock();
    const client = new HqClient({ url: hq.url, storeId: 'S001', token: 't', timeoutMs: 2000, retry: RETRY, now: clock.now });
    hq.status = 409;
    await attempt(client);
    await attempt(client);
    expect(hq.requests).toBe(2);

    hq.status = 429;
    hq.retryAfter = '3';
    expect(await attempt(client)).toBe(3000);
    clock.advance(1000);
    expect(await attempt(client)).toBe(2000); // the rest of HQ's 3 s, asked of nobody
    expect(hq.requests).toBe(3);
  });

  it('unreachable HQ counts as a failure with the same backoff', async () => {
    const client = new HqClient({ url: 'http://127.0.0.1:1', storeId: 'S001', token: 't', timeoutMs: 2000, retry: RETRY });
    const quiet = await attempt(client);
    expect(quiet).toBeGreaterThan(0);
    expect(quiet).toBeLessThanOrEqual(200);
  });

  it('caps the backoff and keeps half of it as a floor', () => {
    expect(backoffMs(1, RETRY, () => 0)).toBe(100);
    expect(backoffMs(1, RETRY, () => 1)).toBe(200);
    expect(backoffMs(50, RETRY, () => 0)).toBe(500);
    expect(backoffMs(50, RETRY, () => 1)).toBe(1000);
  });
});
