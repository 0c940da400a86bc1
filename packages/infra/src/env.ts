import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { bool, csv, parseEnv, port, postgresServerEnv, redisEnv } from '@tillstream/config';
import type { Logger } from '@tillstream/observability';
import type { InfraConfig } from './infra.ts';

/** Everything the local infrastructure reads from the environment, with the defaults of ARCHITECTURE.md. */
export const infraEnv = z.object({
  KAFKA_VERSION: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version such as 3.9.1').default('3.9.1'),
  TILLSTREAM_CACHE_DIR: z.string().default(join(homedir(), '.cache', 'tillstream')),
  TILLSTREAM_STATE_DIR: z.string().default(join(homedir(), '.local', 'state', 'tillstream')),
  STORE_KAFKA_PORT: port.default(9092),
  STORE_KAFKA_CONTROLLER_PORT: port.default(9093),
  HQ_KAFKA_PORT: port.default(9192),
  HQ_KAFKA_CONTROLLER_PORT: port.default(9193),
  KAFKA_HEAP_MB: z.coerce.number().int().min(128).max(8192).default(512),
  ...postgresServerEnv.shape,
  ...redisEnv.shape,
  TILLSTREAM_DATABASES: csv.default(['tillstream_hq', 'tillstream_store_s001', 'tillstream_store_s002']),
  INFRA_AUTOSTART_SERVICES: bool.default(true),
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
