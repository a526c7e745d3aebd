/**
 * Typed errors and the exit codes they carry. The CLI's one error boundary (`act` in src/cli/context.ts)
 * prints `error.message` as a single line and exits with `error.exitCode`; the stack is shown only
 * with --verbose or DEBUG. Domain modules throw these; they never call process.exit themselves.
 */

/** The published exit-code table (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  pending: 3,
  drift: 4,
  lockBusy: 5,
  denied: 6,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * What each exit code means, in one place: `sumda --help` prints this table, and each row of the
 * README "Exit codes" table starts with its line here (test/unit/exit-codes.test.ts checks both).
 */
export const EXIT_CODE_MEANINGS: Record<ExitCode, string> = {
  0: 'ok',
  1: 'failure (unexpected error, database unreachable)',
  2: 'usage or bad input (unknown id, invalid flag or config, refused confirmation, no TTY without --yes)',
  3: 'the database is not migrated or has pending migrations (any command; db status --check)',
  4: 'drift or validation failure (db validate, db status --check, audit verify, policy lint, keys status)',
  5: 'lock busy (another runner holds the lock past --lock-timeout)',
  6: "permission denied (the actor's role is too low)",
  130: 'interrupted (Ctrl-C / SIGTERM)',
};

export class SumdaError extends Error {
  readonly exitCode: ExitCode;
  /** An optional second line telling the operator what to do next. */
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.hint = options.hint;
  }
}

/** Bad input: an unknown id, an invalid flag value, a refused confirmation. Exit 2. */
export class UsageError extends SumdaError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCode.usage });
  }
}

/** Configuration that failed validation; lists every problem at once. Exit 2. */
export class ConfigError extends SumdaError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`, { exitCode: ExitCode.usage });
    this.problems = problems;
  }
}

/** Something asked for does not exist. Bad input, so exit 2. */
export class NotFoundError extends UsageError {}

/** A checksum or validation mismatch between what was applied and what is on disk. Exit 4. */
export class DriftError extends SumdaError {
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, { ...options, exitCode: ExitCode.drift });
  }
}

/** A migration's up() or down() threw; the message names the migration. Nothing of it was kept (one transaction). Exit 1. */
export class MigrationFailedError extends SumdaError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCode.failure });
  }
}

/**
 * Stored content that does not match its own content hash: a policy version or prompt changed
 * behind the database's immutability triggers. Refused, never served. Exit 4.
 */
export class IntegrityError extends SumdaError {
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, {
      hint: 'restore the row from a backup or publish a new version; see `sumda audit verify`',
      ...options,
      exitCode: ExitCode.drift,
    });
  }
}

/** Another process holds a lock we waited for in vain. Exit 5. */
export class LockBusyError extends SumdaError {
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, { ...options, exitCode: ExitCode.lockBusy });
  }
}

/** The actor lacks the role a command needs. Exit 6. */
export class PermissionDeniedError extends SumdaError {
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, { ...options, exitCode: ExitCode.denied });
  }
}

/** The operator pressed Ctrl-C or the process got SIGINT/SIGTERM mid-command. Exit 130. */
export class InterruptedError extends SumdaError {
  constructor(message = 'interrupted') {
    super(message, { exitCode: ExitCode.interrupted });
  }
}

/** Postgres SQLSTATE codes we react to by name. */
export const PgCode = {
  uniqueViolation: '23505', // another writer got there first
  foreignKeyViolation: '23503',
  // ON DELETE RESTRICT on a referenced row: PostgreSQL 18 reports restrict_violation where 15
  // reports foreign_key_violation. Both mean "still referenced"; sumda supports both servers.
  restrictViolation: '23001',
  checkViolation: '23514',
  notNullViolation: '23502',
  exclusionViolation: '23P01',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03', // lock_timeout expired
  objectInUse: '55006', // e.g. CREATE DATABASE while the template has connections
  queryCanceled: '57014', // statement_timeout or cancel
  raiseException: 'P0001', // our own triggers (immutability, append-only)
  invalidTextRepresentation: '22P02',
  undefinedTable: '42P01',
  invalidSchemaName: '3F000', // e.g. a table in a schema that does not exist
  insufficientPrivilege: '42501', // a grant or one of our definer functions refused
  duplicateDatabase: '42P04',
} as const;

/** The SQLSTATE of a pg error, if it is one. */
export function pgCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
