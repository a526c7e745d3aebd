/**
 * Structured logs: pino, JSON on stderr (stdout belongs to command output). `LOG_FORMAT=pretty`
 * prints human lines, and only when stderr is a terminal. Every invocation gets a request id that
 * child loggers, audit rows and job payloads carry, so one operator action can be followed end to end.
 *
 * pino itself loads on the first line written at an enabled level (or the first use of anything
 * else on the logger): a read command at the default level `warn` usually writes none, and loading
 * pino is a good part of what such a command would otherwise cost.
 */
import { createRequire } from 'node:module';
import type { DestinationStream, Logger, LoggerOptions as PinoOptions } from 'pino';
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
  return lazyLogger(options.level, () => {
    const pino = requirePino();
    const pinoOptions: PinoOptions = {
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
  });
}

const requireCjs = createRequire(import.meta.url);

/** pino and pino-pretty are CommonJS: loaded synchronously, when a logger first needs them. */
function requirePino(): typeof import('pino').default {
  return requireCjs('pino') as typeof import('pino').default;
}

function prettyStream(): DestinationStream {
  // pino-pretty is loaded only when asked for (it costs start-up time).
  const pretty = requireCjs('pino-pretty') as (opts: Record<string, unknown>) => DestinationStream;
  return pretty({ destination: 2, sync: true, colorize: !process.env.NO_COLOR, ignore: 'pid,hostname' });
}

/** pino's level numbers: a call below the logger's level writes nothing, so it needs no pino. */
const LEVEL_VALUES: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
const levelValue = (level: string) => LEVEL_VALUES[level] ?? Number.POSITIVE_INFINITY; // silent
const ignore = () => {};

/**
 * A pino logger made on first real use. Until then it answers what needs no pino: a call at a
 * disabled level does nothing (as pino's would), `level` and `isLevelEnabled` read the level it
 * was given, and `child()` makes a lazy child. Anything else makes the pino logger and is passed
 * to it, so the object behaves as the pino logger it stands for.
 */
function lazyLogger(level: string, make: () => Logger): Logger {
  let real: Logger | undefined;
  const realize = () => {
    real ??= make();
    return real;
  };
  const threshold = levelValue(level);
  return new Proxy({} as Logger, {
    get(_target, prop) {
      if (!real && typeof prop === 'string') {
        if (prop in LEVEL_VALUES && levelValue(prop) < threshold) return ignore;
        if (prop === 'silent') return ignore;
        if (prop === 'level') return level;
        if (prop === 'isLevelEnabled') return (l: string) => levelValue(l) >= threshold;
        if (prop === 'child') {
          return (bindings: Record<string, unknown>, options?: { level?: string }) =>
            bindings
              ? lazyLogger(options?.level ?? level, () => realize().child(bindings, options))
              : realize().child(bindings, options); // pino's own error
        }
      }
      const logger = realize();
      const value = Reflect.get(logger, prop, logger);
      return typeof value === 'function' ? value.bind(logger) : value;
    },
    set(_target, prop, value) {
      return Reflect.set(realize(), prop, value);
    },
    has(_target, prop) {
      return Reflect.has(realize(), prop);
    },
  });
}

/**
 * A fresh request id. Web Crypto's global `crypto`, loaded on first use: a command that never needs
 * its id (a read that logs nothing and audits nothing) never loads node:crypto.
 */
export function newRequestId(): string {
  return crypto.randomUUID();
}
