/** `sumda db …`: migrations (CI-grade) and the embedded server. Thin wrappers over src/db. */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { ExitCode } from '../../errors.ts';
import { parseDuration } from '../../time/grammar.ts';
import { redactUrl } from '../../util/redact.ts';
import { confirm } from '../confirm.ts';
import { act, type CommandContext } from '../context.ts';
import { examples } from '../help.ts';

interface MigrateFlags {
  lockTimeout: string;
  allowUnordered?: boolean;
  skipQueues?: boolean;
}

function migratorOptions(ctx: CommandContext, url: string, flags: Partial<MigrateFlags>) {
  return {
    url,
    lockWaitMs: parseDuration(flags.lockTimeout ?? '60s', '--lock-timeout'),
    allowUnordered: Boolean(flags.allowUnordered),
    appliedBy: ctx.config.actor ?? userInfo().username,
    onEvent: (event: import('../../db/migrator.ts').MigratorEvent) => {
      if (event.type === 'waiting-for-lock') {
        ctx.log.info({ timeoutMs: event.timeoutMs }, 'another migration runner holds the lock; waiting');
        if (!ctx.out.json)
          ctx.out.note(`waiting for another migration runner (up to ${event.timeoutMs / 1000}s)…`);
      } else if (event.type === 'done') {
        ctx.log.info(
          { migration: event.name, direction: event.direction, ms: Math.round(event.ms) },
          'migration done',
        );
        if (!ctx.out.json) {
          ctx.out.success(
            `${event.direction === 'up' ? 'applied' : 'reverted'} ${event.name} (${Math.round(event.ms)} ms)`,
          );
        }
      }
    },
  };
}

