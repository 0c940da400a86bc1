import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
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
