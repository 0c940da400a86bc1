import { setTimeout as sleep } from 'node:timers/promises';
import type { Express } from 'express';
import { backoffDelay } from '@tillstream/backoff';
import type { z } from 'zod';
import type { logEnv, postgresEnv } from '@tillstream/config';
import type { TopicSettings } from '@tillstream/contracts';
import { createPool, type Pool } from '@tillstream/db';
import { listen, listenOptionsFromFiles, plainHttpRefusal, type ListenOptions, type TlsFileSettings } from '@tillstream/http';
import {
  KafkaAccessDenied,
  TopicsMissing,
  TypedProducer,
  asAccessDenied,
  createKafkaClient,
  kafkaSecurityFromEnv,
  requireTopics,
  type ConsumerRunner,
  type Kafka,
  type KafkaSecurityEnv,
} from '@tillstream/kafka';
import { createLogger, type HealthCheck, type Logger } from '@tillstream/observability';
import { bookingConsumer, type ServiceConsumerOptions } from './booking.ts';

const START_BACKOFF = { initialMs: 1000, maxMs: 30_000 };

/**
 * ACLs reach each broker through the cluster's metadata log, so right after
 * `tillstream kafka provision` one broker can still refuse a principal that
 * another already accepts (seen: an HQ process refused
 * CLUSTER_AUTHORIZATION_FAILED a second after its ACLs were created, on a
 * 3-broker cluster). A refusal before the consumers start is tried again
 * for this long after the first, then reported once and no longer tried.
 */
const ACL_GRACE_MS = 15_000;
const ACL_RETRY_MS = 1000;

/**
 * Runs `start` until it succeeds or `stopping` is aborted, backing off from
 * 1 s to 30 s: a service comes up (API, readiness) while its broker is still
 * down, and starts consuming once it answers. A refusal of the service's
 * principal goes to /readyz at once (`denied`) and, while `mayRetryRefusal`
 * says so, is tried again for ACL_GRACE_MS; then it is logged once as an
 * error and not tried again: retrying cannot grant an ACL, and a loop would
 * hide it.
 */
async function startWhenReachable(
  logger: Logger,
  start: () => Promise<void>,
  stopping: AbortSignal,
  denied: (err: KafkaAccessDenied | undefined) => void,
  mayRetryRefusal: () => boolean,
): Promise<void> {
  // A stop cuts the wait short: a service whose broker is away stops at once, not after its next attempt.
  const wait = (ms: number) => sleep(ms, undefined, { signal: stopping }).catch(() => undefined);
  let refusedSince: number | undefined;
  for (let attempt = 1; !stopping.aborted; attempt++) {
    try {
      await start();
      if (refusedSince !== undefined) {
        denied(undefined);
        logger.info('the broker accepts the principal now: consuming');
      }
      return;
    } catch (err) {
      if (err instanceof KafkaAccessDenied) {
        denied(err);
        if (mayRetryRefusal()) {
          if (refusedSince === undefined) {
            refusedSince = Date.now();
            logger.warn({ code: err.code, refusal: err.refusal.type }, `${err.message}; ACLs provisioned a moment ago may not have reached every broker yet: trying again for up to ${ACL_GRACE_MS / 1000} s`);
          }
          if (Date.now() - refusedSince < ACL_GRACE_MS) {
            await wait(ACL_RETRY_MS);
            continue;
          }
        }
        logger.error({ code: err.code, refusal: err.refusal.type }, err.message);
        return;
      }
      if (err instanceof TopicsMissing) {
        const delay = backoffDelay(attempt, START_BACKOFF);
        logger.error({ attempt, delayMs: delay }, `${err.message}; not consuming until they exist`);
        await wait(delay);
        continue;
      }
      const delay = backoffDelay(attempt, START_BACKOFF);
      logger.warn({ err, attempt, delayMs: delay }, 'cannot start consuming yet (broker down?); retrying');
      await wait(delay);
    }
  }
}

