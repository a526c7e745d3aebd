/**
 * Configuration: parsed once from flags > environment > `.env`, validated with every problem
 * reported at once, then frozen. Nothing else in sumda reads process.env for settings.
 */
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { durationMs } from '../time/grammar.ts';
import { redactUrl } from '../util/redact.ts';

export { redactUrl };

// From Node's own module objects, not `import … from 'node:fs' / 'node:util'`: an ES import of either
// builds a namespace of every export, which loads much of Node's internals (~5 ms CPU per command).
const { existsSync, readFileSync } = process.getBuiltinModule('node:fs');
const { parseEnv } = process.getBuiltinModule('node:util');

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One AES-256 key named by an id; the id is written into every ciphertext it seals. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface Config {
  /** Where Postgres is; undefined means "use the embedded server under dataDir". */
  readonly databaseUrl: string | undefined;
  /**
   * SUMDA_WORKER_DATABASE_URL: what `sumda worker` connects with (a sumda_worker login), so one
   * environment can hold both the operator's URL and the worker's; unset = DATABASE_URL.
   */
  readonly workerDatabaseUrl: string | undefined;
  readonly dataDir: string;
  /** The embedded server stops this long after the last command that used it (0: at once). */
  readonly embeddedIdleMs: number;
  /** Keys from SUMDA_ENCRYPTION_KEYS, the first one seals new text; undefined means "not configured". */
  readonly encryptionKeys: readonly EncryptionKey[] | undefined;
  /** Keys from SUMDA_AUDIT_KEY: the first signs new audit rows, the rest still verify old ones; undefined = unkeyed chain. */
  readonly auditKeys: readonly EncryptionKey[] | undefined;
  /** The operator's admin e-mail (SUMDA_ACTOR or --as). */
  readonly actor: string | undefined;
  /** SUMDA_TOKEN: proves the operator over a shared database login (src/admins/tokens.ts). Never echoed. */
  readonly operatorToken: string | undefined;
  /** LOG_LEVEL / --log-level; undefined means each command's default (warn; the worker: info). */
  readonly logLevel: LogLevel | undefined;
  readonly logFormat: 'json' | 'pretty';
  /** Which analyzer the worker uses; `local` is the deterministic offline analyzer. */
  readonly analyzer: 'openai' | 'local';
  readonly openai: {
    readonly apiKey: string | undefined;
    readonly baseUrl: string | undefined;
    readonly timeoutMs: number;
    /** Requests per minute shared by every worker; 0 = unlimited. */
    readonly requestsPerMinute: number;
  };
  readonly billing: BillingConfig;
  /** Days a log row is kept before the logs.retention job deletes it (src/logs/retention.ts). */
  readonly retention: {
    readonly apiLogsDays: number;
    readonly loginLogsDays: number;
    readonly errorLogsDays: number;
  };
  readonly worker: {
    /** Port of the worker's /metrics, /healthz and /readyz; undefined = not served. */
    readonly metricsPort: number | undefined;
    /** Connections in each of a worker's two pools (sumda's and pg-boss's). */
    readonly poolSize: number;
  };
}

/** Toss Payments recurring billing (src/billing). */
export interface BillingConfig {
  /** TOSS_SECRET_KEY: `test_sk_…` (test mode) or `live_sk_…`; undefined = billing cannot charge. */
  readonly tossSecretKey: string | undefined;
  readonly tossMode: 'test' | 'live' | undefined;
  /** TOSS_API_URL, default the real API. */
  readonly tossApiUrl: string;
  /** TOSS_TIMEOUT_MS: a charge or look-up that takes longer is abandoned (outcome unknown). */
  readonly tossTimeoutMs: number;
  /**
   * TOSS_MAX_IN_FLIGHT: Toss calls one worker process has in flight at most (default 64); the
   * renewal queue holds twice as many jobs so their database work overlaps the calls.
   */
  readonly tossMaxInFlight: number;
  /** SUMDA_DUNNING_DAYS: retry a soft decline this many days after the due date, in order (default 1,3,5,7). */
  readonly dunningDays: readonly number[];
  /** SUMDA_RENEWAL_NOTICE_DAYS: the renewal notice goes out this many days before a charge. */
  readonly noticeLeadDays: number;
  /** SUMDA_BILLING_RECONCILE_AFTER_S: a payment pending longer than this is looked up by order id. */
  readonly reconcileAfterSeconds: number;
}

