import { TillstreamError, type TopicSpec } from '@tillstream/contracts';
import { KafkaAccessDenied, TypedProducer, asAccessDenied, describeCluster, type Kafka, type OutgoingEvent, type RecordReceipt, type SendOptions } from '@tillstream/kafka';
import type { Logger } from '@tillstream/observability';

/** Raised when the broker cannot take a write now; `late` is the send still under way, if any. */
export class BrokerUnavailableError extends TillstreamError {
  constructor(message: string, readonly late?: Promise<RecordReceipt[]>) {
    super('BROKER_UNAVAILABLE', message, { retriable: true });
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface ProducerGateOptions {
  kafka: Kafka;
  logger: Logger;
  topicPrefix: string;
  /** Pause between reconnection attempts; default 1000 ms. */
  retryIntervalMs?: number;
  /**
   * While no send has succeeded for this long, probe the cluster, so an
   * idle ingest notices a dead broker (and /readyz says so) before the next
   * sale does; default 5000 ms.
   */
  idleProbeMs?: number;
  /** ingest's Kafka principal, named when the broker refuses it. */
  principal?: string | undefined;
}

/**
 * Owns ingest's producer and its health. kafkajs can wedge after a broker
 * restart (sends that neither fail nor finish), so the gate does not trust
 * it: a send that fails or times out marks the gate down, and a recovery
 * loop probes the cluster and replaces the producer with a fresh one. While
 * down, sends fail at once (the terminal gets 503 in microseconds, not after
 * the timeout) and /readyz says not ready.
 */
export class ProducerGate {
  private producer: TypedProducer | undefined;
  private state: 'ready' | 'down' | 'denied' = 'down';
  /** Why the broker refuses ingest (credentials, ACLs): set once, never retried, shown on /readyz. */
  private denial: KafkaAccessDenied | undefined;
  private recovering: Promise<void> | undefined;
  private stopped = false;
  private lastSuccess = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: ProducerGateOptions) {
    this.logger = options.logger.child({ component: 'producer-gate' });
  }

  isReady(): boolean {
    return this.state === 'ready';
  }

  /** Why the gate is not ready, for /readyz. */
  whyNotReady(): string {
    return this.denial?.message ?? 'producer is not connected to the broker';
  }

  /**
   * The broker refused ingest's principal: a retry loop cannot fix that and
   * would hide it, so the gate stops trying, logs it once at error level and
   * answers every send (and /readyz) with it until an operator fixes the
   * credentials or ACLs and restarts ingest.
   */
  deny(err: KafkaAccessDenied): void {
    if (this.denial) return;
    this.denial = err;
    this.state = 'denied';
    this.logger.error({ code: err.code, refusal: err.refusal.type, principal: this.options.principal }, err.message);
  }

  /** Denies when `err` is a broker's refusal; true if it was. */
  private deniedBy(err: unknown, doing: string): boolean {
    const denied = asAccessDenied(err, this.options.principal, doing);
    if (!(denied instanceof KafkaAccessDenied)) return false;
    this.deny(denied);
    return true;
  }

  /** Connects; if the broker is down, starts anyway and keeps trying in the background. */
  async start(): Promise<void> {
    try {
      await this.connectFresh();
    } catch (err) {
      if (this.deniedBy(err, 'connecting a producer')) return;
      this.logger.warn({ err }, 'broker unreachable at start; will keep trying');
      this.markDown('start');
    }
    const idleProbeMs = this.options.idleProbeMs ?? 5000;
    this.probeTimer = setInterval(() => {
      if (this.state !== 'ready' || Date.now() - this.lastSuccess < idleProbeMs) return;
      within(describeCluster(this.options.kafka), 2000, 'idle probe').then(
        () => {
          this.lastSuccess = Date.now();
        },
        (err: unknown) => {
          if (this.deniedBy(err, 'describing the cluster')) return;
          this.logger.warn({ err: (err as Error).message }, 'idle probe failed');
          this.markDown('idle probe failed');
        },
      );
    }, idleProbeMs);
    this.probeTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    await this.recovering;
    await this.producer?.disconnect().catch(() => undefined);
  }

  async send<Data>(spec: TopicSpec<Data>, events: readonly OutgoingEvent<Data>[], timeoutMs: number, options: SendOptions = {}): Promise<RecordReceipt[]> {
    const producer = this.producer;
    if (this.state !== 'ready' || !producer) throw new BrokerUnavailableError(this.denial ? 'ingest cannot write to the broker; retry later' : 'the broker is unreachable; retry later');
    const sending = producer.send(spec, events, options);
    try {
      const receipts = await within(sending, timeoutMs, 'produce');
      this.lastSuccess = Date.now();
      return receipts;
    } catch (err) {
      if ((err as TillstreamError).code === 'EVENT_INVALID') throw err;
      if (this.deniedBy(err, `writing ${this.options.topicPrefix}${spec.name}`)) throw new BrokerUnavailableError('ingest cannot write to the broker; retry later');
      this.logger.warn({ err: (err as Error).message, records: events.length }, 'produce failed; reconnecting');
      this.markDown('produce failed');
      throw new BrokerUnavailableError('the broker did not acknowledge in time; retry later', sending);
    }
  }

  private markDown(reason: string): void {
    if (this.stopped || this.denial) return;
    this.state = 'down';
    this.recovering ??= this.recover(reason).finally(() => {
      this.recovering = undefined;
    });
  }

  private async recover(reason: string): Promise<void> {
    this.logger.warn({ reason }, 'producer down');
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await within(describeCluster(this.options.kafka), 3000, 'cluster probe');
        await this.connectFresh();
        this.logger.info({ attempt }, 'producer reconnected');
        return;
      } catch (err) {
        if (this.deniedBy(err, 'reconnecting')) return;
        this.logger.debug({ err: (err as Error).message, attempt }, 'broker still unreachable');
        await new Promise((resolve) => setTimeout(resolve, this.options.retryIntervalMs ?? 1000));
      }
    }
  }

  private async connectFresh(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    if (old) await within(old.disconnect(), 3000, 'producer disconnect').catch(() => undefined);
    const fresh = new TypedProducer({ kafka: this.options.kafka, logger: this.options.logger, source: 'ingest', topicPrefix: this.options.topicPrefix });
    try {
      await within(fresh.connect(), 5000, 'producer connect');
    } catch (err) {
      await fresh.disconnect().catch(() => undefined);
      throw err;
    }
    this.producer = fresh;
    this.state = 'ready';
    this.lastSuccess = Date.now();
  }
}