/** Something a service runs beside its API (a timer, a job worker, a publisher) that the runtime stops in order. */
export interface ServiceWorker {
  /** "sweeper", "outbox": named in the log when its stop overruns the deadline. */
  name: string;
  stop(): Promise<void> | void;
}

/** The broker side of a service that consumes: what must exist, who it is, what it runs. */
export interface ServiceBroker {
  kafka: Kafka;
  /** Connected before the consumers start, disconnected after the API closed (requests in flight may produce). */
  producer: TypedProducer;
  topicPrefix: string;
  /** Topics that must exist before consuming (a provisioning step creates them; the service's principal may not). */
  topics: readonly Pick<TopicSettings, 'name'>[];
  /** The service's Kafka principal (KAFKA_SASL_USERNAME), named when the broker refuses it. */
  principal?: string | undefined;
  consumers: ReadonlyArray<Pick<ConsumerRunner<unknown>, 'start' | 'stop' | 'denied'>>;
  /** After every consumer started (start publishers, reconcilers). */
  onConsuming?(): void;
}

/** What the runtime hands a service's createApp: its readiness check of the consumers. */
export interface RuntimeChecks {
  /** Fails until every consumer runs, and names a refused principal; passes at once for a service without a broker. */
  consuming: HealthCheck;
}

export interface ServiceOptions {
  /** "inventory", "hq": log lines. */
  name: string;
  logger: Logger;
  pool: Pool;
  /** The broker this service consumes from (retried in the background until it answers); absent for one that consumes nothing. */
  broker?: ServiceBroker;
  /** The service's createApp (it does not listen): the runtime listens, with the keep-alive sweep on stop. */
  app(checks: RuntimeChecks): Express;
  /** `tls`: HTTPS (listenOptionsFromFiles of the service's env); plain HTTP only on loopback or when allowed. */
  http: { host: string; port: number; logFields?: Record<string, unknown> } & ListenOptions;
  /** Stopped first, in this order, once the API stops accepting: dashboards, timers, job workers. */
  workers?: ServiceWorker[];
  /** Stopped after the consumers and before the API's last connection is awaited: what drains (an outbox, ingest's capture). */
  drains?: ServiceWorker[];
  /** Disconnected after the API closed, with the producer (ingest's broker gate). */
  links?: ServiceWorker[];
  /**
   * The whole of stop() takes at most this long: a step that overruns is
   * logged and left behind, the next ones still run (the pool still ends).
   * Default 8 s: inside the 10 s a supervisor (docker stop, the demo) gives
   * before SIGKILL.
   */
  stopDeadlineMs?: number;
}

export interface RunningService {
  url: string;
  /** The express app it serves (its routes are listed from it: listRoutes). */
  app: Express;
  stop(): Promise<void>;
}

const DEFAULT_STOP_DEADLINE_MS = 8000;

/**
 * What the runtime reads from a service's env (its own fragments: logEnv,
 * postgresEnv('<service>'), httpEnv, its Kafka fragment with
 * kafkaSecurityEnv) to build what every service has.
 */
export type RuntimeEnv = z.output<typeof logEnv> & z.output<ReturnType<typeof postgresEnv>> & KafkaSecurityEnv & TlsFileSettings & { HOST: string; PORT: number };

/** Who the service is and where its broker is; everything else the runtime builds comes from `env`. */
export interface ServiceSetup<Producer extends boolean = true> {
  /** "ingest", "hq": the logger's name, the pool's application name, the Kafka client id. */
  name: string;
  env: RuntimeEnv;
  /** Tests pass their own; default a logger named `name` at env.LOG_LEVEL. */
  logger?: Logger | undefined;
  /** A store service's STORE_ID: its log lines carry it, its pool and Kafka client are named "<name>-<store>". */
  storeId?: string;
  /** Its Kafka cluster (store or HQ); `producer: false` for a service that produces through something of its own (ingest's gate). */
  kafka: { brokers: string[]; topicPrefix: string; producer?: Producer };
}