export const TOSS_DEFAULT_URL = 'https://api.tosspayments.com';

/** Settings given on the command line; they win over the environment. */
export interface ConfigFlags {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  actor?: string | undefined;
  logLevel?: string | undefined;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** Default data folder: per user, XDG style; root uses /var/lib/sumda (the embedded server runs as `postgres`, which cannot enter /root). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'sumda');
  if (process.getuid?.() === 0) return '/var/lib/sumda';
  // node:os only here: a start that needs no home folder loads none of it.
  return join(process.getBuiltinModule('node:os').homedir(), '.local', 'share', 'sumda');
}

/**
 * `<id>:<base64 of 32 bytes>[,…]`. A problem names the variable, the entry's position and the key
 * id only once it is known to be an id: an entry written the wrong way round (`<key>:<id>`) would
 * otherwise print the key.
 */
function parseKeys(raw: string, problems: string[], variable = 'SUMDA_ENCRYPTION_KEYS'): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  const seen = new Set<string>();
  for (const [index, part] of raw.split(',').entries()) {
    const item = part.trim();
    const colon = item.indexOf(':');
    if (colon < 0) {
      problems.push(`${variable}: entry ${index + 1} must look like <key-id>:<base64 of 32 bytes>`);
      continue;
    }
    const id = item.slice(0, colon);
    const key = Buffer.from(item.slice(colon + 1), 'base64');
    if (!KEY_ID.test(id)) {
      problems.push(
        `${variable}: entry ${index + 1} does not start with a key id (1-32 of [A-Za-z0-9_-]); is it written the wrong way round? It must be <key-id>:<base64>`,
      );
    } else if (seen.has(id)) {
      problems.push(`${variable}: key id ${id} appears twice`);
    } else if (key.length !== 32) {
      problems.push(`${variable}: key ${id} must be 32 bytes of base64 (got ${key.length})`);
    } else {
      keys.push({ id, key });
    }
    seen.add(id);
  }
  return keys;
}

/** How long the embedded server outlives the last command that used it, unless SUMDA_EMBEDDED_IDLE says. */
export const DEFAULT_EMBEDDED_IDLE_MS = 15 * 60_000;

/**
 * The settings are a few strings, each checked by one small rule below (no schema library: this runs
 * at the start of every command, and loading one cost more than the rest of the configuration).
 * A rule returns the value (converted) or undefined after pushing its problems.
 */
type Rule = (raw: string, problems: string[]) => unknown;

const matches =
  (pattern: RegExp, message: string): Rule =>
  (raw, problems) => {
    if (pattern.test(raw)) return raw;
    problems.push(message);
    return undefined;
  };

const oneOf =
  (values: readonly string[], message: string): Rule =>
  (raw, problems) => {
    if (values.includes(raw)) return raw;
    problems.push(message);
    return undefined;
  };

/** Anything the WHATWG URL parser accepts, trimmed, without the tabs and line breaks it would ignore. */
const url =
  (message: string): Rule =>
  (raw, problems) => {
    const trimmed = raw.trim();
    if (URL.canParse(trimmed)) return trimmed.replace(/[\t\n\r]/g, '');
    problems.push(message);
    return undefined;
  };

