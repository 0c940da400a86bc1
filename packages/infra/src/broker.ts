import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createKafkaClient, describeCluster, KAFKA_ADMIN_PRINCIPAL } from '@tillstream/kafka';
import { createLogger, type Logger } from '@tillstream/observability';
import { InfraError } from './errors.ts';
import { ensureBrokerCertificate, ensureKafkaCredentials, localKafkaSecurity, readKafkaCredentials, type LocalKafkaCredentials } from './kafka-security.ts';
import { commandLine, execFileAsync, isAlive, isPortFree, sleep, terminate } from './process.ts';

/**
 * A KRaft cluster id: 16 random bytes, base64url. One in 64 such strings
 * begins with "-", which kafka-storage's argument parser reads as an option
 * ("--cluster-id: expected one argument"); Kafka's own Uuid.randomUuid draws
 * again in that case, and so does this.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * A KRaft node the tool runs: by default a single-node cluster (broker and
 * controller in one JVM, the store's and the development HQ's), or, with
 * `node`, one node of a multi-node cluster (HQ's: one controller, N brokers).
 */
export interface BrokerSpec {
  /** "store", "hq", "hq-1", "hq-controller": names the state folder and the log lines. */
  name: string;
  /** Client listener on 127.0.0.1 (a controller-only node: its controller port). */
  port: number;
  /** Controller (KRaft quorum) listener on 127.0.0.1. */
  controllerPort: number;
  /** JVM max heap. 512 MB serves a store's volumes; Kafka relies on the page cache, not the heap. */
  heapMb: number;
  /**
   * A PLAINTEXT listener without authorizer, for the one purpose of
   * measuring what SASL_SSL costs beside it (bench/durability, bench/ingest).
   * The infra tool's brokers (and so `npm test` and `npm start`) never set it.
   */
  insecureForBenchmark?: boolean;
  /** A node of a multi-node cluster; absent: a single node (node id 1, broker and controller). */
  node?: ClusterNode;
  /**
   * Replication of the cluster's defaults and internal topics
   * (__consumer_offsets, __transaction_state); default 1 and 1 (one broker).
   */
  replication?: { factor: number; minInsync: number };
}

export interface ClusterNode {
  id: number;
  role: 'broker' | 'controller';
  /** controller.quorum.voters: "100@127.0.0.1:9193". */
  voters: string;
  /** Every node of a cluster is formatted with the same cluster id. */
  clusterId: string;
}

export interface BrokerEnv {
  jarsDir: string;
  stateDir: string;
  logger: Logger;
  /** How long to wait for the broker to answer metadata requests; default 60 s. */
  startTimeoutMs?: number;
}

export interface BrokerStatus {
  name: string;
  running: boolean;
  pid?: number;
  port: number;
  logFile: string;
}

const paths = (env: Pick<BrokerEnv, 'stateDir'>, spec: BrokerSpec) => {
  const dir = join(env.stateDir, `kafka-${spec.name}`);
  return {
    dir,
    data: join(dir, 'data'),
    config: join(dir, 'server.properties'),
    log4j: join(dir, 'log4j.properties'),
    pid: join(dir, 'broker.pid'),
    logFile: join(dir, 'logs', 'server.log'),
    stdout: join(dir, 'logs', 'stdout.log'),
    tls: join(dir, 'tls'),
    keystore: join(dir, 'tls', 'keystore.pem'),
  };
};

/**
 * Broker settings. Topic auto-creation is off: every topic is created by the
 * project's topic admin with explicit partitions, retention and compaction.
 * Internal topics have one replica (one broker per store) and few partitions,
 * so the group coordinator is ready within a second of start.
 *
 * Security: clients reach the broker only over SASL_SSL with SCRAM-SHA-512
 * (the broker's certificate from the state directory's CA), and KRaft's
 * StandardAuthorizer denies whatever no ACL allows, so each service principal
 * can do only what its grants say (packages/kafka kafkaGrants). The admin
 * principal is the one super user clients can be; the controller listener
 * (loopback, SASL PLAIN: SCRAM credentials live in the metadata the
 * controller itself serves) admits only the broker.
 */
