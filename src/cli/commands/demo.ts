/**
 * `sumda demo`: the newcomer's first command. On a fresh machine with nothing configured it starts
 * the embedded PostgreSQL, migrates it, creates a demo admin, seeds a small, deterministic data set
 * and shows what is there. Every later stage of sumda adds itself here. Running it again is safe:
 * everything it does is idempotent.
 */
import { existsSync } from 'node:fs';
import { delimiter, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Actor } from '../../admins/actor.ts';
import type { Operation } from '../../audit/index.ts';
import { UsageError } from '../../errors.ts';
import type { CommandContext } from '../context.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';
import { runSeed } from '../seeding.ts';

export const DEMO_ADMIN = 'demo@sumda.local';

const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * How to run sumda from the operator's shell, so that what the demo prints works when pasted:
 * `sumda` when it is on PATH, `npx sumda` inside this checkout, else Node 24 and the entry point by
 * their full paths.
 */
export function sumdaInvocation(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'sumda'))) return 'sumda';
  }
  const root = resolve(PACKAGE_ROOT);
  const here = resolve(cwd);
  if (here === root || here.startsWith(`${root}${sep}`)) return 'npx sumda';
  const quoted = (p: string) => (/^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replaceAll("'", "'\\''")}'`);
  return `${quoted(join(root, 'node_modules', '.bin', 'node'))} ${quoted(join(root, 'bin', 'sumda'))}`;
}

/** The demo's operator: SUMDA_ACTOR if given, else a demo admin bootstrapped on an empty installation. */
async function demoOperation(ctx: CommandContext): Promise<Operation> {
  if (ctx.config.actor) return ctx.operation();
  const db = await ctx.db();
  const { resolveActor } = await import('../../admins/actor.ts');
  const { bootstrapAdmin } = await import('../../admins/index.ts');
  const base = { requestId: ctx.requestId, command: ctx.commandLine, auditKeys: ctx.config.auditKeys };
  let actor: Actor;
  try {
    actor = await resolveActor(db, DEMO_ADMIN);
  } catch {
    const anyAdmin = await db.selectFrom('admin.admins').select('email').limit(1).executeTakeFirst();
    if (anyAdmin) {
      throw new UsageError('this database already has operators; run the demo as one of them', {
        hint: `pass --as ${anyAdmin.email}, or run the demo on the embedded database (unset DATABASE_URL)`,
      });
    }
    const row = await bootstrapAdmin(
      db,
      { ...base, actor: null },
      { email: DEMO_ADMIN, displayName: '데모 관리자' },
    );
    actor = { id: row.id, email: row.email, role: 'admin' };
  }
  return { ...base, actor };
}

function heading(ctx: CommandContext, text: string): void {
  if (!ctx.out.json) ctx.out.line(`\n${ctx.out.style('bold', text)}`);
}

/**
 * Stage 5: last week's weekly reports, built by a recorded inline backfill (audited like an
 * operator's), and the report of the demo user who wrote most that week.
 */
async function demoReport(ctx: CommandContext, op: Operation) {
  const db = await ctx.db();
  const { sql } = await import('kysely');
  const { planBackfill, startBackfill, runInline } = await import('../../reports/backfill.ts');
  const { findReport, renderReport } = await import('../../reports/view.ts');
  const { periodContaining, previousPeriod, addDays } = await import('../../time/calendar.ts');
  const week = previousPeriod(periodContaining('weekly', new Date()));
  const plan = await planBackfill(db, {
    type: 'weekly',
    from: week.startDate,
    to: addDays(week.endDate, -1),
  });
  const run = await startBackfill(db, null, op, plan, { inline: true });
  const done = await runInline(db, run.id, { signal: ctx.signal });
  const top = await db
    .selectFrom('reports')
    .select('user_id')
    .where('period_type', '=', 'weekly')
    .where('period_start', '=', week.startDate)
    .orderBy(sql`(summary->>'entries')::int`, 'desc')
    .orderBy('user_id')
    .limit(1)
    .executeTakeFirst();
  const report = top ? await findReport(db, top.user_id, 'weekly', week.start) : null;
  if (!ctx.out.json) {
    ctx.out.line(
      `  backfill run #${run.id}: ${done.run.written} weekly report(s) for ${week.startDate} .. ${week.endDate} written (${done.run.status})`,
    );
    if (report) for (const line of renderReport(report)) ctx.out.line(`  ${line}`);
    else ctx.out.line('  nobody wrote last week');
  }
  return { run: run.id, week: week.startDate, written: done.run.written, report };
}