/** local@domain.tld: dot-separated words of [A-Za-z0-9_'+-] (the last character not '), a domain of labels, a 2+ letter TLD. */
const EMAIL =
  /^(?:[A-Za-z0-9_'+-]+\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+[A-Za-z]{2,}$/;

/**
 * A whole number ≥ 0 (as `Number()` reads it: surrounding spaces, `1e3` and `0x10` too), within
 * `min`/`max` when given. A negative number is reported as "<name> must be a number", as it always
 * has been.
 */
const wholeNumber =
  (name: string, min?: [number, string], max?: [number, string]): Rule =>
  (raw, problems) => {
    const n = Number(raw);
    if (!Number.isFinite(n)) {
      problems.push(`${name} must be a number`);
      return undefined;
    }
    if (!Number.isInteger(n)) {
      problems.push(`${name} must be a whole number`);
      return undefined;
    }
    const before = problems.length;
    if (!Number.isSafeInteger(n)) problems.push(`${name} must be a whole number`);
    if (n < 0) problems.push(`${name} must be a number`);
    if (min && n < min[0]) problems.push(min[1]);
    if (max && n > max[0]) problems.push(max[1]);
    return problems.length === before ? n : undefined;
  };

const any: Rule = (raw) => raw;
const POSTGRES_URL = /^postgres(ql)?:\/\//;
const days = (name: string) => wholeNumber(name, undefined, [3650, `${name} must be at most 3650`]);

/** Every setting read from the environment, in the order problems are reported. */
const RULES = {
  DATABASE_URL: matches(POSTGRES_URL, 'DATABASE_URL must start with postgres:// or postgresql://'),
  SUMDA_WORKER_DATABASE_URL: matches(
    POSTGRES_URL,
    'SUMDA_WORKER_DATABASE_URL must start with postgres:// or postgresql://',
  ),
  SUMDA_DATA_DIR: any,
  SUMDA_EMBEDDED_IDLE: (raw, problems) => {
    if (raw === '0' || durationMs(raw) !== null) return raw;
    problems.push('SUMDA_EMBEDDED_IDLE must be a duration (15m, 1h) or 0 (stop when the last command ends)');
    return undefined;
  },
  SUMDA_ACTOR: matches(EMAIL, 'SUMDA_ACTOR must be an admin e-mail address'),
  // The message never repeats the value: it is a secret.
  SUMDA_TOKEN: matches(
    /^sumda_tok_[A-Za-z0-9_-]{43}$/,
    'SUMDA_TOKEN must be a token from `sumda admin token issue`',
  ),
  LOG_LEVEL: oneOf(LOG_LEVELS, `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`),
  LOG_FORMAT: oneOf(['json', 'pretty'], 'LOG_FORMAT must be json or pretty'),
  SUMDA_ANALYZER: oneOf(['openai', 'local'], 'SUMDA_ANALYZER must be openai or local'),
  OPENAI_API_KEY: any,
  OPENAI_BASE_URL: url('OPENAI_BASE_URL must be a URL'),
  OPENAI_TIMEOUT_MS: wholeNumber('OPENAI_TIMEOUT_MS'),
  SUMDA_OPENAI_RPM: wholeNumber('SUMDA_OPENAI_RPM'),
  SUMDA_METRICS_PORT: wholeNumber('SUMDA_METRICS_PORT', undefined, [
    65_535,
    'SUMDA_METRICS_PORT must be a port',
  ]),
  SUMDA_RETENTION_API_LOGS_DAYS: days('SUMDA_RETENTION_API_LOGS_DAYS'),
  SUMDA_RETENTION_LOGIN_LOGS_DAYS: days('SUMDA_RETENTION_LOGIN_LOGS_DAYS'),
  SUMDA_RETENTION_ERROR_LOGS_DAYS: days('SUMDA_RETENTION_ERROR_LOGS_DAYS'),
  SUMDA_DB_POOL_SIZE: wholeNumber(
    'SUMDA_DB_POOL_SIZE',
    [2, 'SUMDA_DB_POOL_SIZE must be at least 2'],
    [100, 'SUMDA_DB_POOL_SIZE must be at most 100'],
  ),
  TOSS_SECRET_KEY: matches(
    /^(test|live)_(g?sk)_[A-Za-z0-9_]+$/,
    'TOSS_SECRET_KEY must be a Toss secret key (test_sk_… or live_sk_…)',
  ),
  TOSS_API_URL: url('TOSS_API_URL must be a URL'),
  TOSS_TIMEOUT_MS: wholeNumber('TOSS_TIMEOUT_MS'),
  // 0 would let no renewal call Toss at all (the gate needs a place).
  TOSS_MAX_IN_FLIGHT: wholeNumber(
    'TOSS_MAX_IN_FLIGHT',
    [1, 'TOSS_MAX_IN_FLIGHT must be at least 1'],
    [1000, 'TOSS_MAX_IN_FLIGHT must be at most 1000'],
  ),
  SUMDA_DUNNING_DAYS: matches(
    /^\d{1,2}(,\d{1,2})*$/,
    'SUMDA_DUNNING_DAYS must be increasing whole days, e.g. 1,3,5,7',
  ),
  SUMDA_RENEWAL_NOTICE_DAYS: wholeNumber('SUMDA_RENEWAL_NOTICE_DAYS'),
  SUMDA_BILLING_RECONCILE_AFTER_S: wholeNumber('SUMDA_BILLING_RECONCILE_AFTER_S'),
} satisfies Record<string, Rule>;

type Setting = keyof typeof RULES;

/** The checked settings, typed; a setting that is unset or failed its rule is undefined. */
interface Settings {
  DATABASE_URL?: string;
  SUMDA_WORKER_DATABASE_URL?: string;
  SUMDA_DATA_DIR?: string;
  SUMDA_EMBEDDED_IDLE?: string;
  SUMDA_ACTOR?: string;
  SUMDA_TOKEN?: string;
  LOG_LEVEL?: LogLevel;
  LOG_FORMAT?: 'json' | 'pretty';
  SUMDA_ANALYZER?: 'openai' | 'local';
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  OPENAI_TIMEOUT_MS?: number;
  SUMDA_OPENAI_RPM?: number;
  SUMDA_METRICS_PORT?: number;
  SUMDA_RETENTION_API_LOGS_DAYS?: number;
  SUMDA_RETENTION_LOGIN_LOGS_DAYS?: number;
  SUMDA_RETENTION_ERROR_LOGS_DAYS?: number;
  SUMDA_DB_POOL_SIZE?: number;
  TOSS_SECRET_KEY?: string;
  TOSS_API_URL?: string;
  TOSS_TIMEOUT_MS?: number;
  TOSS_MAX_IN_FLIGHT?: number;
  SUMDA_DUNNING_DAYS?: string;
  SUMDA_RENEWAL_NOTICE_DAYS?: number;
  SUMDA_BILLING_RECONCILE_AFTER_S?: number;
}

/** Every setting through its rule, in RULES order; every problem is collected. */
function checkSettings(raw: Record<Setting, string | undefined>, problems: string[]): Settings {
  const settings: Record<string, unknown> = {};
  for (const [name, rule] of Object.entries(RULES) as [Setting, Rule][]) {
    const value = raw[name];
    if (value !== undefined) settings[name] = rule(value, problems);
  }
  return settings as Settings;
}

/** A live key may only talk to the real API over https (never to a local double or plain http). */
function liveKeyProblem(key: string | undefined, url: string): string | undefined {
  if (!key?.startsWith('live_')) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const local = /^(localhost|127\.|\[::1\]|0\.0\.0\.0)/.test(parsed.hostname);
  if (parsed.protocol !== 'https:' || local) {
    return `TOSS_SECRET_KEY is a live key: TOSS_API_URL must be an https URL that is not localhost (got ${redactUrl(url)})`;
  }
  return undefined;
}

function parseDunning(raw: string | undefined, problems: string[]): number[] {
  if (raw === undefined) return [1, 3, 5, 7];
  const days = raw.split(',').map(Number);
  if (days.some((d, i) => d < 1 || (i > 0 && d <= days[i - 1]!))) {
    problems.push('SUMDA_DUNNING_DAYS must be increasing whole days of at least 1, e.g. 1,3,5,7');
  }
  return days;
}

/** Reads `.env` in the working directory (or SUMDA_ENV_FILE); values there lose to the real environment. */
export function readDotenv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const parsed = parseEnv(readFileSync(path, 'utf8'));
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => e[1] !== undefined));
}

