import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '@tillstream/backoff';
import type { AnyTopicSpec } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';
import type { OutgoingEvent, TypedProducer } from './producer.ts';

/** An event to publish: its data, or (from a `validated` source) its data as JSON with its record key. */
export type OutboxItem = {
  id: string;
  /** The topic's base name (its spec's `name`). */
  topic: string;
} & ({ data: unknown } | { dataJson: string; key: string });

/**
 * Where the publisher reads events from: an event table (packages/db's
 * outboxStore), or state rows that carry their own "published up to"
 * revision (the trends service's windows, coalescing restatements).
 */
export interface OutboxSource {
  /**
   * Unpublished items, oldest first: about `limit` (a source may return more to keep a group whole).
   * With `after` (an item it returned), those that follow it: the publisher reads a backlog's next
   * round while the last one is on its way, before that one is acknowledged. An item that commits
   * behind `after` is found by the next read from the start.
   */
  read(limit: number, after?: OutboxItem): Promise<OutboxItem[]>;
  /** The broker acknowledged these items. */
  acknowledge(items: OutboxItem[]): Promise<void>;
  /** How many items wait (for a metric). */
  backlog(): Promise<number>;
  /** Items per round for this source, instead of the publisher's `batchSize`. */
  batchSize?: number;
  /**
   * The source builds every event itself from typed, constrained columns
   * (no outside input), and its tests parse what it builds with the topic's
   * schema: the producer does not validate each one again on send (the
   * envelope is the producer's own). Default false: validated.
   */
  validated?: boolean;
  /**
   * While the publisher holds (`holdWhile`, a catch-up), the items no later
   * batch is expected to restate (e.g. windows event time has moved well
   * past): published meanwhile, so the held backlog is small when the hold
   * ends. A restatement after all is published again, as always.
   */
  readWhileHeld?(limit: number, after?: OutboxItem): Promise<OutboxItem[]>;
}

export interface OutboxPublisherOptions {
  sources: readonly OutboxSource[];
  producer: TypedProducer;
  logger: Logger;
  storeId: string;
  /** The topics this outbox holds events for, by their spec `name`. */
  specs: readonly AnyTopicSpec[];
  /** Events per round; default 1000. */
  batchSize?: number;
  /** How often an idle publisher looks for events nobody woke it for; default 1000 ms. */
  pollMs?: number;
  /** Pause after publishing something, so the next produce carries more; default 50 ms. */
  lingerMs?: number;
  /**
   * While this says so, publish nothing (e.g. while the service catches up
   * on a backlog: state restated by every batch is then published once, at
   * the end, instead of after every batch). Sources with `readWhileHeld`
   * still publish what they say is final.
   */
  holdWhile?: () => boolean;
}

/**
 * Publishes a transactional outbox to Kafka, oldest first, then deletes what
 * the broker acknowledged. A crash between the two re-publishes: at least
 * once, in order per topic (compacted topics keep the latest; events carry
 * their own ids). Events are validated against their topic's schema on send
 * (unless their source builds them from its own typed columns: `validated`).
 * One publisher per outbox (per service and store database).
 */
export class OutboxPublisher {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** Aborted by stop(): a linger in progress ends at once (what it waited for is published at the next start). */
  private stopping = new AbortController();
  private pending = false;
  private readonly specs: Map<string, AnyTopicSpec>;
  /** Per source: its next round, read while the last went to the broker, and the last acknowledgement in flight. */
  private readonly pipelines = new Map<OutboxSource, { ahead?: { held: boolean; items: Promise<OutboxItem[]> } | undefined; acknowledging?: Promise<void> }>();

  constructor(private readonly options: OutboxPublisherOptions) {
    this.specs = new Map(options.specs.map((s) => [s.name, s]));
  }

