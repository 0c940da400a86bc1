import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TillstreamError } from '@tillstream/contracts';
import {
  createKafkaClient,
  clusterPlacement,
  KAFKA_ADMIN_PRINCIPAL,
  provisionKafka,
  type ClusterPlacement,
  type KafkaCluster,
  type PlacementOverrides,
} from '@tillstream/kafka';
import type { Logger } from '@tillstream/observability';
import { ensureKafkaCredentials, localKafkaSecurity } from './kafka-security.ts';
import { brokerStatus, newClusterId, startBroker, stopBroker, type BrokerSpec, type BrokerStatus } from './broker.ts';
import { resolveKafkaJars } from './jars.ts';
import { ensurePostgres, ensureRedis, redisAnswers, stopPostgres, stopRedis } from './services.ts';

export interface InfraConfig {
  /** Apache Kafka version from Maven Central; 3.9.x by default, 4.x can be tried. */
  kafkaVersion: string;
  /** Jars, shared by every checkout on the machine. */
  cacheDir: string;
  /** Pid files, broker data and logs. */
  stateDir: string;
  /** The store's broker and HQ's node(s) (its own cluster: one node, or a controller and N brokers). */
  brokers: BrokerSpec[];
  /** How many brokers HQ's cluster has (1: one combined node). */
  hqBrokers: number;
  /** Operator's overrides of HQ's placement (KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS, HQ_TOPIC_PARTITIONS). */
  hqPlacement?: PlacementOverrides;
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
const hqBrokersFile = (stateDir: string) => join(stateDir, 'hq-brokers');
const hqClusterIdFile = (stateDir: string) => join(stateDir, 'kafka-hq-cluster-id');

/** The HQ broker count the last `up` of `stateDir` started, so that `status` and `down` see the same nodes. */
export function recordedHqBrokers(stateDir: string): number | undefined {
  if (!existsSync(hqBrokersFile(stateDir))) return undefined;
  const n = Number(readFileSync(hqBrokersFile(stateDir), 'utf8').trim());
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

/** Client port of HQ broker `i` (1-based) of a multi-broker cluster: the base port, then every second port. */
export const hqBrokerPort = (port: number, i: number) => port + 2 * (i - 1);

/**
 * HQ's nodes. One broker: one combined KRaft node ("hq") on `port` and
 * `controllerPort`, as before. N > 1: a controller-only node
 * ("hq-controller") on `controllerPort` and brokers "hq-1".."hq-N" on
 * `port`, `port + 2`, ...; replication factor min(N, 3) with min ISR 2 for
 * the cluster's defaults and internal topics (__consumer_offsets,
 * __transaction_state).
 */
export function hqBrokerSpecs(options: { brokers: number; port: number; controllerPort: number; heapMb: number; stateDir: string }): BrokerSpec[] {
  if (options.brokers === 1) return [{ name: 'hq', port: options.port, controllerPort: options.controllerPort, heapMb: options.heapMb }];
  const ports = Array.from({ length: options.brokers }, (_, i) => hqBrokerPort(options.port, i + 1));
  if (ports.includes(options.controllerPort)) {
    throw new TillstreamError('CONFIG_INVALID', `HQ's controller port ${options.controllerPort} is one of its ${options.brokers} brokers' ports (${ports.join(', ')}); choose another HQ_KAFKA_CONTROLLER_PORT`);
  }
  const idFile = hqClusterIdFile(options.stateDir);
  const clusterId = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : newClusterId();
  const factor = Math.min(options.brokers, 3);
  const replication = { factor, minInsync: Math.min(2, factor) };
  const controllerId = 100;
  const voters = `${controllerId}@127.0.0.1:${options.controllerPort}`;
  return [
    // The controller's heap holds only the cluster's metadata.
    { name: 'hq-controller', port: options.controllerPort, controllerPort: options.controllerPort, heapMb: Math.min(256, options.heapMb), replication, node: { id: controllerId, role: 'controller', voters, clusterId } },
    ...ports.map((port, i): BrokerSpec => ({ name: `hq-${i + 1}`, port, controllerPort: options.controllerPort, heapMb: options.heapMb, replication, node: { id: i + 1, role: 'broker', voters, clusterId } })),
  ];
}

/** Which cluster a node belongs to. */
export const clusterOf = (spec: BrokerSpec): KafkaCluster => (spec.name === 'hq' || spec.name.startsWith('hq-') ? 'hq' : 'store');

/**
 * The placement of a local cluster's topics: the store's profile; HQ's
 * profile on three or more brokers, and on fewer the replication factor
 * they allow, explicitly (one broker: the "single-broker" profile), which
 * provisioning warns about.
 */
export function localPlacement(config: Pick<InfraConfig, 'hqBrokers' | 'hqPlacement'>, cluster: KafkaCluster): ClusterPlacement {
  if (cluster === 'store') return clusterPlacement('store');
  const overrides = config.hqPlacement ?? {};
  if (config.hqBrokers === 1) return clusterPlacement('single-broker', overrides);
  return clusterPlacement('hq', { ...overrides, replicationFactor: overrides.replicationFactor ?? Math.min(3, config.hqBrokers) });
}

/** Starts a cluster's nodes: the controllers first (brokers register with them), then the brokers together. Returns the names it started. */
export async function startNodes(specs: readonly BrokerSpec[], env: { jarsDir: string; stateDir: string; logger: Logger; startTimeoutMs?: number }): Promise<string[]> {
  const started: string[] = [];
  const controllers = specs.filter((s) => s.node?.role === 'controller');
  for (const spec of controllers) if (await startBroker(spec, env)) started.push(spec.name);
  const rest = specs.filter((s) => s.node?.role !== 'controller');
  for (const name of await Promise.all(rest.map(async (spec) => ((await startBroker(spec, env)) ? spec.name : undefined)))) if (name) started.push(name);
  return started;
}

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
  const clusterId = config.brokers.find((b) => b.node)?.node?.clusterId;
  if (clusterId && !existsSync(hqClusterIdFile(config.stateDir))) await writeFile(hqClusterIdFile(config.stateDir), clusterId);
  await writeFile(hqBrokersFile(config.stateDir), String(config.hqBrokers));
  const started = await startNodes(config.brokers, { jarsDir, stateDir: config.stateDir, logger: config.logger });
  // Services do not create topics or grant themselves anything: the unprefixed topics and every
  // service principal's ACLs are provisioned here, with the admin principal.
  for (const cluster of [...new Set(config.brokers.map(clusterOf))]) await provisionLocalKafka(config, cluster, '');
  return { brokers: started, postgres, redis };
}

/**
 * Provisions a cluster of the local infrastructure for a topic prefix (a demo
 * store's, a test's): its topics, and every service principal's ACLs on
 * them, as the admin principal.
 */
export async function provisionLocalKafka(config: InfraConfig, cluster: KafkaCluster, prefix: string): Promise<void> {
  const nodes = config.brokers.filter((b) => clusterOf(b) === cluster && b.node?.role !== 'controller');
  const credentials = await ensureKafkaCredentials(config.stateDir);
  const kafka = createKafkaClient({
    brokers: (nodes.length > 0 ? nodes : config.brokers.slice(0, 1)).map((b) => `127.0.0.1:${b.port}`),
    clientId: 'tillstream-infra',
    logger: config.logger,
    security: localKafkaSecurity(credentials, KAFKA_ADMIN_PRINCIPAL),
  });
  await provisionKafka({ kafka, logger: config.logger, cluster, prefix, placement: localPlacement(config, cluster) });
}

/**
 * Stops what this tool started: its brokers, and PostgreSQL or Redis only if
 * an earlier `up` had to start them. With `only`, stops just that (a test
 * run stops what its own `up` started and leaves a developer's brokers be).
 */
export async function down(config: InfraConfig, only?: Started): Promise<string[]> {
  const stopped: string[] = [];
  const brokers = only ? config.brokers.filter((b) => only.brokers.includes(b.name)) : config.brokers;
  // Brokers before their controller: a broker's controlled shutdown hands its leaderships over through the controller.
  for (const group of [brokers.filter((b) => b.node?.role !== 'controller'), brokers.filter((b) => b.node?.role === 'controller')]) {
    await Promise.all(
      group.map(async (spec) => {
        if (await stopBroker(spec, { stateDir: config.stateDir, logger: config.logger })) stopped.push(`kafka-${spec.name}`);
      }),
    );
  }
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