export function loadConfig(
  flags: ConfigFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Config {
  const dotenv = readDotenv(resolve(cwd, env.SUMDA_ENV_FILE ?? '.env'));
  const pick = (name: string, flag?: string): string | undefined => {
    const value = flag ?? env[name] ?? dotenv[name];
    return value === '' ? undefined : value;
  };
  const raw: Record<Setting, string | undefined> = {
    DATABASE_URL: pick('DATABASE_URL', flags.databaseUrl),
    SUMDA_WORKER_DATABASE_URL: pick('SUMDA_WORKER_DATABASE_URL'),
    SUMDA_DATA_DIR: pick('SUMDA_DATA_DIR', flags.dataDir),
    SUMDA_EMBEDDED_IDLE: pick('SUMDA_EMBEDDED_IDLE'),
    SUMDA_ACTOR: pick('SUMDA_ACTOR', flags.actor),
    SUMDA_TOKEN: pick('SUMDA_TOKEN'),
    LOG_LEVEL: pick('LOG_LEVEL', flags.logLevel),
    LOG_FORMAT: pick('LOG_FORMAT'),
    SUMDA_ANALYZER: pick('SUMDA_ANALYZER'),
    OPENAI_API_KEY: pick('OPENAI_API_KEY'),
    OPENAI_BASE_URL: pick('OPENAI_BASE_URL'),
    OPENAI_TIMEOUT_MS: pick('OPENAI_TIMEOUT_MS'),
    SUMDA_OPENAI_RPM: pick('SUMDA_OPENAI_RPM'),
    SUMDA_METRICS_PORT: pick('SUMDA_METRICS_PORT'),
    SUMDA_DB_POOL_SIZE: pick('SUMDA_DB_POOL_SIZE'),
    SUMDA_RETENTION_API_LOGS_DAYS: pick('SUMDA_RETENTION_API_LOGS_DAYS'),
    SUMDA_RETENTION_LOGIN_LOGS_DAYS: pick('SUMDA_RETENTION_LOGIN_LOGS_DAYS'),
    SUMDA_RETENTION_ERROR_LOGS_DAYS: pick('SUMDA_RETENTION_ERROR_LOGS_DAYS'),
    TOSS_SECRET_KEY: pick('TOSS_SECRET_KEY'),
    TOSS_API_URL: pick('TOSS_API_URL'),
    TOSS_TIMEOUT_MS: pick('TOSS_TIMEOUT_MS'),
    TOSS_MAX_IN_FLIGHT: pick('TOSS_MAX_IN_FLIGHT'),
    SUMDA_DUNNING_DAYS: pick('SUMDA_DUNNING_DAYS'),
    SUMDA_RENEWAL_NOTICE_DAYS: pick('SUMDA_RENEWAL_NOTICE_DAYS'),
    SUMDA_BILLING_RECONCILE_AFTER_S: pick('SUMDA_BILLING_RECONCILE_AFTER_S'),
  };
  const problems: string[] = [];
  const data = checkSettings(raw, problems);
  const settingsOk = problems.length === 0;
  const rawKeys = pick('SUMDA_ENCRYPTION_KEYS');
  const keys = rawKeys === undefined ? undefined : parseKeys(rawKeys, problems);
  const rawAuditKeys = pick('SUMDA_AUDIT_KEY');
  const auditKeys =
    rawAuditKeys === undefined ? undefined : parseKeys(rawAuditKeys, problems, 'SUMDA_AUDIT_KEY');
  if (raw.SUMDA_ANALYZER === 'openai' && !raw.OPENAI_API_KEY) {
    problems.push('SUMDA_ANALYZER=openai needs OPENAI_API_KEY');
  }
  const live = liveKeyProblem(raw.TOSS_SECRET_KEY, raw.TOSS_API_URL ?? TOSS_DEFAULT_URL);
  if (live) problems.push(live);
  const dunningDays = parseDunning(settingsOk ? data.SUMDA_DUNNING_DAYS : undefined, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const config: Config = {
    databaseUrl: data.DATABASE_URL,
    workerDatabaseUrl: data.SUMDA_WORKER_DATABASE_URL,
    dataDir: resolve(cwd, data.SUMDA_DATA_DIR ?? defaultDataDir(env)),
    embeddedIdleMs:
      data.SUMDA_EMBEDDED_IDLE === undefined
        ? DEFAULT_EMBEDDED_IDLE_MS
        : data.SUMDA_EMBEDDED_IDLE === '0'
          ? 0
          : durationMs(data.SUMDA_EMBEDDED_IDLE)!,
    encryptionKeys: keys,
    auditKeys,
    actor: data.SUMDA_ACTOR?.toLowerCase(),
    operatorToken: data.SUMDA_TOKEN,
    logLevel: data.LOG_LEVEL,
    logFormat: data.LOG_FORMAT ?? 'json',
    analyzer: data.SUMDA_ANALYZER ?? (data.OPENAI_API_KEY ? 'openai' : 'local'),
    openai: {
      apiKey: data.OPENAI_API_KEY,
      baseUrl: data.OPENAI_BASE_URL,
      timeoutMs: data.OPENAI_TIMEOUT_MS ?? 60_000,
      requestsPerMinute: data.SUMDA_OPENAI_RPM ?? 0,
    },
    retention: {
      apiLogsDays: data.SUMDA_RETENTION_API_LOGS_DAYS ?? 90,
      loginLogsDays: data.SUMDA_RETENTION_LOGIN_LOGS_DAYS ?? 365,
      errorLogsDays: data.SUMDA_RETENTION_ERROR_LOGS_DAYS ?? 180,
    },
    worker: {
      metricsPort: data.SUMDA_METRICS_PORT,
      poolSize: data.SUMDA_DB_POOL_SIZE ?? 10,
    },
    billing: {
      tossSecretKey: data.TOSS_SECRET_KEY,
      tossMode: data.TOSS_SECRET_KEY
        ? data.TOSS_SECRET_KEY.startsWith('live_')
          ? 'live'
          : 'test'
        : undefined,
      tossApiUrl: (data.TOSS_API_URL ?? TOSS_DEFAULT_URL).replace(/\/+$/, ''),
      tossTimeoutMs: data.TOSS_TIMEOUT_MS ?? 15_000,
      tossMaxInFlight: data.TOSS_MAX_IN_FLIGHT ?? 64,
      dunningDays,
      noticeLeadDays: data.SUMDA_RENEWAL_NOTICE_DAYS ?? 7,
      reconcileAfterSeconds: data.SUMDA_BILLING_RECONCILE_AFTER_S ?? 300,
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The configuration as it may be shown to an operator: every secret redacted. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    DATABASE_URL: config.databaseUrl ? redactUrl(config.databaseUrl) : '(embedded)',
    SUMDA_WORKER_DATABASE_URL: config.workerDatabaseUrl
      ? redactUrl(config.workerDatabaseUrl)
      : '(unset: the worker uses DATABASE_URL)',
    SUMDA_DATA_DIR: config.dataDir,
    SUMDA_EMBEDDED_IDLE: config.databaseUrl
      ? '(not used: DATABASE_URL is set)'
      : config.embeddedIdleMs === 0
        ? '0 (stops when the last command ends)'
        : `${Math.round(config.embeddedIdleMs / 60_000)}m`,
    SUMDA_ENCRYPTION_KEYS: config.encryptionKeys
      ? config.encryptionKeys.map((k) => `${k.id}:*****`).join(',')
      : config.databaseUrl
        ? '(unset: commands that read or write diary text refuse, exit 2)'
        : '(unset: a development key in the data folder)',
    SUMDA_AUDIT_KEY: config.auditKeys
      ? config.auditKeys.map((k) => `${k.id}:*****`).join(',')
      : '(unset: the audit chain is not keyed)',
    SUMDA_ACTOR: config.actor ?? '(unset)',
    SUMDA_TOKEN: config.operatorToken ? 'sumda_tok_*****' : '(unset)',
    LOG_LEVEL: config.logLevel ?? '(default: warn; the worker: info)',
    LOG_FORMAT: config.logFormat,
    SUMDA_ANALYZER: config.analyzer,
    OPENAI_API_KEY: config.openai.apiKey ? '*****' : '(unset)',
    OPENAI_BASE_URL: config.openai.baseUrl ? redactUrl(config.openai.baseUrl) : '(default)',
    OPENAI_TIMEOUT_MS: config.openai.timeoutMs,
    SUMDA_OPENAI_RPM: config.openai.requestsPerMinute || '(unlimited)',
    SUMDA_METRICS_PORT: config.worker.metricsPort ?? '(none)',
    SUMDA_DB_POOL_SIZE: config.worker.poolSize,
    SUMDA_RETENTION_API_LOGS_DAYS: config.retention.apiLogsDays,
    SUMDA_RETENTION_LOGIN_LOGS_DAYS: config.retention.loginLogsDays,
    SUMDA_RETENTION_ERROR_LOGS_DAYS: config.retention.errorLogsDays,
    TOSS_SECRET_KEY: config.billing.tossSecretKey ? `${config.billing.tossMode}_sk_*****` : '(unset)',
    TOSS_API_URL: redactUrl(config.billing.tossApiUrl),
    TOSS_TIMEOUT_MS: config.billing.tossTimeoutMs,
    TOSS_MAX_IN_FLIGHT: config.billing.tossMaxInFlight,
    SUMDA_DUNNING_DAYS: config.billing.dunningDays.join(','),
    SUMDA_RENEWAL_NOTICE_DAYS: config.billing.noticeLeadDays,
    SUMDA_BILLING_RECONCILE_AFTER_S: config.billing.reconcileAfterSeconds,
  };
}
