/**
 * `sumda jobs …`: counts per queue, listing and showing jobs, and retry / cancel / resume by id or
 * by filter — the count first, then a confirmation, then one audited change.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { JobAction, JobActionPlan, JobMatch } from '../../jobadmin/actions.ts';
import type { JobState } from '../../jobadmin/common.ts';
import { formatDuration, parseInstant } from '../../time/grammar.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid } from '../input.ts';

const MATCH_GRAMMAR = 'queue=<name>[,state=<state>][,since=<1h|7d|2026-11-25|ISO time>]';

/**
 * The `--all-matching` grammar: comma-separated `key=value` pairs; `queue` is required, `state` is a
 * pg-boss state (default: the states the action changes), `since` keeps jobs created at or after it.
 */
export async function parseMatch(text: string): Promise<JobMatch> {
  const { parseJobState } = await import('../../jobadmin/common.ts');
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const [key, value] = part.split(/=(.*)/s, 2).map((s) => s?.trim()) as [string, string | undefined];
    if (!value)
      throw new UsageError(
        `--all-matching ${JSON.stringify(text)}: ${JSON.stringify(part)} is not key=value`,
        { hint: MATCH_GRAMMAR },
      );
    if (!['queue', 'state', 'since'].includes(key))
      throw new UsageError(`--all-matching: unknown key ${JSON.stringify(key)} (use queue, state, since)`, {
        hint: MATCH_GRAMMAR,
      });
    if (fields.has(key))
      throw new UsageError(`--all-matching: ${key} is given twice`, { hint: MATCH_GRAMMAR });
    fields.set(key, value);
  }
  const queue = fields.get('queue');
  if (!queue) throw new UsageError('--all-matching needs queue=<name>', { hint: MATCH_GRAMMAR });
  const state = fields.get('state');
  const since = fields.get('since');
  return {
    queue,
    ...(state ? { state: parseJobState(state) } : {}),
    ...(since ? { since: parseInstant(since, 'since=') } : {}),
  };
}

function ago(seconds: number | null): string {
  return seconds === null ? '' : formatDuration(seconds * 1000);
}

/** `analysis.run: 2 failed, analysis.run.dead: 1 created` */
function planSummary(plan: JobActionPlan): string {
  const counts = new Map<string, Map<string, number>>();
  for (const job of plan.jobs) {
    const byState = counts.get(job.queue) ?? new Map<string, number>();
    byState.set(job.state, (byState.get(job.state) ?? 0) + 1);
    counts.set(job.queue, byState);
  }
  return [...counts]
    .map(([queue, byState]) => `${queue}: ${[...byState].map(([s, n]) => `${n} ${s}`).join(', ')}`)
    .join('; ');
}

const PAST: Record<JobAction, string> = { retry: 'retried', cancel: 'cancelled', resume: 'resumed' };
const PREVIEW_IDS = 10;

