import { onTestFinished } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  brokerPid,
  isAlive,
  hqBrokerSpecs,
  localKafkaSecurity,
  localPlacement,
  readKafkaCredentials,
  resolveKafkaJars,
  startBroker,
  startNodes,
  stopBroker,
  type BrokerSpec,
  type LocalKafkaCredentials,
} from '@tillstream/infra';
import { KAFKA_ADMIN_PRINCIPAL, createKafkaClient, type ClusterPlacement, type Kafka } from '@tillstream/kafka';
import type { Cleanup } from './fixtures.ts';
import { testLogger } from './fixtures.ts';
import { waitFor } from './wait.ts';
import { testInfraConfig } from './env.ts';

export interface TestKafkaCluster {
  /** Every broker's bootstrap address, for clients (HQ's HQ_KAFKA_BROKERS). */
  brokers: string[];
  /** The cluster's own CA and SCRAM passwords (pass to testKafka / kafkaServiceEnv). */
  credentials: LocalKafkaCredentials;
  /** The placement of its topics: HQ's profile on three brokers (RF 3, min ISR 2, 12 partitions). */
  placement: ClusterPlacement;
  /** A client of the admin principal. */
  kafka: Kafka;
  /** Kills broker `i` (1-based) with SIGKILL; resolves once the process is gone. */
  kill(i: number): Promise<void>;
  /** Starts broker `i` again on its data; resolves once it answers. */
  restart(i: number): Promise<void>;
  /** Pid of broker `i`, if it runs. */
  pid(i: number): Promise<number | undefined>;
}

/**
 * A private HQ-style Kafka cluster for one test (or suite): a KRaft
 * controller and `brokers` brokers from the same jars, secured and laid out
 * as `npm run infra:up -- --hq-brokers N` lays them out (controller on
 * portBase + 1, brokers on portBase, portBase + 2, ...), with its own state
 * directory under the temp dir. The test owns the ports: pick a range no
 * other suite uses. Every node is stopped and its data deleted on cleanup.
 */
export async function testKafkaCluster(options: { brokers: number; portBase: number; heapMb?: number; cleanup?: Cleanup }): Promise<TestKafkaCluster> {
  const logger = testLogger('kafka-cluster');
  // The temp dir prefix is what the global setup's leak check looks for.
  const stateDir = await mkdtemp(join(tmpdir(), 'tillstream-cluster-'));
  const config = testInfraConfig(logger);
  const specs = hqBrokerSpecs({ brokers: options.brokers, port: options.portBase, controllerPort: options.portBase + 1, heapMb: options.heapMb ?? 320, stateDir });
  const env = { jarsDir: await resolveKafkaJars({ version: config.kafkaVersion, cacheDir: config.cacheDir, logger }), stateDir, logger, startTimeoutMs: 180_000 };
  const stop = async () => {
    // Brokers, then the controller; then the data.
    for (const group of [specs.filter((s) => s.node?.role !== 'controller'), specs.filter((s) => s.node?.role === 'controller')]) {
      await Promise.all(group.map((s) => stopBroker(s, env)));
    }
    await rm(stateDir, { recursive: true, force: true });
  };
  (options.cleanup ?? ((fn) => onTestFinished(fn)))(stop);
  try {
    await startNodes(specs, env);
  } catch (err) {
    await stop();
    throw err;
  }
  const broker = (i: number): BrokerSpec => {
    const spec = specs.find((s) => s.name === `hq-${i}`);
    if (!spec) throw new Error(`the cluster has no broker ${i}`);
    return spec;
  };
  const credentials = readKafkaCredentials(stateDir);
  const brokers = specs.filter((s) => s.node?.role === 'broker').map((s) => `127.0.0.1:${s.port}`);
  return {
    brokers,
    credentials,
    placement: localPlacement({ hqBrokers: options.brokers }, 'hq'),
    kafka: createKafkaClient({ brokers, clientId: 'tillstream-test-cluster', logger, security: localKafkaSecurity(credentials, KAFKA_ADMIN_PRINCIPAL) }),
    kill: async (i) => {
      const pid = await brokerPid(broker(i), env);
      if (pid === undefined) throw new Error(`broker ${i} is not running`);
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !isAlive(pid), { timeoutMs: 30_000, message: `broker ${i} (pid ${pid}) to die on SIGKILL` });
    },
    restart: async (i) => {
      await startBroker(broker(i), env);
    },
    pid: (i) => brokerPid(broker(i), env),
  };
}
