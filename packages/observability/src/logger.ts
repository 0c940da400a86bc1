import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/**
 * Paths pino censors in every log line. Logs carry metadata, never documents:
 * a transaction body may hold personal data and, if a terminal misbehaves, a
 * card number; credentials must never reach a log shipper.
 */
export const REDACT_PATHS = [
  'authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'apiKey',
  '*.apiKey',
  'body',
  'req.body',
  'payload',
  '*.payload',
  'value',
  'card',
  '*.card',
];

export interface CreateLoggerOptions {
  /** Service or component name, written as `service` on every line. */
  name: string;
  /** pino level; default `info`. `silent` in tests that assert on output elsewhere. */
  level?: LoggerOptions['level'];
  /** Extra paths to censor, on top of {@link REDACT_PATHS}. */
  redact?: string[];
  /** Where lines go; default stdout. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  /** Human-readable lines (CLIs, `npm start`); services in production log JSON. */
  pretty?: boolean;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.name },
    redact: { paths: [...REDACT_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(config, options.destination);
  if (options.pretty) {
    return pino(config, pretty({ sync: true, singleLine: true, colorize: process.stdout.isTTY, ignore: 'pid,hostname,service', translateTime: 'HH:MM:ss.l' }));
  }
  return pino(config);
}
