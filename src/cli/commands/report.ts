/** `sumda report …`: Asia/Seoul report periods, backfills of reports, and looking at a report. */
import type { Command } from 'commander';
import { ExitCode, UsageError } from '../../errors.ts';
import type { BackfillRun, RunProgress } from '../../reports/backfill.ts';
import { formatDuration, parseDuration, parseInstant } from '../../time/grammar.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid } from '../input.ts';

function parseRunId(text: string | undefined): number {
  if (text === undefined || !/^\d{1,15}$/.test(text) || Number(text) < 1)
    throw new UsageError(
      `run ${JSON.stringify(text ?? '')}: a run number (see \`sumda report backfill list\`)`,
    );
  return Number(text);
}

function runLine(run: BackfillRun): string {
  const who = run.origin === 'schedule' ? 'schedule' : (run.actor_email ?? '?');
  const scope = run.user_id ? `user ${run.user_id}` : 'all users';
  return `#${run.id} ${run.period_type} ${run.from_date}..${run.to_date} (${scope}) ${run.status}, ${run.done}/${run.total}, by ${who}`;
}

function progressFields(p: RunProgress): [string, string | number][] {
  const { run } = p;
  return [
    ['run', `#${run.id} (${run.origin}, ${run.mode})`],
    ['status', run.status],
    [
      'periods',
      `${run.period_type} ${run.first_period} .. ${run.last_period} (from ${run.from_date} to ${run.to_date})`,
    ],
    ['users', run.user_id ?? 'all'],
    [
      'done',
      `${run.done}/${run.total} user-periods (${run.total > 0 ? Math.floor((run.done / run.total) * 100) : 100}%)`,
    ],
    [
      'cursor',
      `${run.cursor_period}${run.cursor_last_period && run.cursor_last_period !== run.cursor_period ? ` .. ${run.cursor_last_period}` : ''}${run.cursor_user ? ` after user ${run.cursor_user}` : ''}`,
    ],
    ['reports', `${run.written} written, ${run.removed} removed`],
    [
      'chunks',
      `${run.chunks} (chunk size ${run.chunk_size}, throttle ${run.throttle_ms}ms, timeout ${run.chunk_timeout_s}s)`,
    ],
    ['skipped periods', `${run.skipped_periods} (left to an older overlapping run)`],
    ['rate', `${p.rate} user-periods/s`],
    ['eta', p.etaSeconds === null ? '-' : formatDuration(p.etaSeconds * 1000)],
    // A timed-out chunk that halved the chunk size leaves its error without counting a failure.
    ['failures', run.failures > 0 || run.last_error ? `${run.failures}: ${run.last_error ?? ''}` : 0],
    ['started', run.started_at.toISOString()],
    ['finished', run.finished_at ? run.finished_at.toISOString() : '-'],
  ];
}

