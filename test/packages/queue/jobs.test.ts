import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { syncUploadJobs } from '@tillstream/contracts';
import { testEnv, uniqueName, waitFor } from '@tillstream/testing';
import { JobInvalid, QueueEvents, TypedQueue, createRedis, createTypedWorker, parseJobData, type Redis, type Worker } from '@tillstream/queue';

const catalog = { add: z.strictObject({ a: z.number().int(), b: z.number().int() }) } as const;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function connection(): Redis {
  const redis = createRedis(testEnv.REDIS_URL, 'worker');
  closers.push(async () => void redis.disconnect());
  return redis;
}

describe('job catalogs', () => {
  it('parse the sync queue\'s jobs and refuse what is not one', () => {
    expect(parseJobData(syncUploadJobs, 'q', 'upload', { batchId: 'store-1-1-20' })).toEqual({ batchId: 'store-1-1-20' });
    expect(() => parseJobData(syncUploadJobs, 'q', 'upload', { batchId: 42 })).toThrow(JobInvalid);
    expect(() => parseJobData(syncUploadJobs, 'q', 'upload', { batchId: 'store-1-1-20', extra: true })).toThrow(/does not match its schema/);
    expect(() => parseJobData(syncUploadJobs, 'q', 'toString' as 'upload', {})).toThrow(/has no job named "toString"/);
  });
});

describe('typed queues on the real Redis', () => {
  it('refuse to add data outside the catalog: nothing reaches Redis', async () => {
    const queue = new TypedQueue(uniqueName('q'), catalog, { connection: connection() });
    closers.push(async () => {
      await queue.bull.obliterate({ force: true });
      await queue.close();
    });
    await expect(queue.add('add', { a: 1, b: 'two' } as unknown as { a: number; b: number })).rejects.toThrow(JobInvalid);
    await expect(queue.addBulk([{ name: 'add', data: { a: 1, b: 2 } }, { name: 'add', data: { a: 1.5, b: 2 } }])).rejects.toThrow(/a: /);
    expect(await queue.bull.getJobCounts('waiting', 'delayed')).toMatchObject({ waiting: 0, delayed: 0 });
  });

  it('give the handler validated data, and fail a job whose data does not match as poison: once, never retried, never handled', async () => {
    const name = uniqueName('q');
    const queue = new TypedQueue(name, catalog, { connection: connection() });
    const handled: { a: number; b: number }[] = [];
    const worker: Worker = createTypedWorker(name, catalog, { add: async (data) => (handled.push(data), data.a + data.b) }, { connection: connection() });
    const events = new QueueEvents(name, { connection: connection() });
    closers.push(async () => {
      await worker.close();
      await events.close();
      await queue.bull.obliterate({ force: true });
      await queue.close();
    });
    await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);

    const good = await queue.add('add', { a: 2, b: 40 });
    expect(await good.waitUntilFinished(events, 30_000)).toBe(42);
    // What a queue that skips validation (an older version, a hand-edited job) could leave in Redis.
    const bad = await queue.bull.add('add', { a: '2', b: 40 }, { attempts: 5, backoff: { type: 'fixed', delay: 1 } });
    const unknown = await queue.bull.add('subtract', { a: 2, b: 40 }, { attempts: 5 });
    await waitFor(async () => (await queue.bull.getJobCounts('failed')).failed === 2, { timeoutMs: 30_000, message: 'both poison jobs to fail' });
    for (const job of [bad, unknown]) {
      const failed = (await queue.bull.getJob(job.id!))!;
      expect(failed.attemptsMade).toBe(1);
      expect(await failed.getState()).toBe('failed');
    }
    expect((await queue.bull.getJob(bad.id!))!.failedReason).toMatch(/^job "add" on queue \S+ does not match its schema: a: /);
    expect((await queue.bull.getJob(unknown.id!))!.failedReason).toMatch(/has no job named "subtract"/);
    expect(handled).toEqual([{ a: 2, b: 40 }]);
  });
});
