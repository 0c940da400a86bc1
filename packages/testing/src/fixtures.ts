import { onTestFinished } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PosTransactionV1, hqTopics, posTransactions, type PosTransactionInput, type TopicSettings } from '@tillstream/contracts';
import {
  createPool,
  databaseUrl,
  dropDatabase,
  ensureDatabase,
  journalEntry,
  migrate,
  recordTransactions,
  serviceDatabaseUrl,
  type DatabaseService,
  type MigrationTarget,
  type Pool,
} from '@tillstream/db';
import { localKafkaSecurity, type LocalKafkaCredentials } from '@tillstream/infra';
import {
  KAFKA_ADMIN_PRINCIPAL,
  clusterPlacement,
  createKafkaClient,
  deleteTopics,
  ensureTopics,
  grantKafkaAcls,
  revokeKafkaAcls,
  type ClusterPlacement,
  type Kafka,
  type KafkaCluster,
  type RecordReceipt,
  type TypedProducer,
} from '@tillstream/kafka';
import { createLogger, type Logger } from '@tillstream/observability';
import { Queue, Worker, createRedis, type Processor, type Redis } from '@tillstream/queue';
import { TEMPLATE_DB, operatorEnv, testEnv, testKafkaCredentials } from './env.ts';
import { uniqueName } from './names.ts';

/** Registers a cleanup; default: when the current test finishes. Pass `afterAll` for suite-wide resources. */
export type Cleanup = (fn: () => Promise<void>) => void;
const defaultCleanup: Cleanup = (fn) => onTestFinished(fn);

export function testLogger(name = 'test'): Logger {
  return createLogger({ name, level: testEnv.TEST_LOG_LEVEL });
}

/** A logger whose JSON lines (from `level` up, default info) are kept in `lines`, for a test to read what was logged. */
export function capturingLogger(name: string, level: 'debug' | 'info' | 'warn' = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ name, level, destination }), lines };
}

export interface TestDatabase {
  name: string;
  /** The administrator's URL: the test's own view (setup and assertions), never a service's. */
  url: string;
  /** The test's pool, on `url`. */
  pool: Pool;
  /** The URL a service connects with: its own role, with only its grants (a service started by a test uses this). */
  urlFor(service: DatabaseService): string;
}

/**
 * A database of this test's own: cloned from the migrated template of
 * `target` (fast), or empty with `target: 'empty'`. Dropped on cleanup.
 */
export async function testDatabase(options: { target: MigrationTarget | 'empty'; cleanup?: Cleanup }): Promise<TestDatabase> {
  const name = uniqueName('t');
  await ensureDatabase(testEnv.POSTGRES_URL, name, options.target === 'empty' ? {} : { template: TEMPLATE_DB[options.target], target: options.target });
  const url = databaseUrl(testEnv.POSTGRES_URL, name);
  const pool = createPool({ connectionString: url, logger: testLogger(), applicationName: 'tillstream-test', max: 5 });
  (options.cleanup ?? defaultCleanup)(async () => {
    // The drop must happen even when the pool cannot end cleanly (ended by the test already, or
    // its connections killed by the test): a database left behind stays on the shared server.
    await pool.end().catch(() => undefined);
    await dropDatabase(testEnv.POSTGRES_URL, name);
  });
  return { name, url, pool, urlFor: (service) => serviceDatabaseUrl(url, service) };
}

/**
 * (Re)creates the template databases with every migration applied (as the
 * owner role, with the service roles' grants: migrate() provisions them);
 * the global setup calls it once per run.
 */
export async function prepareTemplateDatabases(logger: Logger): Promise<void> {
  for (const target of ['store', 'hq'] as const) {
    const name = TEMPLATE_DB[target];
    await dropDatabase(testEnv.POSTGRES_URL, name);
    await ensureDatabase(testEnv.POSTGRES_URL, name);
    await migrate({ databaseUrl: databaseUrl(testEnv.POSTGRES_URL, name), target, logger });
  }
}

export interface TestKafka {
  /** A client of the admin principal (the test's own tools: creating topics, producing fixtures, reading back). */
  kafka: Kafka;
  cluster: KafkaCluster;
  /** This test's topic prefix; every topic it creates starts with it. */
  prefix: string;
  logger: Logger;
}

/**
 * A Kafka client (the admin principal) and a topic prefix of this test's
 * own on the store cluster or HQ's, provisioned as the infra tool provisions
 * a store: `specs`' topics (and their dead-letter topics; default none on the
 * store cluster, every HQ topic on HQ's) created, and every service
 * principal of the cluster granted its ACLs for the prefix, so services the
 * test starts with {@link kafkaServiceEnv} run as their own principals.
 * Topics and ACLs are removed on cleanup.
 */
