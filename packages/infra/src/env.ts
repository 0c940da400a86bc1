import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { bool, csv, parseEnv, port, postgresServerEnv, redisEnv } from '@tillstream/config';
import type { Logger } from '@tillstream/observability';
import type { InfraConfig } from './infra.ts';

/** Everything the local infrastructure reads from the environment, with the defaults of ARCHITECTURE.md. */
export const infraEnv = z.object({
  KAFKA_VERSION: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version such as 3.9.1').default('3.9.1').describe('Apache Kafka version of the local brokers; 4.x can be tried.'),
  TILLSTREAM_CACHE_DIR: z.string().default(join(homedir(), '.cache', 'tillstream')).describe("Where the Kafka jars Maven resolved are kept."),
  TILLSTREAM_STATE_DIR: z.string().default(join(homedir(), '.local', 'state', 'tillstream')).describe('Pid files, broker data and logs, the CA, the Kafka credentials.'),
  STORE_KAFKA_PORT: port.default(9092).describe("The store broker's SASL_SSL listener."),
  STORE_KAFKA_CONTROLLER_PORT: port.default(9093).describe("The store broker's KRaft controller listener."),
  HQ_KAFKA_PORT: port.default(9192).describe("The HQ broker's SASL_SSL listener."),
  HQ_KAFKA_CONTROLLER_PORT: port.default(9193).describe("The HQ broker's KRaft controller listener."),
  KAFKA_HEAP_MB: z.coerce.number().int().min(128).max(8192).default(512).describe("Each broker's JVM heap, in MB."),
  ...postgresServerEnv.shape,
  ...redisEnv.shape,
  TILLSTREAM_DATABASES: csv.default(['tillstream_hq', 'tillstream_store_s001', 'tillstream_store_s002']).describe('Databases `up` creates when missing (empty: `tillstream migrate` migrates them).'),
  INFRA_AUTOSTART_SERVICES: bool.default(true).describe('Start PostgreSQL and Redis (Debian\'s servers) when they are down.'),
});

export function infraConfigFromEnv(env: Record<string, string | undefined>, logger: Logger): InfraConfig {
  const e = parseEnv(infraEnv, env);
  return {
    kafkaVersion: e.KAFKA_VERSION,
    cacheDir: e.TILLSTREAM_CACHE_DIR,
    stateDir: e.TILLSTREAM_STATE_DIR,
    brokers: [
      { name: 'store', port: e.STORE_KAFKA_PORT, controllerPort: e.STORE_KAFKA_CONTROLLER_PORT, heapMb: e.KAFKA_HEAP_MB },
      { name: 'hq', port: e.HQ_KAFKA_PORT, controllerPort: e.HQ_KAFKA_CONTROLLER_PORT, heapMb: e.KAFKA_HEAP_MB },
    ],
    postgresUrl: e.POSTGRES_URL,
    redisUrl: e.REDIS_URL,
    databases: e.TILLSTREAM_DATABASES,
    autoStartServices: e.INFRA_AUTOSTART_SERVICES,
    logger,
  };
}
