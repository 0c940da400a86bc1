import type { Batch, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { backoffDelay } from '@tillstream/backoff';
import { deadLetterTopicName, errorCode, isRetriable, maskCardLikeDigits, topicName, type Envelope, type TopicSpec } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';
import { topicOffsets } from './admin.ts';
import { HEADER, decodeHeaders } from './headers.ts';
import { KafkaAccessDenied, asAccessDenied } from './security.ts';
import type { TypedProducer } from './producer.ts';

/** A record that parsed and validated against its topic's schema. */
export interface ConsumedRecord<Data> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  envelope: Envelope<Data>;
  /** The record value exactly as consumed (dead-lettering keeps bytes unchanged). */
  value: Buffer;
}

export interface BatchContext {
  topic: string;
  partition: number;
  /**
   * The offset to resume from once this batch is done (last offset + 1).
   * Handlers that keep effects in PostgreSQL store it in the same database
   * transaction as the effects; see `storedOffset`.
   */
  nextOffset: string;
  logger: Logger;
  heartbeat(): Promise<void>;
}

export type BatchHandler<Data> = (records: ConsumedRecord<Data>[], ctx: BatchContext) => Promise<void>;

/** What to do with a failed batch: try it again later, or set the record aside. */
export type FailureAction = 'retry' | 'dead-letter';

export interface ConsumerRunnerOptions<Data> {
  kafka: Kafka;
  logger: Logger;
  /** The Kafka principal it consumes as, named when the broker refuses it. */
  principal?: string | undefined;
  groupId: string;
  spec: TopicSpec<Data>;
  topicPrefix?: string;
  /** Writes poison records to the topic's dead-letter topic. */
  deadLetterProducer: TypedProducer;
  handleBatch: BatchHandler<Data>;
  /**
   * The next offset to process as stored by the handler itself, or undefined
   * if none (then: the start of the log). When set, it is the truth: records
   * below it are skipped, and if Kafka's committed offset is ahead of it the
   * consumer seeks back. Effects and offsets live in one database
   * transaction; Kafka's own committed offset is only a hint of where to fetch from.
   */
  storedOffset?: (topic: string, partition: number) => Promise<string | undefined>;
  /**
   * Decides retry versus dead-letter for a handler error. Default: the
   * error's `retriable` flag (TillstreamError, kafkajs and classified driver
   * errors carry one); an error without a flag is retried
   * `unflaggedAttempts` times, then dead-lettered.
   */
  classify?: (err: unknown) => FailureAction | undefined;
  /** Attempts for errors without a `retriable` flag; default 3. */
  unflaggedAttempts?: number;
  /** Backoff between retries: doubles from initialMs up to maxMs; default 200 ms to 30 s. */
  retryBackoff?: { initialMs: number; maxMs: number };
  /**
   * Called after a record was dead-lettered, with the offset to resume from
   * and what was dead-lettered. Handlers that keep offsets in PostgreSQL
   * store it here (with the record's quarantine entry, in one transaction),
   * so a restart does not read (and dead-letter) the same poison again.
   * Retried until it succeeds: the partition waits meanwhile.
   */
  onDeadLettered?: (deadLetter: DeadLetter) => Promise<void>;
  /**
   * Called after a record replayed for another consumer group (header
   * `tillstream-replay-for`) was skipped, with the offset to resume from:
   * handlers that keep offsets store it, as for a dead letter.
   */
  onSkipped?: (position: { topic: string; partition: number; nextOffset: string }) => Promise<void>;
  /** Records handed to one handler call at most; default 500. */
  maxBatchSize?: number;
  /**
   * How long the broker waits for a silent member before it hands its
   * partitions to others; default 10 s (the broker's minimum is 6 s). A
   * member that crashed holds its partitions, and a restarted one waits to
   * join, for up to this long; heartbeats continue while a handler retries.
   */
  sessionTimeoutMs?: number;
  /** Where a group without committed offsets starts; default the beginning, so nothing is ever skipped. */
  fromBeginning?: boolean;
}