export function registerReport(program: Command): void {
  const report = program
    .command('report')
    .description('user reports: periods (Asia/Seoul), backfills, scheduled builds, show and stats');

  examples(
    report
      .command('period')
      .description(
        'the daily/weekly/monthly/yearly period containing an instant (start inclusive, end exclusive)',
      )
      .requiredOption('--type <type>', 'daily | weekly (ISO week from Monday) | monthly | yearly')
      .option('--at <instant>', 'an ISO 8601 instant, or a date (Seoul midnight); default now')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ type: string; at?: string }>(async (ctx, opts) => {
          const { parsePeriodType, periodAt, printedPeriod } = await import('../../reports/periods.ts');
          const type = parsePeriodType(opts.type);
          const at = opts.at === undefined ? new Date() : parseInstant(opts.at, '--at');
          const printed = printedPeriod(periodAt(type, at));
          if (ctx.out.json) return ctx.out.data(printed);
          ctx.out.fields([
            ['type', printed.type],
            ['start', `${printed.start} (inclusive)`],
            ['end', `${printed.end} (exclusive)`],
          ]);
        }),
      ),
    [
      'sumda report period --type weekly --at 2026-12-31T23:59:59.999+09:00 --json',
      'sumda report period --type monthly --at 2024-02-29',
    ],
  );

  examples(
    report
      .command('show')
      .description(
        "one user's report of a period: sparkline, emotion bars, keywords, representative sentence, change",
      )
      .requiredOption('--user <id>', 'the user')
      .requiredOption('--period <type>', 'daily | weekly | monthly | yearly')
      .option('--at <date>', 'a day (or instant) inside the period; default: the last complete period')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ user: string; period: string; at?: string }>(async (ctx, opts) => {
          const { parsePeriodType, periodAt } = await import('../../reports/periods.ts');
          const { findReport, renderReport } = await import('../../reports/view.ts');
          const { previousPeriod } = await import('../../time/calendar.ts');
          const type = parsePeriodType(opts.period, '--period');
          const userId = parseUuid(opts.user, '--user');
          const at =
            opts.at === undefined
              ? previousPeriod(periodAt(type, new Date())).start
              : parseInstant(opts.at, '--at');
          periodAt(type, at);
          const found = await findReport(await ctx.db(), userId, type, at);
          if (ctx.out.json) return ctx.out.data(found);
          for (const line of renderReport(found)) ctx.out.line(line);
        }),
      ),
    [
      'sumda report show --user <id> --period weekly',
      'sumda report show --user <id> --period monthly --at 2026-10-01 --json',
    ],
  );

  examples(
    report
      .command('stats')
      .description(
        'dashboard figures per period: users with reports, average score trend, distribution shift, writing frequency',
      )
      .option('--period <type>', 'daily | weekly | monthly | yearly', 'weekly')
      .option('--since <when>', 'periods starting on or after (a date, or a duration ago: 90d)', '84d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ period: string; since: string }>(async (ctx, opts) => {
          const { parsePeriodType } = await import('../../reports/periods.ts');
          const { reportStats } = await import('../../reports/view.ts');
          const { seoulDate } = await import('../../time/calendar.ts');
          const type = parsePeriodType(opts.period, '--period');
          const since = seoulDate(parseInstant(opts.since, '--since'));
          const rows = await reportStats(await ctx.db(), type, since);
          if (ctx.out.json) return ctx.out.data(rows);
          if (rows.length === 0) return ctx.out.line(`no ${type} reports since ${since}`);
          const fmt = (n: number | null, signedValue = false) =>
            n === null ? '-' : signedValue && n > 0 ? `+${n}` : String(n);
          ctx.out.table(
            [
              'period',
              'users',
              'avg score',
              'positive share',
              'shift',
              'entries/user',
              'days/user',
              'top emotion',
            ],
            rows.map((r) => [
              r.period_start,
              r.users,
              fmt(r.avg_score),
              fmt(r.positive_share),
              fmt(r.positive_shift, true),
              r.avg_entries,
              r.avg_days_written,
              r.top_emotion,
            ]),
          );
        }),
      ),
    ['sumda report stats', 'sumda report stats --period monthly --since 2026-01-01 --json'],
  );

  registerBackfill(report);
}

interface BackfillFlags {
  period: string;
  from: string;
  to: string;
  user?: string;
  chunkSize: string;
  throttle: string;
  chunkTimeout: string;
  inline?: boolean;
}