export function registerDb(program: Command): void {
  const db = program.command('db').description('schema migrations and the embedded PostgreSQL server');

  examples(
    db
      .command('migrate')
      .description('apply pending migrations, one transaction each, under an advisory lock')
      .option('--dry-run', 'list what would be applied; change nothing')
      .option('--json', 'machine-readable result on stdout')
      .option('--lock-timeout <duration>', 'how long to wait for another runner', '60s')
      .option('--allow-unordered', 'apply pending migrations that sort before applied ones')
      .option('--skip-queues', "don't install or upgrade the job queues (pg-boss schema)")
      .action(
        act<MigrateFlags>(async (ctx, opts) => {
          const { migrate } = await import('../../db/migrator.ts');
          const url = await ctx.databaseUrl();
          const result = await migrate({ ...migratorOptions(ctx, url, opts), dryRun: opts.dryRun });
          if (!result.dryRun && !opts.skipQueues) {
            // pg-boss keeps its own versioned schema; installing it here means workers need no DDL rights.
            const { ensureQueueSchema } = await import('../../queue/boss.ts');
            await ensureQueueSchema(url, ctx.log);
          }
          if (ctx.out.json) return ctx.out.data(result);
          if (result.dryRun) {
            if (result.pending.length === 0)
              return ctx.out.line('nothing to migrate: the schema is up to date');
            ctx.out.line(`would apply ${result.pending.length} migration(s):`);
            for (const name of result.pending) ctx.out.line(`  ${name}`);
            return;
          }
          ctx.out.line(
            result.applied.length === 0
              ? 'nothing to migrate: the schema is up to date'
              : `${result.applied.length} migration(s) applied`,
          );
        }),
      ),
    [
      'sumda db migrate',
      'sumda db migrate --dry-run',
      'DATABASE_URL=postgres://… sumda db migrate --json --lock-timeout 5m',
    ],
  );

  examples(
    db
      .command('status')
      .description('applied and pending migrations')
      .option('--check', `exit ${ExitCode.pending} when migrations are pending, ${ExitCode.drift} on drift`)
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ check?: boolean }>(async (ctx, opts) => {
          const { migrationStatus, driftProblems } = await import('../../db/migrator.ts');
          const statuses = await migrationStatus({ url: await ctx.databaseUrl() });
          const pending = statuses.filter((s) => s.state === 'pending' || s.state === 'out-of-order');
          const drift = driftProblems(statuses);
          if (ctx.out.json) {
            ctx.out.data({ migrations: statuses, pending: pending.length, drift });
          } else {
            ctx.out.table(
              ['migration', 'state', 'applied at'],
              statuses.map((s) => [s.name, s.state, s.appliedAt]),
            );
            ctx.out.line(`${statuses.length - pending.length} applied, ${pending.length} pending`);
            for (const problem of drift) ctx.out.warn(problem);
          }
          if (!opts.check) return;
          if (drift.length > 0) return ExitCode.drift;
          if (pending.length > 0) return ExitCode.pending;
        }),
      ),
    ['sumda db status', 'sumda db status --check   # in CI: exit 3 when a deploy forgot to migrate'],
  );

  examples(
    db
      .command('validate')
      .description('compare the checksum of every applied migration with its file')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { validateMigrations } = await import('../../db/migrator.ts');
          const result = await validateMigrations({ url: await ctx.databaseUrl() });
          if (ctx.out.json) ctx.out.data(result);
          else if (result.ok) ctx.out.success('every applied migration matches its file');
          else for (const problem of result.problems) ctx.out.error(problem);
          return result.ok ? ExitCode.ok : ExitCode.drift;
        }),
      ),
    ['sumda db validate', 'sumda db validate --json'],
  );

  examples(
    db
      .command('down')
      .description(
        'revert the last migration, or every migration after --to NAME (admin; refuses to drop data unless --allow-data-loss; never drops a non-empty audit log)',
      )
      .option('--to <name>', 'revert down to (not including) this migration')
      .option('--dry-run', 'list what would be reverted and the data it would drop; change nothing')
      .option('--allow-data-loss', 'drop tables and columns that hold rows (never the audit trail)')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--lock-timeout <duration>', 'how long to wait for another runner', '60s')
      .action(
        act<{ to?: string; lockTimeout: string; allowDataLoss?: boolean }>(async (ctx, opts) => {
          const { migrateDown } = await import('../../db/migrator.ts');
          const { authorize } = await import('../../admins/permissions.ts');
          const { writeAudit } = await import('../../audit/index.ts');
          const { sql } = await import('kysely');
          const db = await ctx.db();
          const op = await ctx.operation();
          await authorize(db, op, 'db.down', { type: 'migration', id: opts.to ?? 'last' });
          const describe = (plan: import('../../db/migrator.ts').DownPlan) =>
            plan.losses.map((l) =>
              l.column ? `${l.table}.${l.column}: ${l.rows}` : `${l.table}: ${l.rows} rows`,
            );
          const result = await migrateDown({
            ...migratorOptions(ctx, await ctx.databaseUrl(), opts),
            to: opts.to,
            dryRun: Boolean(opts.dryRun),
            allowDataLoss: Boolean(opts.allowDataLoss),
            // Planned and confirmed under the same lock hold as the run: nothing moves in between.
            confirm: async (plan) => {
              await confirm({
                yes: Boolean(opts.yes),
                action:
                  `revert ${plan.steps.length} migration(s) (${plan.steps.join(', ')})` +
                  (plan.losses.length > 0 ? ` and DROP DATA: ${describe(plan).join(', ')}` : ''),
                typed: String(plan.steps.length),
              });
            },
            record: async (executor, step, plan) => {
              const entry = {
                action: 'db.down',
                targetType: 'migration',
                targetId: step,
                before: { steps: plan.steps },
                after: {
                  dropped: plan.dropped,
                  losses: plan.losses,
                  allow_data_loss: Boolean(opts.allowDataLoss),
                },
              };
              const columns = await sql<{ mac: boolean; table: boolean }>`
                select to_regclass('admin.audit_log') is not null as table,
                       exists (select 1 from information_schema.columns
                               where table_schema = 'admin' and table_name = 'audit_log' and column_name = 'mac') as mac`.execute(
                executor,
              );
              const { table, mac } = columns.rows[0]!;
              // Where the audit table goes (now or later in this run), the record also goes to stderr.
              if (!table || plan.dropped.includes('admin.audit_log')) {
                ctx.log.warn(
                  {
                    audit: { ...entry, actor: op.actor?.email, requestId: op.requestId, command: op.command },
                  },
                  'db.down recorded on stderr: the audit table is dropped',
                );
              }
              if (table) {
                const bare = { actor: op.actor, requestId: op.requestId, command: op.command };
                await writeAudit(executor as never, mac ? op : bare, entry);
              }
            },
          });
          if (result.reverted.length === 0) return ctx.out.line('nothing to revert');
          if (result.dryRun) {
            if (ctx.out.json) return ctx.out.data(result);
            ctx.out.line(`would revert ${result.reverted.length} migration(s):`);
            for (const name of result.reverted) ctx.out.line(`  ${name}`);
            for (const line of describe({ steps: result.reverted, losses: result.losses, dropped: [] }))
              ctx.out.warn(`would drop data: ${line}`);
            return;
          }
          ctx.out.line(`${result.reverted.length} migration(s) reverted`);
        }),
      ),
    [
      'sumda db down --dry-run',
      'sumda db down --to 0013_service_operations --yes',
      'sumda db down --to 0012_reports --allow-data-loss --yes   # after a backup',
    ],
  );

  examples(
    db
      .command('roles')
      .description('the database roles (owner, worker, operator < manager < admin), their logins and grants')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { describeRoles } = await import('../../db/roles.ts');
          const report = await describeRoles(await ctx.db());
          if (ctx.out.json) return ctx.out.data(report);
          const s = report.session;
          ctx.out.line(
            `connected as ${s.user}${s.superuser ? ' (superuser)' : ''}${s.owner ? ' (member of sumda_owner)' : ''}` +
              (s.groups.length > 0 ? `; groups: ${s.groups.join(', ')}` : ''),
          );
          ctx.out.table(
            ['role', 'exists', 'inherits', 'members'],
            report.roles.map((r) => [
              r.role,
              r.exists ? 'yes' : 'NO',
              r.inherits.join(', '),
              r.members.join(', '),
            ]),
          );
          ctx.out.table(
            ['table', 'role', 'privileges'],
            report.grants.map((g) => [g.table, g.role, [...g.privileges, ...g.columns].join(', ')]),
          );
          if (report.roles.some((r) => !r.exists))
            ctx.out.warn('some sumda roles are missing: run `sumda db migrate`');
        }),
      ),
    ['sumda db roles', 'sumda db roles --json | jq \'.grants[] | select(.role == "sumda_operator")\''],
  );

  examples(
    db
      .command('start')
      .description('start the embedded PostgreSQL and keep it running for a long session')
      .action(
        act(async (ctx) => {
          const { startPersistent } = await import('../../db/embedded.ts');
          const server = await startPersistent(ctx.config.dataDir, ctx.log);
          ctx.out.success(`embedded PostgreSQL is running: ${redactUrl(server.url)}`);
          ctx.out.note('it stays up until `sumda db stop`; `sumda db url --reveal` prints the full URL');
        }),
      ),
    ['sumda db start', 'export DATABASE_URL=$(sumda db url --reveal)'],
  );

  examples(
    db
      .command('stop')
      .description('stop the embedded PostgreSQL')
      .action(
        act(async (ctx) => {
          const { stopEmbedded } = await import('../../db/embedded.ts');
          const result = await stopEmbedded(ctx.config.dataDir);
          if (result.clients.length > 0) {
            ctx.out.warn(`sumda processes still using it were disconnected: ${result.clients.join(', ')}`);
          }
          ctx.out.line(
            result.wasRunning ? 'embedded PostgreSQL stopped' : 'embedded PostgreSQL was not running',
          );
        }),
      ),
    ['sumda db stop'],
  );

  examples(
    db
      .command('url')
      .description('print the database URL in use (password redacted unless --reveal)')
      .option('--reveal', 'print the password too (for `export DATABASE_URL=…`)')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ reveal?: boolean }>(async (ctx, opts) => {
          let url = ctx.config.databaseUrl;
          let running: boolean | undefined;
          if (!url) {
            const { embeddedStatus } = await import('../../db/embedded.ts');
            const status = await embeddedStatus(ctx.config.dataDir);
            url = status.url;
            running = status.running;
          }
          if (!url) {
            ctx.out.warn('the embedded server has never been started here; `sumda db start` starts it');
            return ExitCode.failure;
          }
          const shown = opts.reveal ? url : redactUrl(url);
          if (ctx.out.json) return ctx.out.data({ url: shown, embedded: !ctx.config.databaseUrl, running });
          ctx.out.line(shown);
          if (running === false)
            ctx.out.note('(the embedded server is not running; `sumda db start` starts it)');
        }),
      ),
    ['sumda db url', 'export DATABASE_URL=$(sumda db url --reveal)'],
  );
}