/** A record set aside on its topic's dead-letter topic. */
export interface DeadLetter {
  /** The topic (as deployed) and position of the record. */
  topic: string;
  partition: number;
  offset: string;
  /** Where the partition resumes (offset + 1). */
  nextOffset: string;
  key: string | null;
  /** The record's bytes, unchanged (null for a record without a value). */
  value: Buffer | null;
  /** The headers written to the dead-letter topic: the record's own and the error's. */
  headers: Record<string, string>;
  code: string;
  message: string;
}

interface Failure {
  code: string;
  message: string;
  retriable: boolean;
}

/** Records decoded between two yields to the event loop (see processBatch). */
const DECODE_SLICE = 200;

/** What a batch's handling needs of its kafkajs batch; `generation` is the runner's count of joins when the batch began. */
interface BatchLink {
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isLive(): boolean;
  generation: number;
}

class Stopping extends Error {
  constructor() {
    super('consumer is stopping');
  }
}

/**
 * Runs one consumer group over one topic with Tillstream's error policy:
 * - a record that is not JSON or does not match the schema goes to the
 *   dead-letter topic with the error in headers, and the partition moves on;
 * - a handler error that is retriable (database down, broker hiccup) is
 *   retried with capped exponential backoff, forever, without committing;
 * - a handler error that is not retriable is narrowed down to the record that
 *   causes it (the batch is retried a record at a time) and that record alone
 *   is dead-lettered.
 * Poison never blocks a partition; a transient fault never skips a record.
 */
export class ConsumerRunner<Data> {
  readonly consumer: Consumer;
  readonly topic: string;
  private readonly logger: Logger;
  private stopping = false;
  private readonly wakers = new Set<() => void>();
  /** Next offset per partition as stored by the handler (when `storedOffset` is used). */
  private readonly resumeAt = new Map<number, bigint>();
  /** Records behind the end of each partition, as of the last batch handled. */
  private readonly lagOf = new Map<number, number>();
  /** Partitions this member already sought back on since it joined. */
  private readonly sought = new Set<number>();
  /**
   * The chunk being handled per partition. With offsets stored by the
   * handler, a fetch's last chunk is still being booked when its batch
   * returns to kafkajs, so the next fetch (and its decoding) runs meanwhile
   * instead of after it; the next batch's first chunk waits for it.
   */
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Counts group joins: a chunk handed over before the last join does not set where a partition resumes. */
  private generation = 0;
  /** consumer.run() returned: the group exists, so the topic can be paused. */
  private running = false;

