import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TypedQueue, createRedis, createTypedWorker } from '@tillstream/queue';

const catalog = { add: z.strictObject({ a: z.number().int() }) } as const;

/** A loopback port nothing listens on: every connect is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The first connect of each of the owner's BullMQ connections, settled (its failure swallowed here). */
async function firstConnects(owner: object): Promise<void> {
  const internals = owner as { connection?: { initializing?: Promise<unknown> }; blockingConnection?: { initializing?: Promise<unknown> } };
  for (const first of [internals.connection?.initializing, internals.blockingConnection?.initializing]) if (first) await first.catch(() => undefined);
  await new Promise((resolve) => setImmediate(resolve));
}

describe('closing while Redis is away', () => {
  it('a worker and a queue closed before their first connect failed stop cleanly: the late connection error is not an uncaught error event', async () => {
    const escaped: unknown[] = [];
    const onUncaught = (err: unknown) => escaped.push(err);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    try {
      const url = `redis://127.0.0.1:${await closedPort()}`;
      // No reconnection: the first connect fails for good, as when sync stops during an outage.
      const workerRedis = createRedis(url, 'worker', { retryStrategy: () => null });
      const queueRedis = createRedis(url, 'queue', { retryStrategy: () => null });
      for (const redis of [workerRedis, queueRedis]) redis.on('error', () => undefined);
      const worker = createTypedWorker('close-while-away', catalog, { add: () => Promise.resolve() }, { connection: workerRedis, autorun: false });
      const queue = new TypedQueue('close-while-away', catalog, { connection: queueRedis });
      const seen: unknown[] = [];
      worker.on('error', (err) => seen.push(err));
      queue.bull.on('error', (err) => seen.push(err));
      // Closed at once: the connects are still in flight, and fail after the listeners are gone.
      await Promise.all([worker.close(true), queue.close()].map((p) => p.catch(() => undefined)));
      await firstConnects(worker);
      await firstConnects(queue.bull);
      workerRedis.disconnect();
      queueRedis.disconnect();
      expect(escaped).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    }
  });
});
