import { Writable } from 'node:stream';
import type { Express } from 'express';
import type { z } from 'zod';
import { posTransactions, storeTopics, type PosTransaction, type PosTransactionInput } from '@tillstream/contracts';
import { createPool, loadConsumerOffset, type DatabaseService, type Pool } from '@tillstream/db';
import { TypedProducer, topicOffsets, type RecordReceipt } from '@tillstream/kafka';
import { listen } from '@tillstream/http';
import { createLogger, type Logger } from '@tillstream/observability';
import { bearer, kafkaServiceEnv, publishAcknowledged, testDatabase, testKafka, testTlsEnv, testTokens, waitFor, type SiteTokens, type TestDatabase, type TestKafka, type TopicRecord } from '@tillstream/testing';
import { onTestFinished } from 'vitest';
import type { ConsumerServiceEnv } from './env.ts';
import type { RunningService } from './runtime.ts';

export interface TestConsumerService<Env> {
  service: RunningService;
  url: string;
  env: Env;
  db: TestDatabase;
  kafka: TestKafka;
  /** The POS topic. */
  topic: string;
  groupId: string;
  /** Every log line the service wrote. */
  logs: string[];
  /** Produces transactions straight to the POS topic and records them in the ingest journal, as ingest would (validated). */
  publish(txs: PosTransactionInput[]): Promise<RecordReceipt[]>;
  /** Resolves once the service has booked everything on the POS topic. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** The store's people (see testTokens): get and send call as its store manager unless `headers` say otherwise. */
  tokens: SiteTokens<'store'>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  send(method: 'POST' | 'PUT', path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  restart(): Promise<void>;
}

/**
 * Serves a service's createApp on a free loopback port (plain HTTP, as
 * loopback allows) until the test finishes: route tests with no broker.
 */
export async function serveTestApp(app: Express): Promise<string> {
  const http = await listen(app, '127.0.0.1', 0);
  onTestFinished(() => http.close());
  return http.url;
}

/** A pool on `db` as `service`'s own role (only its grants, as the service runs), ended when the test finishes. */
export function testServicePool(db: TestDatabase, service: DatabaseService): Pool {
  const pool = createPool({ connectionString: db.urlFor(service), logger: createLogger({ name: service, level: 'silent' }), applicationName: `${service}-test`, max: 2 });
  onTestFinished(() => pool.end());
  return pool;
}

/** The POS topic's end offset (partition 0: the topic has one). */
export async function topicEnd(kafka: TestKafka, topic: string): Promise<string> {
  return (await topicOffsets(kafka.kafka, topic)).find((o) => o.partition === 0)!.high;
}

/** The offset a service has stored with its effects (0 before its first batch). */
export async function bookedOffset(db: TestDatabase, groupId: string, topic: string): Promise<string> {
  return (await loadConsumerOffset(db.pool, { groupId, topic, partition: 0 })) ?? '0';
}

/**
 * A POS-consuming service for one test: its own database (or `db`) and topic
 * prefix (or `kafka`'s), listening on a free port; stopped when the test finishes.
 */
export async function testConsumerService<Env extends ConsumerServiceEnv>(options: {
  /** The service: it connects with its own database role. */
  name: 'inventory' | 'trends';
  schema: z.ZodType<Env>;
  start: (env: Env, options: { logger: Logger }) => Promise<RunningService>;
  overrides?: Record<string, string>;
  db?: TestDatabase;
  kafka?: TestKafka;
}): Promise<TestConsumerService<Env>> {
  const db = options.db ?? (await testDatabase({ target: 'store' }));
  const kafka = options.kafka ?? (await testKafka({ specs: storeTopics }));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ name: options.name, level: 'debug', destination });
  const env = options.schema.parse({
    STORE_ID: 'S001',
    TOPIC_PREFIX: kafka.prefix,
    ...kafkaServiceEnv(options.name),
    DATABASE_URL: db.urlFor(options.name),
    PORT: '0',
    ...testTlsEnv(),
    ...options.overrides,
  });
  const producer = new TypedProducer({ kafka: kafka.kafka, logger: kafka.logger, source: 'test', topicPrefix: kafka.prefix });
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  const tokens = await testTokens(db.pool, 'store');
  const manager = bearer(tokens['store-manager']);
  let service = await options.start(env, { logger });
  const topic = `${kafka.prefix}${posTransactions.name}`;
  const groupId = env.CONSUMER_GROUP ?? `${kafka.prefix}${options.name}`;
  const fixture: TestConsumerService<Env> = {
    service,
    url: service.url,
    env,
    db,
    kafka,
    topic,
    groupId,
    logs,
    // The journal is what terminals were told: the day manifest is built from it (a retried copy keeps its first receipt).
    publish: (txs) => publishAcknowledged(producer, db.pool, txs),
    caughtUp: async (timeoutMs = 20_000) => {
      const end = await topicEnd(kafka, topic);
      await waitFor(async () => (await bookedOffset(db, groupId, topic)) === end, { timeoutMs, message: `${options.name} to book up to offset ${end}` });
    },
    tokens,
    get: (path, headers = {}) => fetch(`${fixture.url}${path}`, { headers: { ...manager, ...headers } }),
    send: (method, path, body, headers = {}) =>
      fetch(`${fixture.url}${path}`, { method, headers: { 'content-type': 'application/json', ...manager, ...headers }, body: JSON.stringify(body) }),
    restart: async () => {
      await service.stop();
      service = await options.start({ ...env, PORT: Number(new URL(fixture.url).port) }, { logger });
      fixture.service = service;
    },
  };
  onTestFinished(() => fixture.service.stop());
  return fixture;
}

/**
 * The transactions on a POS topic that count, by the plain rules, for
 * independent checks of a service's state: each transactionId once (its
 * first copy); SALE and RETURN only, not in training mode; none that a
 * non-training POST_VOID anywhere on the topic cancels, whichever came first.
 */
export function countingTransactions(records: readonly TopicRecord[]): PosTransaction[] {
  const byId = new Map<string, PosTransaction>();
  for (const r of records) if (!byId.has(r.envelope.data.transactionId)) byId.set(r.envelope.data.transactionId, r.envelope.data);
  const voided = new Set<string>();
  for (const tx of byId.values()) if (tx.type === 'POST_VOID' && !tx.trainingMode && tx.original) voided.add(tx.original.transactionId);
  return [...byId.values()].filter((tx) => !tx.trainingMode && !voided.has(tx.transactionId) && (tx.type === 'SALE' || tx.type === 'RETURN'));
}