function registerAction(jobs: Command, action: JobAction, description: string, lines: string[]): void {
  examples(
    jobs
      .command(`${action} [ids...]`)
      .description(description)
      .option('--all-matching <filter>', `every job matching ${MATCH_GRAMMAR}`)
      .option('--reason <text>', 'why, for the audit trail')
      .option('--dry-run', 'print the count and the ids; change nothing')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ allMatching?: string; reason?: string }>(async (ctx, opts, ids) => {
          const { applyJobAction, authorizeJobAction, planJobAction } = await import(
            '../../jobadmin/actions.ts'
          );
          const { isDeadLetterQueue } = await import('../../jobadmin/common.ts');
          if (opts.allMatching && ids.length > 0)
            throw new UsageError('name job ids or use --all-matching, not both');
          if (!opts.allMatching && ids.length === 0)
            throw new UsageError(`jobs ${action}: name at least one job id, or use --all-matching <filter>`, {
              hint: MATCH_GRAMMAR,
            });
          const target = opts.allMatching
            ? { match: await parseMatch(opts.allMatching) }
            : { ids: ids.map((id) => parseUuid(id, 'job')) };
          const db = await ctx.db();
          const plan = await planJobAction(db, action, target);
          // The role is checked before the count is shown and before anyone is asked anything.
          const op = opts.dryRun ? null : await ctx.operation();
          if (op) await authorizeJobAction(db, op, plan);

          const out = ctx.out;
          const say = (text: string) => (out.json ? out.note(text) : out.line(text));
          for (const s of plan.skipped) out.warn(`${s.id} (${s.queue}) is ${s.why}: left alone`);
          const count = plan.jobs.length;
          if (count === 0) {
            if (out.json)
              out.data({ action, dryRun: Boolean(opts.dryRun), count: 0, ids: [], skipped: plan.skipped });
            else out.line(`nothing to ${action}`);
            return;
          }
          const redrives = action === 'retry' && plan.jobs.some((j) => isDeadLetterQueue(j.queue));
          say(
            `${opts.dryRun ? 'would' : 'will'} ${action} ${count} job(s) — ${planSummary(plan)}${
              redrives ? ' (dead letters are redriven to their source queue as new jobs)' : ''
            }`,
          );
          if (opts.dryRun) {
            if (out.json)
              return out.data({
                action,
                dryRun: true,
                count,
                ids: plan.jobs.map((j) => j.id),
                jobs: plan.jobs,
                skipped: plan.skipped,
              });
            for (const job of plan.jobs) out.line(`  ${job.id}  ${job.queue}  ${job.state}`);
            out.line('nothing was changed (--dry-run)');
            return;
          }
          if (!out.json) {
            for (const job of plan.jobs.slice(0, PREVIEW_IDS))
              out.line(`  ${job.id}  ${job.queue}  ${job.state}`);
            if (count > PREVIEW_IDS) out.line(`  … and ${count - PREVIEW_IDS} more`);
          }
          await confirm({
            yes: Boolean(opts.yes),
            action: `${action} ${count} job(s)`,
            ...(opts.allMatching ? { typed: String(count) } : {}),
          });
          const boss = await ctx.boss();
          const result = await applyJobAction(db, boss, op!, plan, { reason: opts.reason ?? null });
          if (out.json) return out.data(result);
          const direct = Object.entries(result.byQueue).filter(
            ([queue]) => !(action === 'retry' && isDeadLetterQueue(queue)),
          );
          if (direct.length > 0)
            out.success(
              `${PAST[action]} ${direct.reduce((n, [, k]) => n + k, 0)} job(s) (${direct
                .map(([queue, n]) => `${queue}: ${n}`)
                .join(', ')})`,
            );
          for (const r of result.redriven)
            out.success(`dead letter ${r.id} redriven to ${r.queue} as ${r.newId ?? '(a new job)'}`);
          if (result.deadLetterCopiesRemoved > 0)
            out.note(`${result.deadLetterCopiesRemoved} dead-letter copy(ies) of retried jobs removed`);
          if (result.changed < result.requested)
            out.warn(
              `${result.requested - result.changed} job(s) had changed state since they were counted (or could not be redriven) and were left alone`,
            );
        }),
      ),
    lines,
  );
}