function registerBackfill(report: Command): void {
  const backfill = examples(
    report
      .command('backfill')
      .description('build the reports of a range of periods as a recorded, resumable run (manager+, audited)')
      .option('--period <type>', 'daily | weekly | monthly | yearly')
      .option('--from <date>', 'first Seoul day (YYYY-MM-DD); its whole period is built')
      .option('--to <date>', 'last Seoul day, inclusive (not in the future)')
      .option('--user <id>', 'only this user')
      .option(
        '--chunk-size <n>',
        'users per chunk (one statement over a window of up to 120 days of periods, one transaction, one job)',
        '1000',
      )
      .option(
        '--throttle <duration>',
        'pause between chunks, e.g. 200ms, so app queries keep their latency',
        '0ms',
      )
      .option(
        '--chunk-timeout <duration>',
        'statement_timeout of a chunk; a worker silent for twice it is taken over',
        '60s',
      )
      .option('--inline', 'run the chunks in this command, with progress, instead of queued jobs')
      .option('--dry-run', 'print the periods and the estimated reports; change nothing')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<BackfillFlags>(async (ctx, opts) => {
          const b = await import('../../reports/backfill.ts');
          const { parsePeriodType, parseDateFlag } = await import('../../reports/periods.ts');
          if (!opts.period || !opts.from || !opts.to)
            throw new UsageError('report backfill needs --period, --from and --to');
          const params = {
            type: parsePeriodType(opts.period, '--period'),
            from: parseDateFlag(opts.from, '--from'),
            to: parseDateFlag(opts.to, '--to'),
            userId: opts.user ? parseUuid(opts.user, '--user') : null,
            chunkSize: parseIntFlag(opts.chunkSize, '--chunk-size', 1, 10_000),
            throttleMs: opts.throttle === '0ms' ? 0 : parseDuration(opts.throttle, '--throttle'),
            chunkTimeoutS: Math.ceil(parseDuration(opts.chunkTimeout, '--chunk-timeout') / 1000),
          };
          if (params.throttleMs > 600_000) throw new UsageError('--throttle: at most 10m');
          if (params.chunkTimeoutS > 3600) throw new UsageError('--chunk-timeout: at most 1h');
          const db = await ctx.db();
          const op = opts.dryRun ? null : await ctx.operation();
          if (op) await b.authorizeBackfill(db, op);
          const plan = await b.planBackfill(db, params);
          const first = plan.periods[0]!.startDate;
          const last = plan.periods.at(-1)!.startDate;
          const summary = `${plan.periods.length} ${params.type} period(s) ${first} .. ${last}, ${plan.users} user(s) each, about ${plan.estimatedReports} report(s)`;
          if (opts.dryRun || !op) {
            if (ctx.out.json)
              return ctx.out.data({
                dryRun: true,
                periods: plan.periods.map((p) => ({ start: p.startDate, end: p.endDate })),
                users: plan.users,
                total: plan.total,
                estimatedReports: plan.estimatedReports,
                chunks: plan.chunksPerWindow * plan.windows,
              });
            ctx.out.table(
              ['period start', 'end (exclusive)'],
              plan.periods.map((p) => [p.startDate, p.endDate]),
            );
            return ctx.out.line(
              `would build ${summary}, in ${plan.chunksPerWindow * plan.windows} chunk(s) of up to ${params.chunkSize} users × ${plan.windows === 1 ? 'every period' : `a span of periods (${plan.windows} spans)`}; nothing was changed (--dry-run)`,
            );
          }
          await confirm({ yes: Boolean(opts.yes), action: `build ${summary}` });
          if (opts.inline) {
            const run = await b.startBackfill(db, null, op, plan, { inline: true });
            const bar = ctx.progress(`backfill #${run.id}`, run.total);
            const result = await b.runInline(db, run.id, {
              signal: ctx.signal,
              onChunk: (c) => bar.set(c.run.done),
            });
            bar.done();
            if (ctx.out.json)
              ctx.out.data({ ...b.progressOf(result.run), chunks: result.chunks, mode: 'inline' });
            else
              ctx.out.success(
                `run #${run.id} ${result.run.status}: ${result.run.written} report(s) written, ${result.run.removed} removed, ` +
                  `${result.chunks} chunk(s) in ${(result.ms / 1000).toFixed(1)}s`,
              );
            if (result.stopped === 'interrupted') {
              ctx.out.warn(
                `run #${run.id} paused at ${result.run.cursor_period}; \`sumda report backfill resume ${run.id}\` carries on`,
              );
              return ExitCode.interrupted;
            }
            return result.run.status === 'completed' ? ExitCode.ok : ExitCode.failure;
          }
          const boss = await ctx.boss();
          const run = await b.startBackfill(db, boss, op, plan, { inline: false });
          if (ctx.out.json) return ctx.out.data({ ...b.progressOf(run), mode: 'queued' });
          ctx.out.success(`run #${run.id}: ${summary}; queued (job ${run.next_job_id})`);
          ctx.out.note(
            `workers on report.backfill run it; follow it with \`sumda report backfill status ${run.id} --watch\``,
          );
        }),
      ),
    [
      'sumda report backfill --period weekly --from 2026-01-01 --to 2026-11-30 --dry-run',
      'sumda report backfill --period monthly --from 2026-01-01 --to 2026-11-30 --throttle 200ms --yes',
      'sumda report backfill --period daily --from 2026-11-01 --to 2026-11-07 --user <id> --inline --yes',
    ],
  );

  examples(
    backfill
      .command('status')
      .argument('[run]', 'run number (default: the runs still running or paused, else the latest)')
      .description(
        'done/total, rate and ETA of a run; --watch follows it (a bar on a TTY, NDJSON with --json)',
      )
      .option('--watch', 'follow until the run ends')
      .option('--interval <duration>', 'poll interval of --watch', '1s')
      .option('--json', 'machine-readable result on stdout (NDJSON with --watch)')
      .action(
        act<{ watch?: boolean; interval: string }>(async (ctx, opts, args) => {
          const b = await import('../../reports/backfill.ts');
          const db = await ctx.db();
          const interval = parseDuration(opts.interval, '--interval');
          let id: number;
          if (args[0] !== undefined) id = parseRunId(args[0]);
          else {
            const runs = await b.listRuns(db, { limit: 50 });
            const active = runs.filter((r) => r.status === 'running' || r.status === 'paused');
            if (runs.length === 0)
              return ctx.out.json ? ctx.out.data([]) : ctx.out.line('no report backfill runs yet');
            if (!opts.watch && active.length > 1) {
              if (ctx.out.json) return ctx.out.data(active.map((r) => b.progressOf(r)));
              for (const r of active) ctx.out.line(runLine(r));
              return;
            }
            id = (active[0] ?? runs[0]!).id;
          }
          if (!opts.watch) {
            const p = b.progressOf(await b.findRun(db, id));
            return ctx.out.json ? ctx.out.data(p) : ctx.out.fields(progressFields(p));
          }
          let run = await b.findRun(db, id);
          const bar = ctx.out.json ? null : ctx.progress(`run #${id}`, run.total);
          for (;;) {
            const p = b.progressOf(run);
            if (ctx.out.json)
              ctx.out.record({
                run: run.id,
                status: run.status,
                done: run.done,
                total: run.total,
                rate: p.rate,
                eta_seconds: p.etaSeconds,
              });
            else bar?.set(run.done);
            if (run.status !== 'running' || ctx.signal.aborted) break;
            await new Promise((r) => setTimeout(r, interval));
            run = await b.findRun(db, id);
          }
          bar?.done();
          if (!ctx.out.json) ctx.out.line(runLine(run));
          return ctx.signal.aborted ? ExitCode.interrupted : ExitCode.ok;
        }),
      ),
    [
      'sumda report backfill status',
      'sumda report backfill status 12 --watch',
      'sumda report backfill status 12 --json',
    ],
  );

  examples(
    backfill
      .command('list')
      .description('recent runs, newest first')
      .option('--limit <n>', 'how many', '20')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ limit: string }>(async (ctx, opts) => {
          const b = await import('../../reports/backfill.ts');
          const runs = await b.listRuns(await ctx.db(), {
            limit: parseIntFlag(opts.limit, '--limit', 1, 1000),
          });
          if (ctx.out.json) return ctx.out.data(runs.map((r) => b.progressOf(r)));
          ctx.out.table(
            ['run', 'type', 'range', 'users', 'status', 'done', 'written', 'by', 'started'],
            runs.map((r) => [
              r.id,
              r.period_type,
              `${r.from_date}..${r.to_date}`,
              r.user_id ?? 'all',
              r.status,
              `${r.done}/${r.total}`,
              r.written,
              r.origin === 'schedule' ? 'schedule' : r.actor_email,
              r.started_at,
            ]),
          );
        }),
      ),
    ['sumda report backfill list', 'sumda report backfill list --json | jq ".[0].run.status"'],
  );

  for (const control of ['pause', 'resume', 'cancel'] as const) {
    const command = backfill
      .command(control)
      .argument('<run>', 'run number')
      .description(
        control === 'pause'
          ? 'stop a run after its current chunk; resume carries on from the cursor (manager+, audited)'
          : control === 'resume'
            ? 'carry on a paused (or failed, or stalled) run from its cursor (manager+, audited)'
            : 'stop a run for good; what it built stays (manager+, audited)',
      )
      .option('--json', 'machine-readable result on stdout');
    if (control === 'resume')
      command.option('--inline', 'run the rest in this command instead of queued jobs');
    if (control === 'cancel') command.option('-y, --yes', 'do not ask for confirmation');
    examples(
      command.action(
        act<{ inline?: boolean }>(async (ctx, opts, args) => {
          const b = await import('../../reports/backfill.ts');
          const id = parseRunId(args[0]);
          const db = await ctx.db();
          const op = await ctx.operation();
          await b.authorizeBackfill(db, op);
          const current = await b.findRun(db, id);
          if (control === 'cancel')
            await confirm({
              yes: Boolean(opts.yes),
              action: `cancel report backfill run #${id} (${current.done}/${current.total} done)`,
            });
          const queued = control === 'resume' && !opts.inline;
          const boss = queued ? await ctx.boss() : null;
          const run = await b.controlRun(db, boss, op, id, control, { inline: Boolean(opts.inline) });
          if (control === 'resume' && opts.inline) {
            const bar = ctx.progress(`backfill #${id}`, run.total);
            bar.set(run.done);
            const result = await b.runInline(db, id, {
              signal: ctx.signal,
              onChunk: (c) => bar.set(c.run.done),
            });
            bar.done();
            if (ctx.out.json) ctx.out.data(b.progressOf(result.run));
            else ctx.out.success(runLine(result.run));
            return result.stopped ? ExitCode.interrupted : ExitCode.ok;
          }
          if (ctx.out.json) return ctx.out.data(b.progressOf(run));
          ctx.out.success(runLine(run));
        }),
      ),
      [`sumda report backfill ${control} 12${control === 'cancel' ? ' --yes' : ''}`],
    );
  }
}
