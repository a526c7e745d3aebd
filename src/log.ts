/**
 * Structured logs: pino, JSON on stderr (stdout belongs to command output). `LOG_FORMAT=pretty`
 * prints human lines, and only when stderr is a terminal. Every invocation gets a request id that
 * child loggers, audit rows and job payloads carry, so one operator action can be followed end to end.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config/index.ts';

export type { Logger } from 'pino';

/** Keys that must never reach a log line, wherever they appear. Diary text has no business in logs at all. */
const REDACT = [
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'secretKey',
  '*.secretKey',
  'billingKey',
  '*.billingKey',
  'plaintext',
  '*.plaintext',
  'content',
  '*.content',
];

export interface LoggerOptions {
  level: LogLevel;
  format?: 'json' | 'pretty';
  /** Where lines go; defaults to stderr. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const pinoOptions = {
    level: options.level,
    base: { pid: process.pid, ...options.base },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(pinoOptions, options.destination);
  if (options.format === 'pretty' && process.stderr.isTTY) {
    // A synchronous pretty stream, not a transport worker: a CLI must not lose its last lines on exit.
    return pino(pinoOptions, prettyStream());
  }
  return pino(pinoOptions, pino.destination({ fd: 2, sync: true }));
}

function prettyStream(): DestinationStream {
  // pino-pretty is loaded only when asked for (it costs start-up time), synchronously, as CommonJS.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (
    opts: Record<string, unknown>,
  ) => DestinationStream;
  return pretty({ destination: 2, sync: true, colorize: !process.env.NO_COLOR, ignore: 'pid,hostname' });
}

export function newRequestId(): string {
  return randomUUID();
}