function serverProperties(spec: BrokerSpec, p: ReturnType<typeof paths>, credentials: LocalKafkaCredentials): string {
  const admin = credentials.passwords[KAFKA_ADMIN_PRINCIPAL]!;
  const controller = credentials.controllerPassword;
  const controllerOnly = spec.node?.role === 'controller';
  const listeners = (roles: string) => (spec.node ? roles : `${roles},CONTROLLER://127.0.0.1:${spec.controllerPort}`);
  const security = controllerOnly
    ? [
        // A controller-only node serves the quorum to the brokers (SASL PLAIN, loopback) and nothing to clients.
        `listeners=CONTROLLER://127.0.0.1:${spec.controllerPort}`,
        'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT',
        'sasl.mechanism.controller.protocol=PLAIN',
        'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
        `listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="${controller}" user_controller="${controller}";`,
        'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        'allow.everyone.if.no.acl.found=false',
        `super.users=User:${KAFKA_ADMIN_PRINCIPAL};User:controller`,
      ]
    : spec.insecureForBenchmark
    ? [
        `listeners=${listeners(`PLAINTEXT://127.0.0.1:${spec.port}`)}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${spec.port}`,
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      ]
    : [
        `listeners=${listeners(`SASL_SSL://127.0.0.1:${spec.port}`)}`,
        `advertised.listeners=SASL_SSL://127.0.0.1:${spec.port}`,
        'inter.broker.listener.name=SASL_SSL',
        'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT',
        'sasl.enabled.mechanisms=SCRAM-SHA-512',
        'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
        `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_ADMIN_PRINCIPAL}" password="${admin}";`,
        'sasl.mechanism.controller.protocol=PLAIN',
        'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
        `listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="${controller}" user_controller="${controller}";`,
        'ssl.keystore.type=PEM',
        `ssl.keystore.location=${p.keystore}`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${credentials.caFile}`,
        'ssl.client.auth=none',
        'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        'allow.everyone.if.no.acl.found=false',
        `super.users=User:${KAFKA_ADMIN_PRINCIPAL};User:controller`,
      ];
  const replication = spec.replication ?? { factor: 1, minInsync: 1 };
  return `${[
    `process.roles=${spec.node?.role ?? 'broker,controller'}`,
    `node.id=${spec.node?.id ?? 1}`,
    `controller.quorum.voters=${spec.node?.voters ?? `1@127.0.0.1:${spec.controllerPort}`}`,
    'controller.listener.names=CONTROLLER',
    ...security,
    `log.dirs=${p.data}`,
    'auto.create.topics.enable=false',
    'num.partitions=1',
    // A cluster's defaults and its internal topics are replicated like its own topics (packages/kafka placement.ts):
    // consumer offsets and transaction state must survive the loss of a broker too.
    `default.replication.factor=${replication.factor}`,
    `min.insync.replicas=${replication.minInsync}`,
    `offsets.topic.replication.factor=${replication.factor}`,
    'offsets.topic.num.partitions=5',
    `transaction.state.log.replication.factor=${replication.factor}`,
    `transaction.state.log.min.isr=${replication.minInsync}`,
    'transaction.state.log.num.partitions=5',
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=2',
    'num.io.threads=4',
    'log.cleaner.threads=1',
    // The cleaner allocates its dedupe buffer on the heap when it starts (128 MB by default), one huge
    // allocation in a small heap (the test broker has 256 MB); a test broker once died right after
    // "Starting the log cleaner" with nothing else logged, and this is the likely cause. 32 MB holds
    // about 1.3M keys per pass (24 bytes each): plenty for a store.
    'log.cleaner.dedupe.buffer.size=33554432',
    'log.segment.bytes=268435456',
  ].join('\n')}\n`;
}

/** Broker logs roll at 10 MB, 5 files: a store server runs for months. */
function log4jProperties(logFile: string): string {
  return `${[
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    `log4j.appender.file.File=${logFile}`,
    'log4j.appender.file.MaxFileSize=10MB',
    'log4j.appender.file.MaxBackupIndex=5',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.state.change.logger=WARN',
  ].join('\n')}\n`;
}

async function readPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of this broker if the process in the pid file is alive and really is it (pids get reused). */
async function runningPid(env: Pick<BrokerEnv, 'stateDir'>, spec: BrokerSpec): Promise<number | undefined> {
  const p = paths(env, spec);
  const pid = await readPid(p.pid);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmd = await commandLine(pid);
  return cmd?.includes('kafka.Kafka') && cmd.includes(p.config) ? pid : undefined;
}

function javaArgs(spec: BrokerSpec, jarsDir: string, log4j: string): string[] {
  return [
    `-Xms${Math.min(128, spec.heapMb)}m`,
    `-Xmx${spec.heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${log4j}`,
    `-Dlog4j2.configurationFile=${log4j}`,
    '-cp',
    `${jarsDir}/*`,
  ];
}

async function probe(spec: BrokerSpec, timeoutMs: number, credentials: LocalKafkaCredentials): Promise<boolean> {
  // A controller-only node answers no client request: its listener being open is what can be checked.
  if (spec.node?.role === 'controller') return !(await isPortFree(spec.controllerPort));
  const kafka = createKafkaClient({
    ...(spec.insecureForBenchmark ? {} : { security: localKafkaSecurity(credentials, KAFKA_ADMIN_PRINCIPAL) }),
    brokers: [`127.0.0.1:${spec.port}`],
    clientId: 'tillstream-infra-probe',
    logger: createLogger({ name: 'infra', level: 'silent' }),
    connectionTimeoutMs: Math.min(timeoutMs, 1000),
    requestTimeoutMs: timeoutMs,
    retries: 0,
  });
  try {
    await describeCluster(kafka);
    return true;
  } catch {
    return false;
  }
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts the broker unless this tool already runs it. Formats storage on the
 * first start, spawns `java kafka.Kafka` detached with its pid recorded, and
 * returns once the broker answers metadata requests. Returns true if it
 * started a process.
 */
export async function startBroker(spec: BrokerSpec, env: BrokerEnv): Promise<boolean> {
  const p = paths(env, spec);
  const log = env.logger.child({ broker: spec.name, port: spec.port });
  const credentials = await ensureKafkaCredentials(env.stateDir);
  if ((await runningPid(env, spec)) !== undefined) {
    if (await probe(spec, 5000, credentials)) return false;
    throw new InfraError('BROKER_UNHEALTHY', `${spec.name} broker runs but does not answer on 127.0.0.1:${spec.port}; see ${p.logFile}`);
  }
  for (const port of spec.node ? [spec.node.role === 'controller' ? spec.controllerPort : spec.port] : [spec.port, spec.controllerPort]) {
    if (!(await isPortFree(port))) {
      throw new InfraError(
        'PORT_TAKEN',
        `port ${port} on 127.0.0.1 is already taken by a process this tool did not start; stop it or choose other ports (${spec.name} broker)`,
      );
    }
  }
  await mkdir(join(p.dir, 'logs'), { recursive: true });
  const tls = await ensureBrokerCertificate(env.stateDir, p.tls, spec.name);
  // One PEM file with the key and its chain: what ssl.keystore.type=PEM reads from ssl.keystore.location.
  await writeFile(p.keystore, `${(await readFile(tls.keyFile, 'utf8')).trim()}\n${(await readFile(tls.certFile, 'utf8')).trim()}\n`, { mode: 0o600 });
  // The file holds the admin's and the controller's passwords.
  await writeFile(p.config, serverProperties(spec, p, credentials), { mode: 0o600 });
  await writeFile(p.log4j, log4jProperties(p.logFile));
  const secured = join(p.dir, 'scram-formatted');
  if (existsSync(join(p.data, 'meta.properties')) && !existsSync(secured)) {
    throw new InfraError(
      'BROKER_NOT_SECURED',
      `${spec.name} broker storage in ${p.data} was formatted before the brokers had SASL users; remove that directory (its topics are lost) and run up again`,
    );
  }
  if (!existsSync(join(p.data, 'meta.properties'))) {
    const clusterId = spec.node?.clusterId ?? newClusterId();
    // The SCRAM users are written into the cluster's first metadata: the broker authenticates its own
    // inter-broker connection as the admin before anything could create users through the admin API.
    const scram = Object.entries(credentials.passwords).flatMap(([name, password]) => ['--add-scram', `SCRAM-SHA-512=[name=${name},password=${password}]`]);
    try {
      await execFileAsync('java', [...javaArgs(spec, env.jarsDir, p.log4j), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', p.config, ...scram]);
      await writeFile(secured, '');
    } catch (err) {
      throw new InfraError('BROKER_FORMAT_FAILED', `formatting ${spec.name} broker storage failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    log.info({ data: p.data }, 'formatted broker storage');
  }
  const out = openSync(p.stdout, 'a');
  const child = spawn('java', [...javaArgs(spec, env.jarsDir, p.log4j), 'kafka.Kafka', p.config], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new InfraError('BROKER_SPAWN_FAILED', `could not spawn java for the ${spec.name} broker`);
  child.unref();
  await writeFile(p.pid, String(pid));
  log.info({ pid }, 'broker starting');

  const deadline = Date.now() + (env.startTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      await rm(p.pid, { force: true });
      // A JVM that dies (out of memory, bad flag) says so on stdout, not in the broker's log.
      const lastLog = (await tail(p.logFile, 3)).split('\n').pop() ?? '';
      const lastOut = (await tail(p.stdout, 3)).split('\n').pop() ?? '';
      const last = [lastLog, lastOut].filter(Boolean).join(' | ');
      throw new InfraError('BROKER_EXITED', `${spec.name} broker exited during start; see ${p.logFile} and ${p.stdout}: ${last}`);
    }
    if (await probe(spec, 1000, credentials)) {
      log.info({ pid }, 'broker ready');
      return true;
    }
    await sleep(250);
  }
  await terminate(pid, 10_000);
  await rm(p.pid, { force: true });
  throw new InfraError('BROKER_START_TIMEOUT', `${spec.name} broker did not answer on 127.0.0.1:${spec.port} in time; see ${p.logFile}`);
}

/** Stops the broker this tool started (SIGTERM, then SIGKILL after 30 s). Nothing running: no-op. Returns true if it stopped one. */
export async function stopBroker(spec: BrokerSpec, env: Pick<BrokerEnv, 'stateDir' | 'logger'>): Promise<boolean> {
  const p = paths(env, spec);
  const pid = await runningPid(env, spec);
  await rm(p.pid, { force: true });
  if (pid === undefined) return false;
  await terminate(pid, 30_000);
  env.logger.info({ broker: spec.name, pid }, 'broker stopped');
  return true;
}

export async function brokerStatus(spec: BrokerSpec, env: Pick<BrokerEnv, 'stateDir'>): Promise<BrokerStatus> {
  const pid = await runningPid(env, spec);
  const running = pid !== undefined && (await probe(spec, 2000, readKafkaCredentials(env.stateDir)));
  return { name: spec.name, running, ...(pid === undefined ? {} : { pid }), port: spec.port, logFile: paths(env, spec).logFile };
}

/** Pid of the running broker, for fault-injection tests (SIGKILL, SIGSTOP). */
export function brokerPid(spec: BrokerSpec, env: Pick<BrokerEnv, 'stateDir'>): Promise<number | undefined> {
  return runningPid(env, spec);
}