  constructor(private readonly options: ConsumerRunnerOptions<Data>) {
    this.topic = topicName(options.topicPrefix ?? '', options.spec);
    this.logger = options.logger.child({ component: 'consumer', group: options.groupId, topic: this.topic });
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      // A handler may spend a while retrying a database; heartbeats keep the
      // membership alive meanwhile, so the session timeout can stay short.
      sessionTimeout: options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: Math.min(3_000, Math.floor((options.sessionTimeoutMs ?? 10_000) / 3)),
      // Also how long kafkajs' fetcher sleeps when its only partition is busy
      // in the handler (consumerGroup.js: "if (!requests.length) await
      // sleep(this.maxWaitTime)"): it bounds the delay a record waits after a
      // batch, so it is short. Idle, this is one fetch every 50 ms.
      maxWaitTimeInMs: 50,
      // Catching up, a fetch should carry a whole handler batch (thousands of
      // ~1 KB records), not kafkajs' default 1 MB per partition.
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
    });
    // A rebalance can hand a partition to us whose stored offset moved on another member.
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.generation++;
      this.resumeAt.clear();
      this.lagOf.clear();
      this.sought.clear();
      // Kafka's committed offset may be anywhere (even at the end, with nothing to fetch): start where the handler's store says.
      const assigned = (event.payload.memberAssignment as Record<string, number[] | undefined>)[this.topic] ?? [];
      if (options.storedOffset) for (const partition of assigned) void this.seekToStored(partition);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const denied = asAccessDenied(event.payload.error, options.principal, `consuming ${this.topic} in group ${options.groupId}`);
      if (denied instanceof KafkaAccessDenied) {
        // kafkajs does not restart on a refusal; say why once, plainly, and keep it for /readyz.
        this.denial ??= denied;
        this.logger.error({ code: denied.code, refusal: denied.refusal.type, principal: options.principal }, denied.message);
        return;
      }
      this.logger.error({ err: event.payload.error, restart: event.payload.restart }, 'consumer crashed');
    });
  }

  /** Set when the broker refused this consumer's principal (no ACL for its topic or group, bad credentials): it no longer consumes. */
  get denied(): KafkaAccessDenied | undefined {
    return this.denial;
  }

  private denial: KafkaAccessDenied | undefined;

  async start(): Promise<void> {
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topic: this.topic, fromBeginning: this.options.fromBeginning ?? true });
    } catch (err) {
      throw asAccessDenied(err, this.options.principal, `subscribing to ${this.topic}`);
    }
    await this.consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: true,
      // With offsets kept by the handler, Kafka's copy is only a fetch hint: no commit from
      // commitOffsetsIfNecessary below more often than every few seconds. (kafkajs still commits the
      // resolved offsets after each batch returns, runner.js autoCommitOffsets: pipelined, that is
      // ahead of the handler's store by the chunk in hand.)
      ...(this.options.storedOffset ? { autoCommitInterval: 5000 } : {}),
      partitionsConsumedConcurrently: 3,
      eachBatch: async (payload) => {
        try {
          await this.processBatch(payload.batch, {
            resolveOffset: (offset) => payload.resolveOffset(offset),
            heartbeat: () => payload.heartbeat(),
            isLive: () => payload.isRunning() && !payload.isStale(),
            generation: this.generation,
          });
          await payload.commitOffsetsIfNecessary();
        } catch (err) {
          if (err instanceof Stopping) return;
          throw err;
        }
      },
    });
    this.running = true;
    this.logger.info('consumer started');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.wakers) wake();
    // No more fetches while the chunks in hand finish: each would be dropped (Stopping) and fetched again.
    if (this.running) {
      this.running = false;
      this.consumer.pause([{ topic: this.topic }]);
    }
    // A chunk handed over by a batch that already returned is finished (or given up at its next retry), not cut off.
    await Promise.all([...this.inFlight.values()].map((chunk) => chunk.catch(() => undefined)));
    await this.consumer.disconnect();
    this.logger.info('consumer stopped');
  }

  private async processBatch(
    batch: Batch,
    kafka: BatchLink,
  ): Promise<void> {
    const { partition } = batch;
    const first = batch.messages[0];
    if (!first) return;
    if (this.stopping || !kafka.isLive()) throw new Stopping(); // e.g. fetched before a seek took effect
    // Pipelined only where the handler stores offsets with its effects: there, a chunk that fails after its
    // batch returned is fetched again from the stored offset, and Kafka's commit running ahead is only a hint.
    const pipelined = this.options.storedOffset !== undefined;
    // Where to resume is known once the last fetch's chunk is booked (after a join, it comes from the store).
    if (!this.resumeAt.has(partition)) await this.settled(partition);
    const resumeAt = await this.resumeOffset(partition, BigInt(first.offset), kafka);
    if (resumeAt === 'seeking') throw new Stopping();
    const maxBatch = this.options.maxBatchSize ?? 500;
    let pending: ConsumedRecord<Data>[] = [];
    // The chunk being handled (perhaps the last fetch's). Chunks are handled one at a time and in order, but the
    // next one is decoded meanwhile: while the handler waits on its database, this thread parses and validates.
    let handling: Promise<void> = this.inFlight.get(partition) ?? Promise.resolve();

    /** Waits for the chunk being handled, then hands over what is pending (without waiting for it). */
    const flush = async () => {
      await handling;
      if (pending.length === 0) return;
      // Stopped or sought while the last chunk was in hand: this one is fetched again, never handed over half-known.
      if (this.stopping || !kafka.isLive()) throw new Stopping();
      const chunk = pending;
      pending = [];
      const last = chunk[chunk.length - 1]!;
      // Behind this chunk: what its handler (and holdWhile) sees as the lag, not the last fetch's.
      const behind = BigInt(batch.highWatermark) - BigInt(last.offset) - 1n;
      // Pipelined, kafkajs may fetch past the chunk at once; otherwise only once it is handled.
      if (pipelined) kafka.resolveOffset(last.offset);
      handling = (async () => {
        this.lagOf.set(partition, Math.max(0, Number(behind)));
        try {
          await this.handleWithPolicy(chunk, kafka);
        } catch (err) {
          // Given up (a seek or a join meanwhile, a stop, a fault) after kafkajs moved past it: the partition goes
          // back to the stored offset, and the chunk is fetched and booked again from there.
          // (Only in the generation that handed it over: a join seeks every partition it assigns itself.)
          if (pipelined && !this.stopping && kafka.generation === this.generation) {
            if (!(err instanceof Stopping)) this.logger.error({ err, partition, fromOffset: chunk[0]!.offset }, 'a handed-over chunk failed; resuming from the stored offset');
            this.resumeAt.delete(partition);
            void this.seekToStored(partition);
          }
          throw err;
        }
        if (!pipelined) kafka.resolveOffset(last.offset);
        this.resumeFrom(partition, BigInt(last.offset) + 1n, kafka.generation);
        // A rebalance it reports reaches kafkajs through the batch that awaits this chunk, if one does;
        // otherwise kafkajs meets it at its own next heartbeat or fetch.
        await kafka.heartbeat();
      })();
      const current = handling;
      this.inFlight.set(partition, current);
      const done = () => {
        if (this.inFlight.get(partition) === current) this.inFlight.delete(partition);
      };
      // Awaited by the next flush (perhaps the next batch's) or at the end; settled here too, so none goes unhandled.
      current.then(done, done);
    };
    /** Everything decoded so far is handled. */
    const drain = async () => {
      await flush();
      await handling;
    };

    let decodedSinceYield = 0;
    for (const message of batch.messages) {
      // Decoding runs while the handler waits on its database: it yields now and then, so the handler's next
      // statement goes out as soon as the last one returns, not after a whole chunk is decoded.
      if (++decodedSinceYield === DECODE_SLICE) {
        decodedSinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (this.stopping || !kafka.isLive()) {
        await handling.catch(() => undefined); // the chunk in hand is finished (or failed), never abandoned half-way
        throw new Stopping();
      }
      if (resumeAt !== undefined && BigInt(message.offset) < resumeAt) {
        kafka.resolveOffset(message.offset);
        continue;
      }
      if (!this.isForThisGroup(message)) {
        // `tillstream dlq replay` re-produced it for the one group that dead-lettered it; this group booked the original.
        await drain();
        await this.skip(partition, message.offset, kafka.generation);
        kafka.resolveOffset(message.offset);
        continue;
      }
      const decoded = this.decode(batch.topic, partition, message);
      if ('failure' in decoded) {
        await drain();
        await this.deadLetter(batch.topic, partition, message, decoded.failure, 1, kafka.generation);
        kafka.resolveOffset(message.offset);
        continue;
      }
      pending.push(decoded.record);
      if (pending.length >= maxBatch) await flush();
    }
    // Pipelined, the last chunk is booked while kafkajs fetches the next batch; the next batch's first flush waits for it.
    if (pipelined) await flush();
    else await drain();
    this.lagOf.set(partition, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(batch.lastOffset()) - 1n)));
  }

  private isForThisGroup(message: KafkaMessage): boolean {
    const target = message.headers?.[HEADER.replayFor];
    if (target === undefined) return true;
    return (Array.isArray(target) ? target[0] : target)?.toString() === this.options.groupId;
  }

  private async skip(partition: number, offset: string, generation: number): Promise<void> {
    const nextOffset = (BigInt(offset) + 1n).toString();
    if (this.options.onSkipped) {
      const hook = this.options.onSkipped;
      await this.retryForever(() => hook({ topic: this.topic, partition, nextOffset }), 'recording the skipped offset');
    }
    this.resumeFrom(partition, BigInt(nextOffset), generation);
  }

  /** Records this member is behind the end of its partitions (as of the chunk handed to the handler last): large while catching up. */
  get lag(): number {
    let total = 0;
    for (const n of this.lagOf.values()) total += n;
    return total;
  }

  /**
   * Where this partition resumes, from the handler's stored offset (with
   * `storedOffset`): records below it are skipped. Kafka's committed offset
   * is often ahead of it (it moves when a chunk is handed over, before the
   * chunk is booked; or the handler's database was restored or rebuilt): the
   * consumer then seeks back to it ("seeking": drop this batch). With nothing
   * stored, it resumes at the start of the log.
   */
  private async resumeOffset(partition: number, firstOffset: bigint, kafka: BatchLink): Promise<bigint | undefined | 'seeking'> {
    if (!this.options.storedOffset) return undefined;
    const cached = this.resumeAt.get(partition);
    if (cached !== undefined) return cached;
    const stored = await this.retryForever(() => this.options.storedOffset!(this.topic, partition), 'loading stored offset');
    const expected = stored !== undefined ? BigInt(stored) : await this.retryForever(() => this.logStart(partition), 'reading the start of the log');
    // A seek (the join's, to the stored offset) landed meanwhile: this batch is from before it.
    if (!kafka.isLive()) return 'seeking';
    if (firstOffset > expected) {
      if (!this.sought.has(partition)) {
        this.sought.add(partition);
        this.logger.info({ partition, from: expected.toString(), fetched: firstOffset.toString() }, 'seeking back to the offset stored with the effects');
        this.consumer.seek({ topic: this.topic, partition, offset: expected.toString() });
        return 'seeking';
      }
      // Sought already and the log still starts later: retention deleted what was never processed.
      this.logger.error(
        { partition, from: expected.toString(), to: firstOffset.toString() },
        'records were deleted by retention before this consumer processed them; continuing from the oldest record left',
      );
    }
    this.resumeFrom(partition, expected, kafka.generation);
    return expected;
  }

  /**
   * Where a partition resumes after a chunk, skipped record or dead letter of
   * the batch that saw `generation`. A chunk handed over before the last join
   * (booked meanwhile, or by another member) does not set it: after a join,
   * where to resume comes from the handler's store.
   */
  private resumeFrom(partition: number, next: bigint, generation: number): void {
    if (generation === this.generation) this.resumeAt.set(partition, next);
  }

  /** The chunk this partition has in hand, if any, is finished (booked or given up). */
  private async settled(partition: number): Promise<void> {
    await this.inFlight.get(partition)?.catch(() => undefined);
  }

  private async seekToStored(partition: number): Promise<void> {
    try {
      await this.settled(partition);
      const stored = await this.retryForever(() => this.options.storedOffset!(this.topic, partition), 'loading stored offset');
      const offset = stored ?? (await this.retryForever(() => this.logStart(partition), 'reading the start of the log')).toString();
      this.sought.add(partition);
      this.consumer.seek({ topic: this.topic, partition, offset });
      this.logger.info({ partition, offset }, 'resuming from the offset stored with the effects');
    } catch (err) {
      if (!(err instanceof Stopping)) this.logger.error({ err, partition }, 'could not seek to the stored offset');
    }
  }

  private async logStart(partition: number): Promise<bigint> {
    const offsets = await topicOffsets(this.options.kafka, this.topic);
    return BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
  }

  /**
   * The envelope, when its record comes from a producer that validated it
   * with this very schema (the spec's `validatedBy`: for the POS topic,
   * ingest, which parses every transaction with PosTransactionV1 at its edge,
   * produces the parsed result, and is the only principal allowed to write
   * the topic). Such a record is checked only for its frame (schema header
   * and id, source, ids, data an object), not parsed again with the full
   * schema: that second parse was the largest share of a consumer's CPU per
   * record (BENCHMARKS.md, issue 19). A record without the schema header (not
   * written by a TypedProducer), from any other source, or re-produced by
   * `tillstream dlq replay` (it failed once) gets the full schema, and
   * poison goes to the dead-letter topic as before. Undefined: validate fully.
   */
  private validatedFrame(message: KafkaMessage, json: unknown): Envelope<Data> | undefined {
    const { spec } = this.options;
    if (!spec.validatedBy || message.headers?.[HEADER.replayFor] !== undefined) return undefined;
    const schema = message.headers?.[HEADER.schema];
    if (schema === undefined || (Array.isArray(schema) ? schema[0] : schema)?.toString() !== spec.schemaId) return undefined;
    if (typeof json !== 'object' || json === null) return undefined;
    const envelope = json as Record<string, unknown>;
    const { data } = envelope;
    const framed =
      envelope.schema === spec.schemaId &&
      typeof envelope.source === 'string' &&
      spec.validatedBy.includes(envelope.source) &&
      typeof envelope.eventId === 'string' &&
      typeof envelope.storeId === 'string' &&
      typeof envelope.producedAt === 'string' &&
      typeof data === 'object' &&
      data !== null &&
      !Array.isArray(data);
    return framed ? (envelope as unknown as Envelope<Data>) : undefined;
  }

  private decode(
    topic: string,
    partition: number,
    message: KafkaMessage,
  ): { record: ConsumedRecord<Data> } | { failure: Failure } {
    if (!message.value) {
      return { failure: { code: 'RECORD_EMPTY', message: 'record has no value', retriable: false } };
    }
    let json: unknown;
    try {
      json = JSON.parse(message.value.toString('utf8'));
    } catch {
      return { failure: { code: 'RECORD_NOT_JSON', message: 'record value is not JSON', retriable: false } };
    }
    const trusted = this.validatedFrame(message, json);
    if (trusted) {
      return {
        record: { topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, headers: decodeHeaders(message.headers), envelope: trusted, value: message.value },
      };
    }
    const parsed = this.options.spec.envelope.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      return {
        failure: { code: 'EVENT_INVALID', message: `does not match ${this.options.spec.schemaId}: ${issues.join('; ')}`, retriable: false },
      };
    }
    return {
      record: {
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString('utf8') ?? null,
        headers: decodeHeaders(message.headers),
        envelope: parsed.data,
        value: message.value,
      },
    };
  }

  private classify(err: unknown, attempt: number): FailureAction {
    const decided = this.options.classify?.(err);
    if (decided) return decided;
    const flag = isRetriable(err);
    if (flag !== undefined) return flag ? 'retry' : 'dead-letter';
    return attempt < (this.options.unflaggedAttempts ?? 3) ? 'retry' : 'dead-letter';
  }

  /**
   * Runs the handler on `chunk` until it succeeds, retrying what is
   * transient; what is not is narrowed to single records and dead-lettered.
   */
  private async handleWithPolicy(
    chunk: ConsumedRecord<Data>[],
    kafka: BatchLink,
  ): Promise<void> {
    const first = chunk[0]!;
    const last = chunk[chunk.length - 1]!;
    const ctx: BatchContext = {
      topic: first.topic,
      partition: first.partition,
      nextOffset: (BigInt(last.offset) + 1n).toString(),
      logger: this.logger.child({ partition: first.partition }),
      heartbeat: () => kafka.heartbeat(),
    };
    for (let attempt = 1; ; attempt++) {
      if (this.stopping || !kafka.isLive()) throw new Stopping();
      try {
        await this.options.handleBatch(chunk, ctx);
        return;
      } catch (err) {
        const action = this.classify(err, attempt);
        if (action === 'retry') {
          const delay = this.backoff(attempt);
          ctx.logger.warn({ err, attempt, delayMs: delay, fromOffset: first.offset }, 'handler failed; retrying');
          await this.sleep(delay);
          await kafka.heartbeat().catch(() => undefined);
          continue;
        }
        if (chunk.length > 1) {
          ctx.logger.warn({ err, records: chunk.length }, 'handler rejected a batch; retrying record by record to find the poison');
          for (const record of chunk) await this.handleWithPolicy([record], kafka);
          return;
        }
        await this.deadLetterRecord(first, {
          code: errorCode(err) ?? 'HANDLER_FAILED',
          message: (err as Error)?.message ?? String(err),
          retriable: false,
        }, attempt, kafka.generation);
        return;
      }
    }
  }

  private backoff(attempt: number): number {
    // Jittered, so restarted members do not retry in lockstep.
    return backoffDelay(attempt, this.options.retryBackoff ?? { initialMs: 200, maxMs: 30_000 });
  }

  private sleep(ms: number): Promise<void> {
    // Stopping already: stop() woke the sleepers it knew, and this one would hold it up for a whole backoff.
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  private async retryForever<T>(fn: () => Promise<T>, what: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.stopping) throw new Stopping();
      try {
        return await fn();
      } catch (err) {
        const delay = this.backoff(attempt);
        this.logger.warn({ err, attempt, delayMs: delay }, `${what} failed; retrying`);
        await this.sleep(delay);
      }
    }
  }

  private deadLetterRecord(record: ConsumedRecord<Data>, failure: Failure, attempts: number, generation: number): Promise<void> {
    const message: KafkaMessage = {
      key: record.key === null ? null : Buffer.from(record.key),
      value: record.value,
      headers: record.headers,
      offset: record.offset,
      timestamp: '',
      attributes: 0,
    };
    return this.deadLetter(record.topic, record.partition, message, failure, attempts, generation);
  }

  private async deadLetter(topic: string, partition: number, message: KafkaMessage, failure: Failure, attempts: number, generation: number): Promise<void> {
    const dlq = deadLetterTopicName(topic);
    const headers = {
      ...decodeHeaders(message.headers),
      [HEADER.errorCode]: failure.code,
      // Error texts come from schemas and handlers, but a database error may quote a value: card-like digit runs are masked.
      [HEADER.errorMessage]: maskCardLikeDigits(failure.message).slice(0, 1000),
      [HEADER.errorRetriable]: String(failure.retriable),
      [HEADER.originalTopic]: topic,
      [HEADER.originalPartition]: String(partition),
      [HEADER.originalOffset]: message.offset,
      [HEADER.deadLetteredAt]: new Date().toISOString(),
      [HEADER.attempts]: String(attempts),
      [HEADER.consumerGroup]: this.options.groupId,
    };
    await this.retryForever(
      () => this.options.deadLetterProducer.sendRaw(dlq, [{ key: message.key, value: message.value, headers }]),
      'writing to the dead-letter topic',
    );
    this.logger.warn({ dlq, partition, offset: message.offset, code: failure.code }, 'record dead-lettered');
    const nextOffset = (BigInt(message.offset) + 1n).toString();
    if (this.options.onDeadLettered) {
      const hook = this.options.onDeadLettered;
      const deadLetter: DeadLetter = {
        topic: this.topic,
        partition,
        offset: message.offset,
        nextOffset,
        key: message.key?.toString('utf8') ?? null,
        value: message.value ?? null,
        headers,
        code: failure.code,
        message: failure.message,
      };
      await this.retryForever(() => hook(deadLetter), 'recording the dead-lettered offset');
    }
    this.resumeFrom(partition, BigInt(nextOffset), generation);
  }
}
