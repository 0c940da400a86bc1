import { Redis, type RedisOptions } from 'ioredis';

export { Redis, type RedisOptions };

/**
 * What a connection is for; each purpose has its own defaults (below), so
 * two connections made for the same thing never differ by accident.
 */
export type RedisPurpose = 'worker' | 'queue' | 'command' | 'probe';

const DEFAULTS: Record<RedisPurpose, RedisOptions> = {
  // A BullMQ Worker (or QueueEvents) blocks on its connection; BullMQ requires
  // maxRetriesPerRequest: null so a blocking command is never cut short by a
  // retry count. The offline queue stays on: while Redis is away the worker
  // waits for it to come back, which is all a worker can do.
  worker: { maxRetriesPerRequest: null },
  // A producer's connection fails fast while Redis is away (no offline queue):
  // an enqueue then fails at once instead of waiting for ever, and whatever
  // the job was for is still in PostgreSQL (Redis is a trigger, not the truth).
  queue: { maxRetriesPerRequest: null, enableOfflineQueue: false },
  // One-off commands (ACL setup, cleanup, a test's assertions): a command
  // fails after one retry rather than hanging while Redis is away.
  command: { maxRetriesPerRequest: 1 },
  // A single attempt to find something out (does Redis take this login?):
  // no reconnection, no retries, no queueing.
  probe: { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null },
};

/**
 * The one Redis connection factory. `url` is redis:// or rediss://;
 * `options` (an ACL user's login, TLS, a timeout) override the purpose's
 * defaults. The caller owns the connection: it listens for 'error' and
 * disconnects it.
 */
export function createRedis(url: string, purpose: RedisPurpose, options: RedisOptions = {}): Redis {
  return new Redis(url, { ...DEFAULTS[purpose], ...options });
}