export function registerDemo(program: Command): void {
  examples(
    program
      .command('demo')
      .description('migrate the (embedded) database, seed a small data set and show what sumda does with it')
      .option('--users <n>', 'demo users', '40')
      .option('--days <n>', 'days of diary history', '30')
      .option('--json', 'machine-readable summary on stdout')
      .action(
        act<{ users: string; days: string }>(async (ctx, opts) => {
          const summary: Record<string, unknown> = {};
          const url = await ctx.databaseUrl();
          const { redactUrl } = await import('../../config/index.ts');
          heading(ctx, `1. database  ${ctx.config.databaseUrl ? '' : '(embedded PostgreSQL)'}`);
          if (!ctx.out.json) ctx.out.line(`  ${redactUrl(url)}`);
          const { migrate } = await import('../../db/migrator.ts');
          const migrated = await migrate({ url, appliedBy: 'sumda demo' });
          summary.migrations = migrated.applied.length;
          if (!ctx.out.json) {
            ctx.out.line(
              migrated.applied.length > 0
                ? `  applied ${migrated.applied.length} migrations`
                : '  schema is up to date',
            );
          }

          const op = await demoOperation(ctx);
          summary.actor = op.actor?.email;
          heading(ctx, '2. synthetic data');
          const seeded = await runSeed(
            ctx,
            {
              users: parseIntFlag(opts.users, '--users', 1, 10_000),
              days: parseIntFlag(opts.days, '--days', 1, 365),
              seed: 1,
            },
            op,
          );
          summary.seed = seeded;
          const { summarizeData } = await import('../../seed/summary.ts');
          const data = await summarizeData(await ctx.db());
          summary.data = data;
          if (!ctx.out.json) {
            ctx.out.line(
              `  ${seeded.users} new users, ${seeded.diaries} new diary entries (deterministic: seed 1)`,
            );
            ctx.out.table(
              ['table', 'rows'],
              data.tables.map((t) => [t.table, t.rows]),
            );
            ctx.out.table(
              ['subscription', 'plan', 'users'],
              data.subscriptions.map((s) => [s.status, s.plan, s.n]),
            );
            ctx.out.line(
              `  diary text is AES-256-GCM ciphertext; entries per key: ${data.diaryKeys.map((k) => `${k.key}=${k.entries}`).join(', ')}`,
            );
            ctx.out.line('  (operators see analyses and counts, never diary text)');
          }

          heading(ctx, '3. analysis (offline analyzer; set OPENAI_API_KEY to use the model)');
          const { loadCheckedKeyring } = await import('../../keys/checks.ts');
          const { seedSafetyScenario } = await import('../../seed/scenario.ts');
          const { keyring } = await loadCheckedKeyring(ctx.config, ctx.log, await ctx.db());
          await seedSafetyScenario(await ctx.db(), keyring);
          const { runJobRuntime } = await import('../runtime.ts');
          const { createLogger } = await import('../../log.ts');
          const worked = await runJobRuntime({
            url,
            config: ctx.config,
            log: createLogger({ level: 'warn', format: ctx.config.logFormat }).child({
              cmd: 'demo',
              reqId: ctx.requestId,
            }),
            once: true,
            drainTimeoutMs: 30_000,
            heartbeatMs: 60_000,
            pollIntervalMs: 500,
            signal: ctx.signal,
          });
          summary.worker = worked.processed;
          const { demoAnalyses, demoSlips } = await import('../../seed/summary.ts');
          const analyses = await demoAnalyses(await ctx.db(), 8);
          summary.analyses = analyses;
          if (!ctx.out.json) {
            const run = worked.processed['analysis.run'];
            ctx.out.line(`  analysed ${run?.completed ?? 0} entries; the most recent:`);
            ctx.out.table(
              ['written (KST)', 'user', '오늘의 장면', 'keywords', 'feeling'],
              analyses.map((a) => [a.written, a.nickname, a.summary, a.keywords.join(', '), a.flow]),
            );
          }

          heading(ctx, '4. slips and safety');
          const slips = await demoSlips(await ctx.db());
          summary.slips = slips;
          if (!ctx.out.json) {
            ctx.out.table(
              ['user', 'slip status', 'rule', 'what the user was told'],
              slips.users.map((u) => [u.nickname, u.status, u.rule, u.told.join(' / ')]),
            );
            ctx.out.line(
              `  open warnings ${slips.openWarnings}, open slips ${slips.openSlips}, crisis notes ${slips.crisisNotes}, entries in the moderation queue ${slips.flagged}`,
            );
            ctx.out.line(
              '  writing never pauses: only the AI reading does, for a while, and the user is told why',
            );
          }

          heading(ctx, '5. reports');
          const shown = await demoReport(ctx, op);
          summary.report = shown;
          heading(
            ctx,
            '6. billing renewals — a SIMULATION against an in-process Toss double (no real card is charged)',
          );
          const { simulateBilling } = await import('../../billing/demo.ts');
          const billing = await simulateBilling(await ctx.db(), keyring, ctx.config.billing);
          summary.billing = { simulation: true, ...billing };
          if (!ctx.out.json) {
            ctx.out.line(
              `  ${billing.due} subscriptions were due; one card declines, one answer in ten is dropped after charging`,
            );
            ctx.out.table(
              ['outcome', 'subscriptions'],
              Object.entries(billing.outcomes).map(([k, v]) => [k, v]),
            );
            ctx.out.line(
              `  ${billing.droppedAnswers} answers lost → ${billing.reconciled} settled by order-id look-up; ${billing.charges} charges in the double's ledger, ${billing.chargedTwice} subscriptions charged twice`,
            );
          }

          if (ctx.out.json) return ctx.out.data(summary);
          heading(ctx, 'next');
          const sumda = sumdaInvocation();
          const next: [string, string][] = [
            ...(ctx.config.databaseUrl
              ? []
              : [
                  [
                    `${sumda} db start`,
                    'keep the embedded PostgreSQL up between commands (`db stop` ends it)',
                  ] as [string, string],
                ]),
            [`export SUMDA_ACTOR=${op.actor?.email}`, 'who you are to the audit trail'],
            [`${sumda} policy list`, 'the AI policies in effect'],
            [`${sumda} slip list --status all`, 'warnings and slips, with their evidence'],
            [`${sumda} moderation list`, 'entries flagged for an operator'],
            [`${sumda} analysis stats`, 'analyses by prompt version, failures, tokens, cost'],
            [`${sumda} report stats`, 'weekly report figures across users'],
            [`${sumda} audit list`, 'everything the demo changed, and who did it'],
            [`${sumda} billing stats`, 'the simulated renewals: revenue, failures, dunning'],
            [`${sumda} db url --reveal`, 'connect with psql'],
          ];
          const width = Math.max(...next.map(([c]) => c.length));
          for (const [command, why] of next) ctx.out.line(`  ${command.padEnd(width)}  # ${why}`);
          if (sumda !== 'sumda') {
            ctx.out.note('  (to type just `sumda`: `npm link` in the checkout, or the alias in the README)');
          }
        }),
      ),
    ['sumda demo', 'sumda demo --users 200 --days 60', 'sumda demo --json'],
  );
}