export function registerJobs(program: Command): void {
  const jobs = program
    .command('jobs')
    .description('inspect jobs and retry, cancel or resume them (by id or by filter; audited)')
    .addHelpText(
      'after',
      `\n--all-matching filter: ${MATCH_GRAMMAR}\n  states: created, retry, active, completed, cancelled, failed\n  retry changes failed jobs (in a <queue>.dead queue: redrives the dead letters); cancel changes\n  created and retry jobs (active ones only with state=active); resume changes cancelled jobs.\n`,
    );

  examples(
    jobs
      .command('stats')
      .description('per queue: ready, deferred, active, failed, completed, dead-lettered, oldest waiting age')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { queueStats } = await import('../../jobadmin/stats.ts');
          const rows = await queueStats(await ctx.db());
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            [
              'queue',
              'ready',
              'deferred',
              'active',
              'failed',
              'completed',
              'cancelled',
              'dead',
              'oldest ready',
              'paused',
            ],
            rows.map((r) => [
              r.queue,
              r.ready,
              r.deferred,
              r.active,
              r.failed,
              r.completed,
              r.cancelled,
              r.deadLettered ?? '',
              ago(r.oldestReadySeconds),
              r.paused ? 'paused' : '',
            ]),
          );
        }),
      ),
    ['sumda jobs stats', "sumda jobs stats --json | jq '.[] | select(.failed > 0)'"],
  );

  examples(
    jobs
      .command('list')
      .description('jobs, newest first (payloads only in `jobs show`)')
      .option('--queue <name>', 'one queue (or its <queue>.dead)')
      .option('--state <states>', 'comma-separated: created, retry, active, completed, cancelled, failed')
      .option('--since <when>', 'created at or after: 1h, 7d, 2026-11-25 (KST midnight), an ISO time')
      .option('--limit <n>', 'at most this many', '50')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ queue?: string; state?: string; since?: string; limit: string }>(async (ctx, opts) => {
          const { listJobs } = await import('../../jobadmin/list.ts');
          const { parseJobState } = await import('../../jobadmin/common.ts');
          const states: JobState[] | undefined = opts.state
            ?.split(',')
            .map((s) => s.trim())
            .filter(Boolean)
            .map(parseJobState);
          const rows = await listJobs(await ctx.db(), {
            queue: opts.queue,
            states,
            since: opts.since ? parseInstant(opts.since, '--since') : undefined,
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          if (rows.length === 0) return ctx.out.line('no jobs match');
          ctx.out.table(
            ['id', 'queue', 'state', 'attempt', 'created', 'started', 'completed', 'key', 'error'],
            rows.map((r) => [
              r.id,
              r.queue,
              r.state,
              `${r.attempt}/${r.maxAttempts}`,
              r.createdOn,
              r.startedOn,
              r.completedOn,
              r.singletonKey,
              r.error,
            ]),
          );
        }),
      ),
    [
      'sumda jobs list --queue analysis.run --state failed --since 1h',
      'sumda jobs list --queue analysis.run.dead',
      'sumda jobs list --state created,retry --limit 200 --json',
    ],
  );

  examples(
    jobs
      .command('show <id>')
      .description('every field of one job, its payload and output included')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [id]) => {
          const { showJob } = await import('../../jobadmin/list.ts');
          const job = await showJob(await ctx.db(), parseUuid(id!, 'job'));
          if (ctx.out.json) return ctx.out.data(job);
          ctx.out.fields(
            Object.entries(job).map(([k, v]) => [
              k,
              v === null || v instanceof Date || typeof v !== 'object' ? (v as string) : JSON.stringify(v),
            ]),
          );
        }),
      ),
    ['sumda jobs show 3f2a9c1e-…', 'sumda jobs show 3f2a9c1e-… --json | jq .output'],
  );

  registerAction(jobs, 'retry', 'run failed jobs again (dead letters: redrive to their source queue)', [
    'sumda jobs retry 3f2a9c1e-… 8b0d…',
    'sumda jobs retry --all-matching queue=analysis.run,since=2h --dry-run',
    'sumda jobs retry --all-matching queue=analysis.run.dead --yes --reason "OpenAI outage over"',
  ]);
  registerAction(jobs, 'cancel', 'cancel queued (or, by id or state=active, running) jobs', [
    'sumda jobs cancel 3f2a9c1e-…',
    'sumda jobs cancel --all-matching queue=keys.reencrypt --reason "wrong key id" --yes',
  ]);
  registerAction(jobs, 'resume', 'queue cancelled jobs again', [
    'sumda jobs resume 3f2a9c1e-…',
    'sumda jobs resume --all-matching queue=keys.reencrypt,since=2026-11-25 --dry-run',
  ]);
}
