import { setTimeout as sleep } from 'node:timers/promises';
import type { Express, Router } from 'express';
import { backoffDelay } from '@tillstream/backoff';
import type { TopicSettings } from '@tillstream/contracts';
import { classifyPgError, findPrincipal, isTransientPgError, type Pool } from '@tillstream/db';
import { listen, plainHttpRefusal, serviceApp, type ListenOptions } from '@tillstream/http';
import { KafkaAccessDenied, TopicsMissing, asAccessDenied, requireTopics, type ConsumerRunner, type Kafka, type TypedProducer } from '@tillstream/kafka';
import type { Logger, Registry } from '@tillstream/observability';

const START_BACKOFF = { initialMs: 1000, maxMs: 30_000 };

/**
 * Runs `start` until it succeeds or `stopping()` turns true, backing off from
 * 1 s to 30 s: a service comes up (API, readiness) while its broker is still
 * down, and starts consuming once it answers.
 */
async function startWhenReachable(logger: Logger, start: () => Promise<void>, stopping: () => boolean, denied: (err: KafkaAccessDenied) => void): Promise<void> {
  for (let attempt = 1; !stopping(); attempt++) {
    try {
      await start();
      return;
    } catch (err) {
      // The broker refused the service's principal: retrying cannot grant an ACL, and a loop would hide it.
      if (err instanceof KafkaAccessDenied) {
        logger.error({ code: err.code, refusal: err.refusal.type }, err.message);
        denied(err);
        return;
      }
      if (err instanceof TopicsMissing) {
        const delay = backoffDelay(attempt, START_BACKOFF);
        logger.error({ attempt, delayMs: delay }, `${err.message}; not consuming until they exist`);
        await sleep(delay);
        continue;
      }
      const delay = backoffDelay(attempt, START_BACKOFF);
      logger.warn({ err, attempt, delayMs: delay }, 'cannot start consuming yet (broker down?); retrying');
      await sleep(delay);
    }
  }
}

export interface ConsumingServiceOptions {
  /** "inventory", "hq": log lines. */
  name: string;
  logger: Logger;
  pool: Pool;
  kafka: Kafka;
  producer: TypedProducer;
  topicPrefix: string;
  /** Topics that must exist before consuming (a provisioning step creates them; the service's principal may not). */
  topics: readonly Pick<TopicSettings, 'name'>[];
  /** The service's Kafka principal (KAFKA_SASL_USERNAME), named when the broker refuses it. */
  principal?: string | undefined;
  consumers: ReadonlyArray<Pick<ConsumerRunner<unknown>, 'start' | 'stop' | 'denied'>>;
  /** After every consumer started (start publishers, reconcilers). */
  onConsuming?(): void;
  /** On stop, before the consumers stop (timers, job workers). */
  beforeConsumersStop?(): Promise<void>;
  /** On stop, after the consumers stopped and before the producer disconnects (drain an outbox). */
  afterConsumersStop?(): Promise<void>;
  /** `tls`: HTTPS (listenOptionsFromFiles of the service's env); plain HTTP only on loopback or when allowed. */
  http: {
    host: string;
    port: number;
    registry: Registry;
    routes: Router[];
    /** Whose database this is: who can be told apart by their credentials (terminals and store people, or stores and HQ people). */
    site: 'store' | 'hq';
    /** How long a looked-up credential is trusted; default 5 s. */
    credentialCacheMs?: number;
    logFields?: Record<string, unknown>;
  } & ListenOptions;
}

export interface RunningService {
  url: string;
  /** The express app it serves (its routes are listed from it: listRoutes). */
  app: Express;
  stop(): Promise<void>;
}

/**
 * The process shape every Tillstream consumer service shares: the API (with
 * readiness for the database and the consumers, and database outages
 * answered 503) serves at once; the consumers start once the broker answers;
 * stop() closes the API, stops the consumers, the producer and the pool, in
 * that order, once however often it is called.
 */
export async function runConsumingService(options: ConsumingServiceOptions): Promise<RunningService> {
  const { logger, pool, producer, consumers } = options;
  // Before the consumers start: a listener that may not start as configured must not leave them running.
  const refusal = plainHttpRefusal(options.http.host, options.http);
  if (refusal) throw new Error(refusal);
  let stopping = false;
  let consuming = false;
  let denial: KafkaAccessDenied | undefined;
  const started = startWhenReachable(
    logger,
    async () => {
      await requireTopics({ kafka: options.kafka, prefix: options.topicPrefix, specs: options.topics, principal: options.principal });
      await producer.connect().catch((err: unknown) => {
        throw asAccessDenied(err, options.principal, 'connecting its producer');
      });
      await Promise.all(consumers.map((c) => c.start()));
      consuming = true;
      options.onConsuming?.();
    },
    () => stopping,
    (err) => {
      denial = err;
    },
  );

  const app = serviceApp({
    registry: options.http.registry,
    logger,
    ready: {
      database: async () => {
        await pool.query('SELECT 1');
      },
      consumer: async () => {
        const refused = denial ?? consumers.find((c) => c.denied)?.denied;
        if (refused) throw refused;
        if (!consuming) throw new Error(`${options.name} is not consuming its topics (broker unreachable?)`);
      },
    },
    routes: options.http.routes,
    authentication: {
      lookup: (credential) => findPrincipal(pool, options.http.site, credential),
      onLookupError: classifyPgError,
      ...(options.http.credentialCacheMs === undefined ? {} : { cacheMs: options.http.credentialCacheMs }),
    },
    monitor: options.http.site === 'store' ? 'store-viewer' : 'hq-viewer',
    classify: (err) => (isTransientPgError(err) ? classifyPgError(err) : err),
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
        stopping = true;
        const closed = http.close();
        await started;
        await options.beforeConsumersStop?.();
        if (consuming) await Promise.all(consumers.map((c) => c.stop()));
        await options.afterConsumersStop?.();
        await producer.disconnect();
        await closed;
        await pool.end();
        logger.info(`${options.name} stopped`);
      })()),
  };
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
