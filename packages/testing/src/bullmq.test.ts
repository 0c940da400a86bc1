import { describe, expect, it } from 'vitest';
import { QueueEvents } from '@tillstream/queue';
import { testQueue, testRedis } from './fixtures.ts';

describe('BullMQ on the real Redis', () => {
  it('runs a job and returns its result to the producer', async () => {
    const { name, queue, worker } = testQueue<{ a: number; b: number }, number>({ processor: async (job) => job.data.a + job.data.b });
    const events = new QueueEvents(name, { connection: testRedis() });
    await Promise.all([events.waitUntilReady(), worker!.waitUntilReady()]);
    try {
      const job = await queue.add('sum', { a: 2, b: 40 }, { jobId: 'sum-2-40' });
      expect(await job.waitUntilFinished(events, 30_000)).toBe(42);
      // A deterministic job id makes a second add of the same work a no-op.
      const again = await queue.add('sum', { a: 2, b: 40 }, { jobId: 'sum-2-40' });
      expect(again.id).toBe('sum-2-40');
      expect(await queue.getJobCounts('completed', 'waiting')).toMatchObject({ completed: 1, waiting: 0 });
    } finally {
      await events.close();
    }
  });
});
