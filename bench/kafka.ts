import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  brokerPid,
  ensureKafkaCredentials,
  infraConfigFromEnv,
  localKafkaSecurity,
  localKafkaSecurityEnv,
  readKafkaCredentials,
  resolveKafkaJars,
  startBroker,
  stopBroker,
  type LocalKafkaCredentials,
} from '@tillstream/infra';
import { KAFKA_ADMIN_PRINCIPAL, createKafkaClient, grantKafkaAcls, type Kafka, type KafkaCluster, type KafkaPrincipal } from '@tillstream/kafka';
import { createLogger } from '@tillstream/observability';

/** A Kafka cluster a bench talks to: its own tools as the admin, the services it starts as their own principals. */
export interface BenchKafka {
  /** "SASL_SSL" or "PLAINTEXT": the column that tells runs apart. */
  listener: string;
  brokers: string[];
  /** A client of the admin principal (none on PLAINTEXT). */
  client(clientId: string): Kafka;
  /** The Kafka env of a service the bench starts (brokers, and its principal's credentials when secured). */
  serviceEnv(principal: KafkaPrincipal): Record<string, string>;
  /** Grants the service principals their ACLs on a prefix (nothing to grant on PLAINTEXT). */
  grant(cluster: KafkaCluster, prefix: string): Promise<void>;
}

const logger = createLogger({ name: 'bench', level: 'warn' });

function benchKafka(listener: 'SASL_SSL' | 'PLAINTEXT', brokers: string[], credentials: LocalKafkaCredentials | undefined): BenchKafka {
  const security = credentials && listener === 'SASL_SSL' ? localKafkaSecurity(credentials, KAFKA_ADMIN_PRINCIPAL) : undefined;
  const client = (clientId: string) => createKafkaClient({ brokers, clientId, logger, ...(security ? { security } : {}) });
  return {
    listener,
    brokers,
    client,
    serviceEnv: (principal) => ({
      [principal === 'hq' ? 'HQ_KAFKA_BROKERS' : 'KAFKA_BROKERS']: brokers.join(','),
      ...(security && credentials ? localKafkaSecurityEnv(credentials, principal) : {}),
    }),
    grant: async (cluster, prefix) => {
      if (security) await grantKafkaAcls({ kafka: client('bench-acls'), logger, cluster, prefix });
    },
  };
}

/** The local infrastructure's broker of `cluster` (secured, as every bench and test runs against). */
export function localKafka(cluster: KafkaCluster = 'store'): BenchKafka {
  const config = infraConfigFromEnv(process.env, logger);
  const spec = config.brokers.find((b) => b.name === cluster)!;
  return benchKafka('SASL_SSL', [`127.0.0.1:${spec.port}`], readKafkaCredentials(config.stateDir));
}

/**
 * Two brokers of the bench's own, the same in everything (heap, settings,
 * disk) but the listener: PLAINTEXT, and SASL_SSL with SCRAM-SHA-512 and the
 * authorizer, as the infra tool runs it. What security costs is the
 * difference between the two, measured in one run. Stopped and removed
 * afterwards.
 */
export async function withListenerPair<T>(fn: (pair: BenchKafka[]) => Promise<T>): Promise<T> {
  const config = infraConfigFromEnv(process.env, logger);
  const jarsDir = await resolveKafkaJars({ version: config.kafkaVersion, cacheDir: config.cacheDir, logger });
  const stateDir = await mkdtemp(join(tmpdir(), 'tillstream-bench-listeners-'));
  const env = { jarsDir, stateDir, logger };
  const port = Number(process.env.BENCH_KAFKA_PORT ?? 29_692);
  const specs = [
    { name: 'plaintext', port, controllerPort: port + 1, heapMb: 384, insecureForBenchmark: true },
    { name: 'sasl-ssl', port: port + 100, controllerPort: port + 101, heapMb: 384 },
  ];
  try {
    const credentials = await ensureKafkaCredentials(stateDir);
    for (const spec of specs) await startBroker(spec, env);
    return await fn([benchKafka('PLAINTEXT', [`127.0.0.1:${port}`], undefined), benchKafka('SASL_SSL', [`127.0.0.1:${port + 100}`], credentials)]);
  } finally {
    for (const spec of specs) await stopBroker(spec, env);
    await rm(stateDir, { recursive: true, force: true });
  }
}

/**
 * One broker of the bench's own for the runs beside the Kafka Streams peer:
 * the same Kafka jars and settings as the local store broker (heap, topic
 * defaults, disk), with a PLAINTEXT listener. The peer cannot be given
 * SASL_SSL client settings without changing its code (PeerApp and Topics
 * build their client properties from --bootstrap alone), and both must read
 * the same topic on the same broker; a broker of its own also makes the
 * broker's CPU per line the bench's alone on a machine others use. On
 * BENCH_PEER_KAFKA_PORT (and the next port for its controller). Stopped and
 * its data removed afterwards; `pid` is for reading its CPU.
 */
export async function withPeerBroker<T>(fn: (kafka: BenchKafka, pid: number) => Promise<T>, register: (cleanup: () => Promise<void>) => () => void): Promise<T> {
  const config = infraConfigFromEnv(process.env, logger);
  const jarsDir = await resolveKafkaJars({ version: config.kafkaVersion, cacheDir: config.cacheDir, logger });
  const stateDir = await mkdtemp(join(tmpdir(), 'tillstream-bench-peer-broker-'));
  const env = { jarsDir, stateDir, logger };
  const port = Number(process.env.BENCH_PEER_KAFKA_PORT ?? 29_892);
  const heapMb = config.brokers.find((b) => b.name === 'store')!.heapMb;
  const spec = { name: 'peer-bench', port, controllerPort: port + 1, heapMb, insecureForBenchmark: true };
  const cleanup = async () => {
    await stopBroker(spec, env);
    await rm(stateDir, { recursive: true, force: true });
  };
  const unregister = register(cleanup);
  try {
    await startBroker(spec, env);
    const pid = await brokerPid(spec, env);
    if (pid === undefined) throw new Error('the bench broker started but left no pid');
    return await fn(benchKafka('PLAINTEXT', [`127.0.0.1:${port}`], undefined), pid);
  } finally {
    unregister();
    await cleanup();
  }
}
