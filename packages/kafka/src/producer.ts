import { randomUUID } from 'node:crypto';
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { TillstreamError, topicName, type TopicSpec } from '@tillstream/contracts';
import type { Logger } from '@tillstream/observability';
import { HEADER } from './headers.ts';
import { keyPartition } from './murmur2.ts';

export interface TypedProducerOptions {
  kafka: Kafka;
  logger: Logger;
  /** Written into every envelope's `source`, e.g. "ingest". */
  source: string;
  /** Prefix of every topic name (see {@link topicName}); default none. */
  topicPrefix?: string;
  /**
   * Time the broker may take to replicate and acknowledge one produce
   * request; default 5000 ms. Callers with a tighter budget race the promise.
   */
  ackTimeoutMs?: number;
}

/** Where one produced record landed; `offset` is a decimal string, as Kafka offsets exceed 2^53 in theory. */
export interface RecordReceipt {
  topic: string;
  partition: number;
  offset: string;
}

export interface SendOptions {
  /**
   * The caller parsed every event's data with this topic's own schema just
   * before (ingest validates each transaction at the HTTP boundary, and its
   * outputs are what it sends): skip the second, identical validation. The
   * envelope fields are the producer's own. Default false.
   */
  dataValidated?: boolean;
}

interface OutgoingBase {
  storeId: string;
  /** Extra record headers (strings). */
  headers?: Record<string, string>;
}

/**
 * An event for {@link TypedProducer.send}: its data, or its data already
 * serialised by a source that builds it from typed columns (the trends
 * windows, as PostgreSQL writes them) with the record key that data has.
 */
export type OutgoingEvent<Data> = OutgoingBase &
  (
    | {
        data: Data;
        /** `JSON.stringify(data)`, when the caller has it already (with `dataValidated`): spares serialising it twice. */
        dataJson?: string;
        key?: undefined;
      }
    | {
        data?: undefined;
        /** The data as JSON. Without `dataValidated` it is parsed and validated like any other. */
        dataJson: string;
        /** `spec.key(data)`, which the producer cannot compute without parsing `dataJson`. */
        key: string;
      }
  );

/**
 * Most bytes of records in one produce request. The broker refuses a
 * partition's record batch over `message.max.bytes` (1 MiB by default) with
 * MESSAGE_TOO_LARGE, and kafkajs puts everything sent to a partition in one
 * call into one batch (uncompressed): a large send goes out as several
 * requests, in order, each well under the limit.
 */
export const MAX_REQUEST_BYTES = 768 * 1024;

/**
 * Most bytes of records in one produce request to a spec's topic, by
 * requestSized's estimate (which counts keys and headers generously): three
 * quarters of its `max.message.bytes` where the spec raises it (the same
 * margin as MAX_REQUEST_BYTES under the broker's 1 MiB), else
 * MAX_REQUEST_BYTES. The idempotent producer has one request in flight, so a
 * topic that takes a publisher's whole stream (sales.aggregates.v1, one
 * partition) is produced to in fewer, larger requests.
 */
export function requestBytesFor(spec: Pick<TopicSpec, 'config'>): number {
  const topicMax = Number(spec.config?.['max.message.bytes']);
  return Number.isFinite(topicMax) && topicMax > 0 ? Math.floor((topicMax * 3) / 4) : MAX_REQUEST_BYTES;
}

const length = (v: Buffer | string | null | undefined): number => (v == null ? 0 : v.length);

/**
 * Bytes of a record on the wire (framing approximated), never fewer than it takes. Keys and headers are
 * short: counted at 3 bytes per UTF-16 unit (UTF-8's most), as is a string value unless `exact`. The
 * producer's own values are Buffers, sized exactly for free.
 */
function messageBytes(m: Message, exact: boolean): number {
  const bound = (v: Buffer | string | null | undefined) => (typeof v === 'string' ? 3 * v.length : length(v));
  const value = m.value;
  let bytes = 64 + bound(m.key) + (exact && typeof value === 'string' ? Buffer.byteLength(value) : bound(value)); // 64: record framing, varints, timestamp
  for (const name in m.headers) {
    const v = m.headers[name];
    bytes += 8 + 3 * name.length + (Array.isArray(v) ? v.reduce<number>((n, one) => n + bound(one), 0) : bound(v));
  }
  return bytes;
}

