import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createKafkaClient, KAFKA_ADMIN_PRINCIPAL, provisionKafka, type KafkaCluster } from '@tillstream/kafka';
import type { Logger } from '@tillstream/observability';
import { ensureKafkaCredentials, localKafkaSecurity } from './kafka-security.ts';
import { brokerStatus, startBroker, stopBroker, type BrokerSpec, type BrokerStatus } from './broker.ts';
import { resolveKafkaJars } from './jars.ts';
import { ensurePostgres, ensureRedis, redisAnswers, stopPostgres, stopRedis } from './services.ts';

export interface InfraConfig {
  /** Apache Kafka version from Maven Central; 3.9.x by default, 4.x can be tried. */
  kafkaVersion: string;
  /** Jars, shared by every checkout on the machine. */
  cacheDir: string;
  /** Pid files, broker data and logs. */
  stateDir: string;
  /** The store's broker and HQ's (its own cluster). */
  brokers: BrokerSpec[];
  /** Any database URL on the PostgreSQL server; the server is what counts. */
  postgresUrl: string;
  redisUrl: string;
  /** Databases `up` creates if missing. */
  databases: string[];
  /** Start PostgreSQL/Redis with Debian's commands when they are down; otherwise fail with a clear message. */
  autoStartServices: boolean;
  logger: Logger;
}

/** What one `up` started; `down` with it stops exactly that. */
export interface Started {
  brokers: string[];
  postgres: boolean;
  redis: boolean;
}

const marker = (config: InfraConfig, what: 'postgres' | 'redis') => join(config.stateDir, `started-${what}`);

/**
 * Brings up everything local: PostgreSQL and Redis (started only if down),
 * the databases, the Kafka jars (resolved once), and each broker (started
 * only if this tool does not run it yet). Idempotent.
 */
export async function up(config: InfraConfig): Promise<Started> {
  await mkdir(config.stateDir, { recursive: true });
  const [postgres, redis, jarsDir] = await Promise.all([
    ensurePostgres({ url: config.postgresUrl, databases: config.databases, logger: config.logger, autoStart: config.autoStartServices }),
    ensureRedis({ url: config.redisUrl, logger: config.logger, autoStart: config.autoStartServices }),
    resolveKafkaJars({ version: config.kafkaVersion, cacheDir: config.cacheDir, logger: config.logger }),
  ]);
  if (postgres) await writeFile(marker(config, 'postgres'), '');
  if (redis) await writeFile(marker(config, 'redis'), '');
  const started = await Promise.all(
    config.brokers.map(async (spec) =>
      (await startBroker(spec, { jarsDir, stateDir: config.stateDir, logger: config.logger })) ? spec.name : undefined,
    ),
  );
  // Services do not create topics or grant themselves anything: the unprefixed topics and every
  // service principal's ACLs are provisioned here, with the admin principal.
  for (const spec of config.brokers) await provisionLocalKafka(config, spec.name === 'hq' ? 'hq' : 'store', '');
  return { brokers: started.filter((n): n is string => n !== undefined), postgres, redis };
}

/**
 * Provisions a cluster of the local infrastructure for a topic prefix (a demo
 * store's, a test's): its topics, and every service principal's ACLs on
 * them, as the admin principal.
 */
export async function provisionLocalKafka(config: InfraConfig, cluster: KafkaCluster, prefix: string): Promise<void> {
  const spec = config.brokers.find((b) => b.name === cluster) ?? config.brokers[0]!;
  const credentials = await ensureKafkaCredentials(config.stateDir);
  const kafka = createKafkaClient({
    brokers: [`127.0.0.1:${spec.port}`],
    clientId: 'tillstream-infra',
    logger: config.logger,
    security: localKafkaSecurity(credentials, KAFKA_ADMIN_PRINCIPAL),
  });
  await provisionKafka({ kafka, logger: config.logger, cluster, prefix });
}

/**
 * Stops what this tool started: its brokers, and PostgreSQL or Redis only if
 * an earlier `up` had to start them. With `only`, stops just that (a test
 * run stops what its own `up` started and leaves a developer's brokers be).
 */
export async function down(config: InfraConfig, only?: Started): Promise<string[]> {
  const stopped: string[] = [];
  const brokers = only ? config.brokers.filter((b) => only.brokers.includes(b.name)) : config.brokers;
  await Promise.all(
    brokers.map(async (spec) => {
      if (await stopBroker(spec, { stateDir: config.stateDir, logger: config.logger })) stopped.push(`kafka-${spec.name}`);
    }),
  );
  if (only ? only.redis : existsSync(marker(config, 'redis'))) {
    await stopRedis(config.redisUrl, config.logger);
    await rm(marker(config, 'redis'), { force: true });
    stopped.push('redis');
  }
  if (only ? only.postgres : existsSync(marker(config, 'postgres'))) {
    await stopPostgres(config.logger);
    await rm(marker(config, 'postgres'), { force: true });
    stopped.push('postgres');
  }
  return stopped;
}

export interface InfraStatus {
  brokers: BrokerStatus[];
  redis: boolean;
}

export async function status(config: InfraConfig): Promise<InfraStatus> {
  const [brokers, redis] = await Promise.all([
    Promise.all(config.brokers.map((spec) => brokerStatus(spec, { stateDir: config.stateDir }))),
    redisAnswers(config.redisUrl),
  ]);
  return { brokers, redis };
}
