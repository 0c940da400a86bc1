// Before kafkajs itself: its producer takes this module's function when it loads.
import './message-grouping.ts';
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from '@tillstream/observability';
import { kafkajsSecurity, type KafkaSecurity } from './security.ts';
import './request-queue-fix.ts';
import './record-encoding.ts';
import './crc32c.ts';
// After the record encoder and the checksum: the produce request takes both when this loads it.
import './produce-encoding.ts';

export interface KafkaClientOptions {
  /** Bootstrap brokers, "host:port". */
  brokers: string[];
  /** Shows up in broker logs and quotas; name the service and store. */
  clientId: string;
  logger: Logger;
  /**
   * TCP connect timeout. Default 3000 ms: brokers are on the store's LAN or
   * loopback, so a slow connect means a dead broker and callers (ingest's
   * 503 budget, /readyz) need the answer quickly.
   */
  connectionTimeoutMs?: number;
  /** Per-request timeout; default 10000 ms (kafkajs' 30 s default hides a wedged broker for too long). */
  requestTimeoutMs?: number;
  /**
   * Client-level retries for metadata and connection errors. Default 5 with
   * a 300 ms initial backoff: enough to ride out a leader election, short
   * enough that callers see an outage within seconds and decide themselves.
   */
  retries?: number;
  /** TLS and SASL SCRAM-SHA-512 (each service's own principal); absent: PLAINTEXT. */
  security?: KafkaSecurity;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs' own logging into pino once, as kafkajs' logCreator intends. */
function pinoLogCreator(logger: Logger): KafkaConfig['logCreator'] {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
      // kafkajs logs every error *response* at error level before its own retry
      // decides anything ("not the leader" just after a topic is created, a
      // group rebalancing). What turns out final reaches our code as a thrown
      // error and is logged there; the response itself is a warning.
      const pinoLevel = level === logLevel.ERROR && message.startsWith('Response ') ? 'warn' : (LEVELS[level] ?? 'info');
      child[pinoLevel](extra, message);
    };
}

/** kafkajs' log level from the pino one, so debug logging is one switch. */
function kafkaLogLevel(logger: Logger): logLevel {
  switch (logger.level) {
    case 'debug':
    case 'trace':
      return logLevel.DEBUG;
    case 'info':
      return logLevel.INFO;
    case 'warn':
      return logLevel.WARN;
    case 'silent':
      return logLevel.NOTHING;
    default:
      return logLevel.ERROR;
  }
}

/** The one factory of Kafka clients in Tillstream. */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    retry: { retries: options.retries ?? 5, initialRetryTime: 300, maxRetryTime: 5000 },
    logLevel: kafkaLogLevel(options.logger),
    logCreator: pinoLogCreator(options.logger),
    ...kafkajsSecurity(options.security),
  });
}

export type { Kafka } from 'kafkajs';
