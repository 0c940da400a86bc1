import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { fixRequestQueueTimer } from './request-queue-fix.ts';

const require = createRequire(import.meta.url);

describe("kafkajs' request queue timer (tulios/kafkajs#1751)", () => {
  it('arms no timer while nothing is pending and nothing is throttled, and still schedules a check for pending or throttled requests', () => {
    expect(fixRequestQueueTimer()).toBe(true);
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (options: object) => {
      pending: unknown[];
      throttledUntil: number;
      throttleCheckTimeoutId: NodeJS.Timeout | null;
      scheduleCheckPendingRequests(): void;
      destroy(): void;
    };
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const queue = new RequestQueue({ instrumentationEmitter: null, maxInFlightRequests: null, requestTimeout: 1000, enforceRequestTimeout: false, clientId: 'test', broker: 'localhost:1', logger, isConnected: () => true });
    try {
      // Idle: unpatched, this armed a 1 ms timer that re-armed itself forever.
      queue.scheduleCheckPendingRequests();
      expect(queue.throttleCheckTimeoutId).toBeNull();
      // Throttled by the broker: a check when the throttle ends.
      queue.throttledUntil = Date.now() + 60_000;
      queue.scheduleCheckPendingRequests();
      expect(queue.throttleCheckTimeoutId).not.toBeNull();
      clearTimeout(queue.throttleCheckTimeoutId!);
      queue.throttleCheckTimeoutId = null;
      // A request waiting for a slot: a check soon.
      queue.throttledUntil = -1;
      queue.pending.push({});
      queue.scheduleCheckPendingRequests();
      expect(queue.throttleCheckTimeoutId).not.toBeNull();
    } finally {
      if (queue.throttleCheckTimeoutId) clearTimeout(queue.throttleCheckTimeoutId);
      queue.destroy();
    }
  });
});