/** What the runtime built for the service, handed to its createApp, consumers and workers. */
export type ServiceResources<Producer extends boolean = true> = { logger: Logger; pool: Pool; kafka: Kafka } & (Producer extends false
    ? unknown
    : {
        producer: TypedProducer;
        /** A booking consumer on this service's client, pool and principal, dead-lettering through its producer. */
        consumer: <Data>(options: ServiceConsumerOptions<Data>) => ConsumerRunner<Data>;
      });

/** What a service says of itself once it has its resources: its API, consumers, workers. */
export interface ServiceParts extends Omit<ServiceOptions, 'name' | 'logger' | 'pool' | 'broker' | 'http'> {
  /** Its consumers and the topics they need; the runtime adds the client, the producer, the prefix and the principal. */
  broker?: Omit<ServiceBroker, 'kafka' | 'producer' | 'topicPrefix' | 'principal'>;
  /** Extra fields of the "listening" log line. */
  logFields?: Record<string, unknown>;
}

/**
 * Starts a service through the runtime: the listener's settings are checked
 * first (a bad certificate file or plain HTTP off loopback fails at once),
 * then the logger, the pool (the service's own role), the Kafka client (with
 * its TLS and SASL principal) and, unless declared otherwise, the producer
 * are built from the service's env and handed to `build`, which says what is
 * specific to the service; then as {@link serve}. A build that fails ends the
 * pool.
 */
