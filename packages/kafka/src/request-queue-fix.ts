import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 re-arms a timer on every broker connection every 1 ms for as
 * long as the connection lives: RequestQueue.scheduleCheckPendingRequests
 * computes `throttledUntil - Date.now()` (-1 minus the epoch when nothing is
 * throttled) and, with nothing pending, passes that negative delay to
 * setTimeout, which Node runs after 1 ms; the callback checks the empty
 * queue and schedules itself again. That is a thousand wake-ups a second per
 * connection in every service, and on Node 24 a TimeoutNegativeWarning on
 * stderr (tulios/kafkajs#1751; the fixes proposed upstream, #1755 and #1768,
 * are unmerged and kafkajs has had no release since 2.2.4).
 *
 * The fix here is the one discussed there: with nothing pending and no
 * throttle in force there is nothing to check later, so no timer is armed. A
 * request that cannot be sent at once is pushed to `pending` and schedules
 * its own check (RequestQueue.push), and a throttle schedules one for when it
 * ends, both through the original method. Applied once, when @tillstream/kafka
 * (the only importer of kafkajs) is loaded; a kafkajs without this method is
 * left alone.
 */
interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  scheduleCheckPendingRequests: (this: RequestQueueLike) => void;
}

const PATCHED = Symbol.for('tillstream.kafkajs.requestQueueFix');

export function fixRequestQueueTimer(): boolean {
  const require = createRequire(import.meta.url);
  let RequestQueue: { prototype: RequestQueueLike & { [PATCHED]?: true } };
  try {
    RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as typeof RequestQueue;
  } catch {
    return false; // another kafkajs layout: nothing to fix here
  }
  const proto = RequestQueue.prototype;
  if (proto[PATCHED] || typeof proto.scheduleCheckPendingRequests !== 'function') return Boolean(proto[PATCHED]);
  const original = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: RequestQueueLike) {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now() && !this.throttleCheckTimeoutId) return;
    original.call(this);
  };
  proto[PATCHED] = true;
  return true;
}

fixRequestQueueTimer();
