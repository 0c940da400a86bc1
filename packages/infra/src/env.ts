import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { TillstreamError } from '@tillstream/contracts';
import { bool, csv, kafkaPlacementEnv, parseEnv, port, postgresServerEnv, redisEnv } from '@tillstream/config';
import type { Logger } from '@tillstream/observability';
import { hqBrokerSpecs, recordedHqBrokers, type InfraConfig } from './infra.ts';

/** Everything the local infrastructure reads from the environment, with the defaults of ARCHITECTURE.md. */
export const infraEnv = z.object({
  KAFKA_VERSION: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version such as 3.9.1').default('3.9.1').describe('Apache Kafka version of the local brokers; 4.x can be tried.'),
  TILLSTREAM_CACHE_DIR: z.string().default(join(homedir(), '.cache', 'tillstream')).describe("Where the Kafka jars Maven resolved are kept."),
  TILLSTREAM_STATE_DIR: z.string().default(join(homedir(), '.local', 'state', 'tillstream')).describe('Pid files, broker data and logs, the CA, the Kafka credentials.'),
  STORE_KAFKA_PORT: port.default(9092).describe("The store broker's SASL_SSL listener."),
  STORE_KAFKA_CONTROLLER_PORT: port.default(9093).describe("The store broker's KRaft controller listener."),
  HQ_KAFKA_PORT: port.default(9192).describe("The HQ broker's SASL_SSL listener."),
  HQ_KAFKA_CONTROLLER_PORT: port.default(9193).describe("The HQ broker's KRaft controller listener."),
  HQ_KAFKA_BROKER_COUNT: z.coerce.number().int().min(1).max(9).optional().describe(
    "Brokers of HQ's cluster (`up --hq-brokers N`). 1: one node on HQ_KAFKA_PORT (development; its topics get replication factor 1, warned about). " +
      'N > 1: a KRaft controller on HQ_KAFKA_CONTROLLER_PORT and N brokers on HQ_KAFKA_PORT, +2, +4, ... (RF min(N, 3), min ISR 2). ' +
      'Unset: what the last `up` of this state directory started (else 1).',
  ),
  KAFKA_HEAP_MB: z.coerce.number().int().min(128).max(8192).default(512).describe("Each broker's JVM heap, in MB."),
  ...kafkaPlacementEnv.shape,
  ...postgresServerEnv.shape,
  ...redisEnv.shape,
  TILLSTREAM_DATABASES: csv.default(['tillstream_hq', 'tillstream_store_s001', 'tillstream_store_s002']).describe('Databases `up` creates when missing (empty: `tillstream migrate` migrates them).'),
  INFRA_AUTOSTART_SERVICES: bool.default(true).describe('Start PostgreSQL and Redis (Debian\'s servers) when they are down.'),
});

/** `infra:*` flags, as the environment variables they stand for (`--hq-brokers 3`, `--state-dir=/tmp/x`). */
export function flagsEnv(args: readonly string[]): Record<string, string> {
  const names: Record<string, string> = { '--hq-brokers': 'HQ_KAFKA_BROKER_COUNT', '--state-dir': 'TILLSTREAM_STATE_DIR' };
  const env: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    const name = names[flag];
    if (!name) throw new TillstreamError('CONFIG_INVALID', `unknown option "${arg}" (options: ${Object.keys(names).join(', ')})`);
    if (value === undefined || value === '' || value.startsWith('--')) throw new TillstreamError('CONFIG_INVALID', `option ${flag} needs a value`);
    env[name] = value;
  }
  return env;
}

export function infraConfigFromEnv(env: Record<string, string | undefined>, logger: Logger): InfraConfig {
  const e = parseEnv(infraEnv, env);
  const hqBrokers = e.HQ_KAFKA_BROKER_COUNT ?? recordedHqBrokers(e.TILLSTREAM_STATE_DIR) ?? 1;
  return {
    kafkaVersion: e.KAFKA_VERSION,
    cacheDir: e.TILLSTREAM_CACHE_DIR,
    stateDir: e.TILLSTREAM_STATE_DIR,
    brokers: [
      { name: 'store', port: e.STORE_KAFKA_PORT, controllerPort: e.STORE_KAFKA_CONTROLLER_PORT, heapMb: e.KAFKA_HEAP_MB },
      ...hqBrokerSpecs({ brokers: hqBrokers, port: e.HQ_KAFKA_PORT, controllerPort: e.HQ_KAFKA_CONTROLLER_PORT, heapMb: e.KAFKA_HEAP_MB, stateDir: e.TILLSTREAM_STATE_DIR }),
    ],
    hqBrokers,
    hqPlacement: { replicationFactor: e.KAFKA_REPLICATION_FACTOR, minInsyncReplicas: e.KAFKA_MIN_INSYNC_REPLICAS, minPartitions: e.HQ_TOPIC_PARTITIONS },
    postgresUrl: e.POSTGRES_URL,
    redisUrl: e.REDIS_URL,
    databases: e.TILLSTREAM_DATABASES,
    autoStartServices: e.INFRA_AUTOSTART_SERVICES,
    logger,
  };
}