export async function startService<Producer extends boolean = true>(
  setup: ServiceSetup<Producer>,
  build: (resources: ServiceResources<Producer>) => ServiceParts | Promise<ServiceParts>,
): Promise<RunningService> {
  const { env, name, storeId } = setup;
  const http = { host: env.HOST, port: env.PORT, ...listenOptionsFromFiles(env) };
  const refusal = plainHttpRefusal(http.host, http);
  if (refusal) throw new Error(refusal);
  const base = setup.logger ?? createLogger({ name, level: env.LOG_LEVEL });
  const logger = storeId === undefined ? base : base.child({ store: storeId });
  const id = storeId === undefined ? name : `${name}-${storeId}`;
  const pool = createPool({ connectionString: env.DATABASE_URL, logger, applicationName: id, max: env.DATABASE_POOL_MAX, caFile: env.DATABASE_CA_FILE, passwordFile: env.DATABASE_PASSWORD_FILE });
  try {
    const kafka = createKafkaClient({ brokers: setup.kafka.brokers, clientId: id, logger, security: kafkaSecurityFromEnv(env) });
    const producer = setup.kafka.producer === false ? undefined : new TypedProducer({ kafka, logger, source: name, topicPrefix: setup.kafka.topicPrefix });
    const shared = { kafka, logger, pool, principal: env.KAFKA_SASL_USERNAME, topicPrefix: setup.kafka.topicPrefix, service: name };
    const consumer = <Data>(options: ServiceConsumerOptions<Data>) => bookingConsumer<Data>({ ...shared, deadLetterProducer: producer as TypedProducer, ...options });
    const { broker, logFields, ...parts } = await build({ logger, pool, kafka, ...(producer ? { producer, consumer } : {}) } as ServiceResources<Producer>);
    if (broker && !producer) throw new Error(`${name} consumes but declared no producer (its dead letters need one)`);
    return await serve({
      ...parts,
      name,
      logger,
      pool,
      ...(broker && producer ? { broker: { ...broker, kafka, producer, topicPrefix: setup.kafka.topicPrefix, principal: env.KAFKA_SASL_USERNAME } } : {}),
      http: { ...http, ...(logFields ? { logFields } : {}) },
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/**
 * The one process shape every Tillstream service shares: the API (built by
 * the service's createApp, with readiness for the database and the
 * consumers) serves at once; the consumers start once the broker answers.
 * stop(), once however often it is called and within its deadline: the API
 * stops accepting (idle keep-alive connections are closed as they go idle),
 * the workers stop, then the consumers, then what drains; then the API's
 * last connection, the producer and the broker links, and the pool.
 */
export async function serve(options: ServiceOptions): Promise<RunningService> {
  const { logger, pool, broker } = options;
  // Before the consumers start: a listener that may not start as configured must not leave them running.
  const refusal = plainHttpRefusal(options.http.host, options.http);
  if (refusal) throw new Error(refusal);
  const stopping = new AbortController();
  let consuming = !broker;
  let denial: KafkaAccessDenied | undefined;
  // Until the consumers start, a refusal may be an ACL still on its way to a broker (ACL_GRACE_MS); a consumer half
  // started is not started again.
  let consumersStarting = false;
  const started = broker
    ? startWhenReachable(
        logger,
        async () => {
          await requireTopics({ kafka: broker.kafka, prefix: broker.topicPrefix, specs: broker.topics, principal: broker.principal });
          await broker.producer.connect().catch((err: unknown) => {
            throw asAccessDenied(err, broker.principal, 'connecting its producer');
          });
          consumersStarting = true;
          await Promise.all(broker.consumers.map((c) => c.start()));
          consuming = true;
          broker.onConsuming?.();
        },
        stopping.signal,
        (err) => {
          denial = err;
        },
        () => !consumersStarting,
      )
    : Promise.resolve();

  const app = options.app({
    consuming: async () => {
      const refused = denial ?? broker?.consumers.find((c) => c.denied)?.denied;
      if (refused) throw refused;
      if (!consuming) throw new Error(`${options.name} is not consuming its topics (broker unreachable?)`);
    },
  });
  const http = await listen(app, options.http.host, options.http.port, options.http);
  logger.info({ url: http.url, ...options.http.logFields }, `${options.name} listening`);

  let stopped: Promise<void> | undefined;
  return {
    url: http.url,
    app,
    stop: () =>
      (stopped ??= (async () => {
        logger.info(`${options.name} stopping`);
        const deadline = Date.now() + (options.stopDeadlineMs ?? DEFAULT_STOP_DEADLINE_MS);
        const step = (name: string, run: () => Promise<void> | void) => shutdownStep(logger, deadline, name, run);
        stopping.abort();
        const closed = http.close();
        await step('broker start', () => started);
        for (const worker of options.workers ?? []) await step(worker.name, () => worker.stop());
        if (broker && consuming) await step('consumers', async () => void (await Promise.all(broker.consumers.map((c) => c.stop()))));
        for (const drain of options.drains ?? []) await step(drain.name, () => drain.stop());
        await step('http', () => closed);
        if (broker) await step('producer', () => broker.producer.disconnect());
        for (const link of options.links ?? []) await step(link.name, () => link.stop());
        await step('database pool', () => pool.end());
        logger.info(`${options.name} stopped`);
      })()),
  };
}

/** Runs one step of a stop until it ends or the stop's deadline passes; a failure or an overrun is logged, never thrown: the next steps still run. */
async function shutdownStep(logger: Logger, deadline: number, name: string, run: () => Promise<void> | void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<'overran'>((resolve) => {
    timer = setTimeout(() => resolve('overran'), Math.max(0, deadline - Date.now()));
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(run), overran]);
    if (outcome === 'overran') logger.error({ step: name }, 'shutdown step overran the stop deadline; left behind');
  } catch (err) {
    logger.error({ err, step: name }, 'shutdown step failed');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `round` now and then every `intervalMs` after each round ends (never
 * two at once); a failed round is logged and the next one runs on time.
 * stop() waits for a round in progress.
 */
export function repeatEvery(intervalMs: number, round: () => Promise<void>, onError: (err: unknown) => void): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    running = round()
      .catch(onError)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
