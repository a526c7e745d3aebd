/**
 * What every command handler receives, and the one error boundary around it. A handler is a thin
 * wrapper: it reads flags, calls a domain function and renders the answer through `ctx.out`.
 * Heavy modules (kysely, pg, pg-boss, openai) load lazily here and in the handlers, never at
 * start-up, so `sumda --help` stays fast.
 */
import type { Command } from 'commander';
import type { Actor } from '../admins/actor.ts';
import type { Operation, OperationWithActor } from '../audit/index.ts';
import type { Config, ConfigFlags } from '../config/index.ts';
import type { Db } from '../db/connect.ts';
import type { DatabaseTarget } from '../db/server.ts';
import { ExitCode, InterruptedError, PermissionDeniedError, SumdaError, UsageError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { PgBoss } from '../queue/boss.ts';
import { shortenArguments } from '../util/quote.ts';
import { redactText } from '../util/redact.ts';
import { createOutput, type Output } from './output.ts';
import { createProgress, type ProgressReporter } from './progress.ts';

export interface GlobalOptions {
  databaseUrl?: string;
  dataDir?: string;
  as?: string;
  logLevel?: string;
  verbose?: boolean;
  json?: boolean;
  yes?: boolean;
  dryRun?: boolean;
  wide?: boolean;
}

export interface CommandContext {
  readonly config: Config;
  readonly log: Logger;
  readonly requestId: string;
  readonly out: Output;
  readonly progress: ProgressReporter;
  /** The command line with secrets removed, for the audit trail. */
  readonly commandLine: string;
  /** Aborted on the first Ctrl-C / SIGTERM; long work checks it between chunks. */
  readonly signal: AbortSignal;
  databaseUrl(): Promise<string>;
  db(): Promise<Db>;
  /**
   * pg-boss over the same database, started once for this command (no scheduler, no maintenance:
   * commands enqueue and inspect) and stopped when it ends. The one way a command opens pg-boss.
   */
  boss(): Promise<PgBoss>;
  /** The operator running this command (SUMDA_ACTOR or --as), resolved against admin.admins. */
  actor(): Promise<Actor>;
  /** Actor + request id + command line: what every mutating domain function takes. */
  operation(): Promise<OperationWithActor>;
  onCleanup(fn: () => Promise<void> | void): void;
}

/** A command body; a number it returns is the exit code (anything else means 0). */
export type Handler<O> = (ctx: CommandContext, opts: O & GlobalOptions, args: string[]) => Promise<unknown>;

/** Commands whose default log level is `info` (daemons); the rest default to `warn` to keep terminals quiet. */
const CHATTY = new Set(['worker']);

/** The default log level of a command when neither LOG_LEVEL nor --log-level says otherwise. */
export function defaultLogLevel(commandPath: string): 'info' | 'warn' {
  return CHATTY.has(commandPath.split(' ')[0]!) ? 'info' : 'warn';
}

/**
 * Command groups that work on a database whatever its schema (they create or inspect it); every
 * other command checks once, on first use of the database, that no migration is pending.
 */
const SCHEMA_FREE = new Set(['db', 'demo']);

let interrupts = 0;
const controller = new AbortController();
function installSignalHandlers(out: Output): void {
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1;
    if (interrupts === 1) {
      out.note(`${signal}: stopping… (again to force)`);
      controller.abort(new InterruptedError());
      return;
    }
    process.exit(ExitCode.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * The command line as the audit trail stores it: every URL's credentials and every key-value
 * secret redacted, wherever they appear (`--database-url`, a positional argument, an option's value).
 */
export function redactArgv(argv: readonly string[]): string {
  return ['sumda', ...argv.map((arg) => redactText(arg))].join(' ');
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Wraps a handler: builds the context, runs it, prints errors as one line, sets the exit code, cleans up. */
export function act<O = Record<string, unknown>>(handler: Handler<O>) {
  return async (...raw: unknown[]): Promise<void> => {
    const command = raw.at(-1) as Command;
    const opts = command.optsWithGlobals() as O & GlobalOptions;
    const args = raw.slice(0, -2).flatMap((a) => (Array.isArray(a) ? a : a === undefined ? [] : [String(a)]));
    const out = createOutput({ json: Boolean(opts.json), wide: Boolean(opts.wide) });
    const verbose = Boolean(opts.verbose || process.env.DEBUG);
    const cleanups: (() => Promise<void> | void)[] = [];
    let log: Logger | undefined;
    try {
      installSignalHandlers(out);
      const flags: ConfigFlags = {
        databaseUrl: opts.databaseUrl,
        dataDir: opts.dataDir,
        actor: opts.as,
        logLevel: opts.logLevel ?? (verbose ? 'debug' : undefined),
      };
      // zod and pino load here, on the first action, not at start-up: `sumda --help` stays fast.
      const { loadConfig } = await import('../config/index.ts');
      const { createLogger, newRequestId } = await import('../log.ts');
      const config = loadConfig(flags);
      const path = commandPath(command);
      // Made on first use (a log line, an audit row, a job payload): a read that needs none of them
      // never loads node:crypto.
      let id: string | undefined;
      const requestId = () => {
        id ??= newRequestId();
        return id;
      };
      log = createLogger({
        level: config.logLevel ?? defaultLogLevel(path),
        format: config.logFormat,
      }).child({
        cmd: path,
        get reqId() {
          return requestId();
        },
      });
      const ctx = buildContext({
        config,
        log,
        requestId,
        out,
        cleanups,
        checkSchema: !SCHEMA_FREE.has(path.split(' ')[0]!),
      });
      const code = await handler(ctx, opts, args);
      if (typeof code === 'number') process.exitCode = code;
      else if (controller.signal.aborted) process.exitCode = ExitCode.interrupted;
    } catch (error) {
      process.exitCode = report(error, out, verbose);
    } finally {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (error) {
          log?.warn({ err: error }, 'cleanup failed');
        }
      }
    }
  };
}

function buildContext(parts: {
  config: Config;
  log: Logger;
  requestId: () => string;
  out: Output;
  cleanups: (() => Promise<void> | void)[];
  checkSchema: boolean;
}): CommandContext {
  const { config, log, cleanups, checkSchema, requestId, ...rest } = parts;
  let target: Promise<DatabaseTarget> | undefined;
  let pool: Promise<Db> | undefined;
  let schema: Promise<void> | undefined;
  let actor: Promise<Actor> | undefined;
  let boss: Promise<PgBoss> | undefined;
  /** How the actor was established, once ctx.actor() has run. */
  let identity: Operation['identity'];
  /** SUMDA_TOKEN or the prompt's answer: every connection of the pool carries it once known. */
  let operatorToken = config.operatorToken;
  const rawUrl = async () => {
    target ??= (async () => {
      const { openTarget } = await import('../db/server.ts');
      const t = await openTarget(config, log);
      cleanups.push(() => t.release());
      return t;
    })();
    return (await target).url;
  };
  const openPool = () => {
    pool ??= (async () => {
      const url = await rawUrl();
      const { createDb } = await import('../db/connect.ts');
      const instance = createDb(url, { applicationName: 'sumda-cli', operatorToken: () => operatorToken });
      // Runs before the target's release (cleanups run in reverse), so the server stops last.
      cleanups.push(() => instance.destroy());
      return instance;
    })();
    return pool;
  };
  // Once per command, before the first use of the database: a schema that is not there (or is
  // behind) is reported as such, not as "relation … does not exist" halfway through the work.
  const ensureSchema = () => {
    if (!checkSchema) return Promise.resolve();
    schema ??= (async () => {
      const { schemaVersion, SchemaMismatchError } = await import('../db/schema-version.ts');
      const state = await schemaVersion(await openPool());
      if (state.applied === null) {
        throw new SumdaError('this database is not migrated: the sumda schema is not there', {
          exitCode: ExitCode.pending,
          hint: 'run `sumda db migrate`',
        });
      }
      // Behind: the same refusal a starting worker gives. (Ahead is the worker's concern only:
      // migrations are additive, so an older CLI still reads a newer schema.)
      if (state.pending.length > 0) throw new SchemaMismatchError({ ...state, unknown: [] });
    })();
    return schema;
  };
  const ctx: CommandContext = {
    ...rest,
    get requestId() {
      return requestId();
    },
    config,
    log,
    progress: createProgress({ json: parts.out.json }),
    // Redacted when read (an audit row, a log line): a read command never pays for it.
    get commandLine() {
      return redactArgv(process.argv.slice(2));
    },
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    databaseUrl: async () => {
      const url = await rawUrl();
      await ensureSchema();
      return url;
    },
    db: async () => {
      const db = await openPool();
      await ensureSchema();
      return db;
    },
    boss: async () => {
      boss ??= (async () => {
        const { createBoss } = await import('../queue/boss.ts');
        const started = createBoss(await ctx.databaseUrl(), { log });
        await started.start();
        cleanups.push(() => started.stop({ graceful: false, close: true }));
        return started;
      })();
      return boss;
    },
    actor: async () => {
      actor ??= (async () => {
        const db = await ctx.db();
        const { resolveActor, actorForLogin } = await import('../admins/actor.ts');
        const { sessionIdentity } = await import('../db/roles.ts');
        const { writeAudit } = await import('../audit/index.ts');
        const refuse = async (targetId: string, reason: string, hint?: string) => {
          // Refused attempts are recorded too.
          await writeAudit(
            db,
            {
              actor: null,
              requestId: requestId(),
              command: ctx.commandLine,
              auditKeys: config.auditKeys,
            },
            { action: 'operator.act', targetType: 'admin', targetId, outcome: 'denied', reason },
          );
          return new PermissionDeniedError(reason, hint ? { hint } : {});
        };
        const session = await sessionIdentity(db);
        const privileged = session.superuser || session.owner;
        // 1. A login mapped to an operator: the database says who acts; --as may only agree.
        const mapped = privileged ? null : await actorForLogin(db, session.user);
        if (mapped) {
          if (config.actor && config.actor !== mapped.email.toLowerCase()) {
            throw await refuse(
              config.actor,
              `connected as database login ${session.user}, which is ${mapped.email}; --as/SUMDA_ACTOR ${config.actor} contradicts it`,
            );
          }
          if (mapped.disabled)
            throw await refuse(mapped.email, `operator account ${mapped.email} is disabled`);
          identity = 'login';
          return { id: mapped.id, email: mapped.email, role: mapped.role };
        }
        // 2. A token (SUMDA_TOKEN, or asked for at a terminal over a shared login): the database
        //    checks it, now and on every audit row this command writes.
        const token =
          operatorToken ?? (privileged ? undefined : await promptToken(session.user, parts.out.json));
        if (token) {
          const { actorForToken } = await import('../admins/tokens.ts');
          operatorToken = token;
          const proven = await actorForToken(db, token);
          if (!proven) {
            throw await refuse(
              config.actor ?? session.user,
              'the operator token is not valid: unknown, expired, revoked, or its account is disabled',
              'ask an admin for a new one (`sumda admin token issue <your e-mail>`)',
            );
          }
          if (config.actor && config.actor !== proven.email.toLowerCase()) {
            throw await refuse(
              config.actor,
              `the operator token is ${proven.email}'s; --as/SUMDA_ACTOR ${config.actor} contradicts it`,
            );
          }
          identity = 'token';
          return proven;
        }
        // 3. A shared login (unmapped, not the owner) and no token: nothing proves the e-mail, and the
        //    database would refuse an audit row that names it.
        if (!privileged) {
          throw await refuse(
            config.actor ?? session.user,
            `database login ${session.user} is shared (mapped to no operator): prove who you are with an operator token`,
            'set SUMDA_TOKEN to a token from `sumda admin token issue`, or connect as your own login (`sumda admin grant-login`)',
          );
        }
        if (!config.actor) {
          throw new UsageError('this command changes data and needs an operator identity', {
            hint: 'pass --as <admin e-mail> or set SUMDA_ACTOR (or connect as a login mapped with `sumda admin grant-login`)',
          });
        }
        // 4. The owner or a superuser: nothing proves the e-mail; say so, and record it.
        identity = 'declared';
        // On stderr, once; not in --json mode (machines read actor_identity in the audit row).
        if (!parts.out.json)
          parts.out.note(
            `note: connected as ${session.user}${session.superuser ? ' (superuser)' : session.owner ? ' (owner)' : ''}, which is not mapped to an operator: the actor ${config.actor} is self-declared and recorded as such`,
          );
        try {
          return await resolveActor(db, config.actor);
        } catch (error) {
          if (error instanceof PermissionDeniedError) throw await refuse(config.actor, error.message);
          throw error;
        }
      })();
      return actor;
    },
    operation: async () => ({
      actor: await ctx.actor(),
      requestId: requestId(),
      command: ctx.commandLine,
      auditKeys: config.auditKeys,
      identity,
    }),
  };
  return ctx;
}

/** Asks for the operator token at a terminal; undefined when there is none to ask at (or with --json). */
async function promptToken(login: string, json: boolean): Promise<string | undefined> {
  if (json || !process.stdin.isTTY || !process.stdout.isTTY) return undefined;
  const prompts = await import('@inquirer/prompts');
  try {
    const answer = await prompts.password({
      message: `Database login ${login} is shared. Your operator token:`,
      mask: '*',
    });
    return answer.trim() || undefined;
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError') throw new UsageError('cancelled; nothing was changed');
    throw error;
  }
}

/**
 * The error boundary: one line (plus a hint), the stack once and only when asked. Long arguments
 * the message repeats are shortened here, in one place, whatever module wrote the message.
 * Returns the exit code.
 */
export function report(error: unknown, out: Output, verbose: boolean, argv = process.argv.slice(2)): number {
  const line = (text: string) => shortenArguments(text, argv);
  const stack = (text: string) => shortenArguments(text, argv, Number.POSITIVE_INFINITY);
  if (error instanceof SumdaError) {
    out.error(line(error.message));
    if (error.hint) out.note(`hint: ${line(error.hint)}`);
    if (verbose) out.note(line(error.stack ?? ''));
    if (verbose && error.cause)
      out.note(`cause: ${line((error.cause as Error).stack ?? String(error.cause))}`);
    return error.exitCode;
  }
  out.error(line(describeUnexpected(error)));
  if (verbose) out.note(stack((error as Error)?.stack ?? String(error)));
  else out.note('hint: run again with --verbose for details');
  return ExitCode.failure;
}

function describeUnexpected(error: unknown): string {
  const e = error as { code?: string; message?: string; address?: string; port?: number };
  if (e?.code === 'ECONNREFUSED')
    return `could not connect to PostgreSQL at ${e.address ?? '?'}:${e.port ?? '?'} (connection refused)`;
  if (e?.code === 'ENOTFOUND') return `could not resolve the database host (${e.message})`;
  if (e?.code === '28P01' || e?.code === '28000') return `the database refused the login: ${e.message}`;
  if (e?.code === '3D000') return `the database does not exist: ${e.message}`;
  return e?.message ?? String(error);
}