/**
 * The shared test infrastructure's clusters are one broker each (the infra
 * tool's defaults): HQ's topics are placed there with the explicit
 * single-broker profile (replication factor 1), never by a default a
 * production HQ could inherit. A test on a cluster of its own passes its
 * placement ({@link testKafkaCluster}'s).
 */
export const TEST_PLACEMENT: Record<KafkaCluster, ClusterPlacement> = { store: clusterPlacement('store'), hq: clusterPlacement('single-broker') };

export async function testKafka(
  options: {
    specs?: readonly TopicSettings[];
    brokers?: string[];
    cluster?: KafkaCluster;
    credentials?: LocalKafkaCredentials;
    /** Replication and partitions of the topics it creates; default {@link TEST_PLACEMENT}'s for the cluster. */
    placement?: ClusterPlacement;
    cleanup?: Cleanup;
  } = {},
): Promise<TestKafka> {
  const logger = testLogger('kafka');
  const prefix = `${uniqueName('t')}.`;
  // testEnv.HQ_KAFKA_BROKERS itself names HQ's cluster.
  const cluster = options.cluster ?? (options.brokers === testEnv.HQ_KAFKA_BROKERS ? 'hq' : 'store');
  const brokers = options.brokers ?? (cluster === 'hq' ? testEnv.HQ_KAFKA_BROKERS : testEnv.KAFKA_BROKERS);
  const security = localKafkaSecurity(options.credentials ?? testKafkaCredentials(), KAFKA_ADMIN_PRINCIPAL);
  const kafka = createKafkaClient({ brokers, clientId: 'tillstream-test', logger, security });
  const specs = options.specs ?? (cluster === 'hq' ? hqTopics : undefined);
  const created = specs ? await ensureTopics({ kafka, logger, prefix, specs, placement: options.placement ?? TEST_PLACEMENT[cluster] }) : [];
  await grantKafkaAcls({ kafka, logger, cluster, prefix });
  (options.cleanup ?? defaultCleanup)(async () => {
    const admin = kafka.admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.disconnect();
    await deleteTopics(kafka, [...new Set([...created, ...mine])]);
    await revokeKafkaAcls({ kafka, cluster, prefix });
  });
  return { kafka, cluster, prefix, logger };
}

/** A Redis connection for this test, closed on cleanup. BullMQ workers need maxRetriesPerRequest: null. */
export function testRedis(options: { cleanup?: Cleanup } = {}): Redis {
  const redis = createRedis(testEnv.REDIS_URL, 'worker');
  (options.cleanup ?? defaultCleanup)(async () => {
    redis.disconnect();
  });
  return redis;
}

/** A BullMQ queue (and optionally a worker) with a unique name; obliterated and closed on cleanup. */
export function testQueue<Data, Result>(options: { processor?: Processor<Data, Result>; cleanup?: Cleanup } = {}) {
  const name = uniqueName('q');
  // A worker blocks on its connection while it waits for jobs: it gets its own.
  const queue = new Queue<Data, Result>(name, { connection: testRedis(options) });
  const worker = options.processor ? new Worker<Data, Result>(name, options.processor, { connection: testRedis(options) }) : undefined;
  (options.cleanup ?? defaultCleanup)(async () => {
    await worker?.close();
    await queue.obliterate({ force: true });
    await queue.close();
  });
  return { name, queue, worker };
}

/**
 * Puts POS transactions on the topic as ingest acknowledges them: produced
 * (acks=all), then recorded in the store's journal, which is what terminals
 * were told and what the day manifest is built from. A test that feeds the
 * consumers without ingest uses this, or its days never get a manifest.
 */
export async function publishAcknowledged(
  producer: TypedProducer,
  journal: Pool,
  txs: readonly PosTransactionInput[],
): Promise<RecordReceipt[]> {
  const parsed = txs.map((tx) => PosTransactionV1.parse(tx));
  const receipts = await producer.send(posTransactions, parsed.map((data) => ({ storeId: data.storeId, data })));
  const receivedAt = new Date();
  await recordTransactions(
    journal,
    parsed.map((tx, i) => journalEntry(tx, { bodyHash: createHash('sha256').update(JSON.stringify(tx)).digest(), receivedAt, partition: receipts[i]!.partition, offset: receipts[i]!.offset })),
  );
  return receipts;
}

const TILLSTREAM_BIN = fileURLToPath(new URL('../../cli/bin/tillstream.js', import.meta.url));

/**
 * Runs the operators' CLI (`npx tillstream ...`) as its own process; never
 * throws on a non-zero exit. It inherits the environment the test
 * infrastructure was read from, so it finds the same brokers, and connects
 * to them as the admin principal.
 */
export async function runTillstream(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [TILLSTREAM_BIN, ...args], { env: operatorEnv() });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