  start(): void {
    this.running = true;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  /** Something was committed: publish now rather than at the next poll. */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      const held = this.options.holdWhile?.() ?? false;
      if (held && !this.options.sources.some((s) => s.readWhileHeld !== undefined)) {
        await this.settle(); // what was read ahead would be stale when the hold ends
        await this.idle(this.options.pollMs ?? 1000);
        continue;
      }
      try {
        const { published, full } = await this.publishRound(held);
        failures = 0;
        // A backlog (some source filled a whole round) goes out back to back; otherwise let a few
        // more commits gather so the next produce carries more.
        if (full) continue;
        if (published > 0) {
          await sleep(this.options.lingerMs ?? 50, undefined, { signal: this.stopping.signal }).catch(() => undefined);
          continue;
        }
      } catch (err) {
        await this.settle(); // the next attempt reads from the start
        failures++;
        const delay = backoffDelay(failures, { initialMs: 500, maxMs: 30_000 });
        this.options.logger.warn({ err, delayMs: delay }, 'publishing the outbox failed; will retry');
        await this.idle(delay);
        continue;
      }
      await this.idle(this.options.pollMs ?? 1000);
    }
    await this.settle();
  }

  private idle(ms: number): Promise<void> {
    if (this.pending || !this.running) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  /**
   * Publishes one slice of each source (while held, only what sources say is final): how many events,
   * and whether a source had more waiting.
   *
   * A backlog is pipelined: while a round goes to the broker, the source's next round (the items after
   * it) is read, and the round before is acknowledged. Rounds still go to the broker one after the
   * other, in order, and each is acknowledged only once the broker has it. A round that is not full
   * ends the sweep: the next one reads from the start, once every acknowledgement is recorded.
   */
  private async publishRound(held: boolean): Promise<{ published: number; full: boolean }> {
    let published = 0;
    let full = false;
    for (const source of this.options.sources) {
      if (held && !source.readWhileHeld) continue;
      const batchSize = source.batchSize ?? this.options.batchSize ?? 1000;
      const readFrom = (after?: OutboxItem) => (held ? source.readWhileHeld!(batchSize, after) : source.read(batchSize, after));
      const state = this.pipelines.get(source) ?? {};
      this.pipelines.set(source, state);
      const ahead = state.ahead?.held === held ? state.ahead.items : undefined;
      state.ahead = undefined;
      let rows: OutboxItem[];
      if (ahead) rows = await ahead;
      else {
        await state.acknowledging; // a read from the start must not find what is being acknowledged
        rows = await readFrom();
      }
      const more = rows.length >= batchSize;
      if (more) {
        full = true;
        const items = readFrom(rows[rows.length - 1]);
        items.catch(() => undefined); // awaited by the next round, or dropped by settle()
        state.ahead = { held, items };
      }
      if (rows.length === 0) continue;
      const byTopic = new Map<string, OutgoingEvent<unknown>[]>();
      const storeId = this.options.storeId;
      for (const row of rows) {
        if (!this.specs.has(row.topic)) throw new Error(`outbox holds an event for ${row.topic}, which this publisher does not know`);
        let events = byTopic.get(row.topic);
        if (!events) byTopic.set(row.topic, (events = []));
        events.push('data' in row ? { storeId, data: row.data } : { storeId, dataJson: row.dataJson, key: row.key });
      }
      // One request in flight per producer: topics go one after the other, each in order.
      for (const [topic, events] of byTopic) await this.options.producer.send(this.specs.get(topic)!, events, { dataValidated: source.validated === true });
      await state.acknowledging;
      const acknowledging = source.acknowledge(rows);
      state.acknowledging = acknowledging;
      if (more) acknowledging.catch(() => undefined); // awaited by the next round, or by settle()
      else await acknowledging;
      published += rows.length;
    }
    return { published, full };
  }

  /**
   * Waits for every read ahead and acknowledgement in flight, and forgets them (after a failure, a
   * hold, or when stopping). An acknowledgement that failed is logged: its items stay unpublished in
   * the source and go out again (at least once).
   */
  private async settle(): Promise<void> {
    if (this.pipelines.size === 0) return;
    const acknowledging = [...this.pipelines.values()].flatMap((p) => (p.acknowledging ? [p.acknowledging] : []));
    const ahead = [...this.pipelines.values()].flatMap((p) => (p.ahead ? [p.ahead.items] : []));
    this.pipelines.clear();
    await Promise.allSettled(ahead);
    for (const result of await Promise.allSettled(acknowledging)) {
      if (result.status === 'rejected') this.options.logger.warn({ err: result.reason as unknown }, 'recording what the broker acknowledged failed; those events will be published again');
    }
  }
}