/** Splits messages into consecutive runs of at most MAX_REQUEST_BYTES (a lone larger message is its own run, and the broker's error is reported). */
export function requestSized(messages: Message[], limit = MAX_REQUEST_BYTES): Message[][] {
  // Fast path (every send of the selling path): the cheap upper bound fits.
  let upperBound = 0;
  for (const m of messages) upperBound += messageBytes(m, false);
  if (upperBound <= limit) return [messages];
  const chunks: Message[][] = [];
  let chunk: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = messageBytes(m, true);
    if (chunk.length > 0 && bytes + size > limit) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/**
 * The producer every Tillstream service writes with.
 *
 * - Idempotent with acks=all: a retried produce never duplicates a record in
 *   the log, and a receipt means every in-sync replica has it.
 * - One request in flight: kafkajs' idempotent producer only guarantees
 *   ordering and de-duplication with a single in-flight request; callers that
 *   need throughput batch many records into one send (ingest's group commit).
 * - Validates every envelope against the topic's schema before anything is
 *   sent: a bad event fails the whole call and nothing is written.
 */
export class TypedProducer {
  readonly producer: Producer;
  private readonly logger: Logger;
  /** Topics whose broker refused a request of their spec's size (sendRaw): produced to in MAX_REQUEST_BYTES requests. */
  private readonly smaller = new Set<string>();

  constructor(private readonly options: TypedProducerOptions) {
    this.logger = options.logger.child({ component: 'producer' });
    this.producer = options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Bounded retries (kafkajs warns this "may invalidate EoS"): a send that
      // gives up may in fact have been written, and the caller's retry then
      // writes a second copy. Tillstream accepts that by design: every record
      // carries its own idempotency key (transactionId) and consumers
      // de-duplicate on it in PostgreSQL. Unbounded retries would instead
      // hang callers for as long as the broker is down.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
      // Writes the partition chosen on each message (kafkajs' own field; same
      // murmur2 as the Java client), so a receipt can give each record its own
      // offset. (A WeakMap from message to partition cost 0.4 us a record.)
      createPartitioner: () => {
        const inner = Partitioners.DefaultPartitioner();
        return (args) => {
          // A keyed record: the same murmur2 partition as kafkajs', in int32 arithmetic (murmur2.ts).
          const { message } = args;
          const partition = message.partition == null && message.key != null ? keyPartition(message.key, args.partitionMetadata.length) : inner(args);
          message.partition = partition;
          return partition;
        };
      },
    });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /** Full topic name of a spec under this producer's prefix. */
  topic(spec: Pick<TopicSpec, 'name'>): string {
    return topicName(this.options.topicPrefix ?? '', spec);
  }

  /**
   * Wraps each event in an envelope, validates it, produces all of them (in
   * one request, or several in order when they exceed MAX_REQUEST_BYTES) and
   * returns one receipt per event, in order.
   */
  async send<Data>(spec: TopicSpec<Data>, events: readonly OutgoingEvent<Data>[], options: SendOptions = {}): Promise<RecordReceipt[]> {
    const producedAt = new Date().toISOString();
    // Frozen: shared by the call's records, and encoded once (record-encoding.ts).
    const headers = Object.freeze({ [HEADER.schema]: spec.schemaId, [HEADER.contentType]: 'application/json' });
    // Every envelope of a call is alike but for its eventId, storeId (one, nearly always) and data: its JSON is
    // spliced from those parts, byte for byte JSON.stringify(envelope) (the envelope's keys in schema order, data last).
    const head = `{"schema":${JSON.stringify(spec.schemaId)},"eventId":"`;
    const middles = new Map<string, string>();
    const middleOf = (storeId: string) => {
      let middle = middles.get(storeId);
      if (middle === undefined) {
        middle = `",${JSON.stringify({ storeId, source: this.options.source, producedAt }).slice(1, -1)},"data":`;
        middles.set(storeId, middle);
      }
      return middle;
    };
    const messages: Message[] = events.map((event, index) => {
      const eventHeaders: Record<string, string> = event.headers ? { ...headers, ...event.headers } : headers;
      if (options.dataValidated) {
        const dataJson = event.dataJson ?? JSON.stringify(event.data);
        const key = event.key ?? spec.key(event.data);
        return this.message(key, `${head}${randomUUID()}${middleOf(event.storeId)}${dataJson}}`, eventHeaders);
      }
      const envelope = {
        schema: spec.schemaId,
        eventId: randomUUID(),
        storeId: event.storeId,
        source: this.options.source,
        producedAt,
        data: event.data === undefined && event.dataJson !== undefined ? (JSON.parse(event.dataJson) as unknown) : event.data,
      };
      const parsed = spec.envelope.safeParse(envelope);
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        throw new TillstreamError(
          'EVENT_INVALID',
          `event ${index} does not match ${spec.schemaId}: ${first?.path.join('.') ?? ''} ${first?.message ?? ''}`.trim(),
          { cause: parsed.error },
        );
      }
      return this.message(spec.key(parsed.data.data), JSON.stringify(parsed.data), eventHeaders);
    });
    return this.sendRaw(this.topic(spec), messages, requestBytesFor(spec));
  }

  /** A record: its value encoded once, here (its exact size is then known to requestSized and to the record encoder). */
  private message(key: string, value: string, headers: Record<string, string>): Message {
    return { key, value: Buffer.from(value, 'utf8'), headers };
  }

  /**
   * Produces records as they are (bytes unchanged): dead-lettering and replay.
   * Returns one receipt per message, in order.
   */
  async sendRaw(topic: string, messages: Message[], requestBytes = MAX_REQUEST_BYTES): Promise<RecordReceipt[]> {
    const receipts: RecordReceipt[] = [];
    const limit = this.smaller.has(topic) ? MAX_REQUEST_BYTES : requestBytes;
    const chunks = requestSized(messages, limit);
    for (let i = 0; i < chunks.length; i++) {
      try {
        receipts.push(...(await this.produce(topic, chunks[i]!)));
      } catch (err) {
        // The topic on the broker has not been given its spec's larger max.message.bytes yet (`tillstream kafka
        // provision` reconciles it). A request that held one partition's batch was refused whole, and kafkajs took
        // its sequence numbers back: this chunk and the rest go in requests of the broker's default size, and so does
        // every later send to the topic. A request across partitions may have been written in part, and kafkajs
        // takes back every partition's sequence numbers all the same (a resend would be out of order): that error
        // stands, and the caller retries as after any failed send.
        if (!isMessageTooLarge(err) || limit <= MAX_REQUEST_BYTES || !onePartition(chunks[i]!)) throw err;
        this.smaller.add(topic);
        this.logger.warn({ topic, requestBytes: limit, fallbackBytes: MAX_REQUEST_BYTES }, "the broker refused a request within the topic's max.message.bytes as too large: the topic lacks its spec's setting (run `tillstream kafka provision`); producing to it in smaller requests");
        for (const smaller of requestSized(chunks.slice(i).flat(), MAX_REQUEST_BYTES)) receipts.push(...(await this.produce(topic, smaller)));
        break;
      }
    }
    return receipts;
  }

  private async produce(topic: string, messages: Message[]): Promise<RecordReceipt[]> {
    if (messages.length === 0) return [];
    const metadata = await this.producer.send({
      topic,
      messages,
      acks: -1,
      timeout: this.options.ackTimeoutMs ?? 5000,
    });
    const base = new Map(metadata.map((m) => [m.partition, BigInt(m.baseOffset ?? '-1')]));
    const seen = new Map<number, bigint>();
    return messages.map((message) => {
      const partition = message.partition;
      const baseOffset = partition === undefined ? undefined : base.get(partition);
      if (partition === undefined || baseOffset === undefined || baseOffset < 0n) {
        throw new TillstreamError('PRODUCE_RECEIPT_MISSING', `broker returned no offset for a record on ${topic}`);
      }
      const rank = seen.get(partition) ?? 0n;
      seen.set(partition, rank + 1n);
      return { topic, partition, offset: (baseOffset + rank).toString() };
    });
  }
}

/** kafkajs' MESSAGE_TOO_LARGE (error code 10), as thrown or as the cause of a non-retriable error. */
function isMessageTooLarge(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e.type === 'MESSAGE_TOO_LARGE') return true;
  }
  return false;
}

/** Whether every message went to one partition (the partitioner writes it on each; producer.send puts them in one batch). */
function onePartition(messages: readonly Message[]): boolean {
  const first = messages[0]?.partition;
  return first !== undefined && messages.every((m) => m.partition === first);
}
