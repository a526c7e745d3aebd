/** `sumda analysis …`: (re-)analysis of ranges, results of one entry, statistics by prompt version. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseUuid } from '../input.ts';

/** Entries above this need a confirmation: each one is an LLM call that costs money. */
const CONFIRM_ABOVE = 100;

export function registerAnalysis(program: Command): void {
  const analysis = program
    .command('analysis')
    .description('diary analyses: enqueue ranges, show results, statistics');

  examples(
    analysis
      .command('enqueue')
      .description('(re-)analyse entries with no result under a prompt version; counts first, idempotent')
      .option('--since <when>', 'entries written at or after (date, ISO time, or 7d ago)')
      .option('--until <when>', 'entries written before (date or ISO time)')
      .option('--user <id>', 'only this user')
      .option('--prompt-version <version>', 'prompt version (default: the active analysis policy)')
      .option('--prompt-name <name>', 'prompt name (default: the active analysis policy)')
      .option('--dry-run', 'count only; enqueue nothing')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{
          since?: string;
          until?: string;
          user?: string;
          promptVersion?: string;
          promptName?: string;
          yes?: boolean;
        }>(async (ctx, opts) => {
          const { countUnanalysed, enqueueRange } = await import('../../analysis/enqueue.ts');
          const { activePrompt } = await import('../../analysis/run.ts');
          const { PolicyResolver } = await import('../../policy/resolver.ts');
          const { findPrompt } = await import('../../prompts/index.ts');
          const db = await ctx.db();
          const active = await activePrompt(new PolicyResolver(db));
          const prompt = {
            promptName: opts.promptName ?? active.promptName,
            promptVersion: opts.promptVersion ?? active.promptVersion,
          };
          await findPrompt(db, prompt.promptName, prompt.promptVersion);
          const range = {
            since: opts.since ? parseInstant(opts.since, '--since') : undefined,
            until: opts.until ? parseInstant(opts.until, '--until') : undefined,
            userId: opts.user ? parseUuid(opts.user, '--user') : undefined,
            prompt,
          };
          if (range.since && range.until && range.since >= range.until)
            throw new UsageError('--since must be before --until');
          const count = await countUnanalysed(db, { ...range, skipFailed: false });
          if (opts.dryRun || count === 0) {
            if (ctx.out.json)
              return ctx.out.data({ wouldEnqueue: count, ...prompt, dryRun: Boolean(opts.dryRun) });
            return ctx.out.line(
              `${count} entries have no analysis under ${prompt.promptName} ${prompt.promptVersion}${opts.dryRun ? ' (nothing enqueued: --dry-run)' : ''}`,
            );
          }
          if (count > CONFIRM_ABOVE) {
            await confirm({
              yes: Boolean(opts.yes),
              action: `enqueue ${count} analyses (each one is a model call)`,
              typed: String(count),
            });
          }
          const op = await ctx.operation();
          const boss = await ctx.boss();
          const bar = ctx.progress('enqueue', count);
          const result = await enqueueRange(db, boss, op, range, {
            onProgress: (done) => bar.set(done),
            signal: ctx.signal,
          });
          bar.done();
          if (ctx.out.json) return ctx.out.data({ ...result, ...prompt });
          ctx.out.success(
            `enqueued ${result.enqueued} analyses under ${prompt.promptName} ${prompt.promptVersion}; workers pick them up`,
          );
        }),
      ),
    [
      'sumda analysis enqueue --since 2026-11-01 --dry-run',
      'sumda analysis enqueue --since 30d --prompt-version v3 --yes',
      'sumda analysis enqueue --user 6f1c… --json',
    ],
  );

  examples(
    analysis
      .command('show <entry>')
      .description(
        'the analyses of one diary entry (never its text); --internal adds private metadata (manager+)',
      )
      .option('--internal', 'include the private metadata (scores, tags, tokens, versions); audited')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ internal?: boolean }>(async (ctx, opts, [entry]) => {
          const { analysesOf } = await import('../../analysis/queries.ts');
          const db = await ctx.db();
          const diaryId = parseUuid(entry!, 'entry');
          if (opts.internal) {
            const { authorize } = await import('../../admins/permissions.ts');
            const { writeAudit } = await import('../../audit/index.ts');
            const op = await ctx.operation();
            await authorize(db, op, 'analysis.read_internal', { type: 'diary', id: diaryId });
            // Reading private metadata is recorded like a change: it is sensitive.
            await writeAudit(db, op, {
              action: 'analysis.read_internal',
              targetType: 'diary',
              targetId: diaryId,
            });
          }
          const shown = await analysesOf(db, diaryId, { internal: Boolean(opts.internal) });
          if (ctx.out.json) return ctx.out.data(shown);
          ctx.out.fields([
            ['entry', shown.entry.id],
            ['user', shown.entry.user_id],
            ['written', shown.entry.created_at],
            [
              'moderation',
              `${shown.entry.moderation_state}${shown.entry.flagged_at ? ` (flagged: ${shown.entry.flag_reason})` : ''}`,
            ],
            ['sealed with', shown.entry.content_key_id],
          ]);
          if (shown.results.length === 0) ctx.out.line('\nno analysis yet');
          for (const r of shown.results) {
            ctx.out.line(
              `\n${ctx.out.style('bold', `${r.prompt_name} ${r.prompt_version}`)}  ${r.created_at.toISOString()}`,
            );
            ctx.out.fields([
              ['오늘의 장면', r.summary],
              ['keywords', r.keywords.join(', ')],
              ['question', r.reflection_question],
              ['interpretation', r.interpretation],
            ]);
            const flow = (r.emotion_flow as { phase: string; emotion: string; intensity: number }[]) ?? [];
            ctx.out.line(`  flow: ${flow.map((s) => `${s.phase}:${s.emotion}(${s.intensity})`).join(' → ')}`);
            if ('metadata' in r) ctx.out.line(`  metadata: ${JSON.stringify(r.metadata)}`);
          }
          for (const f of shown.failures) ctx.out.warn(`${f.at.toISOString()} ${f.message}`);
        }),
      ),
    ['sumda analysis show 2b7c…', 'sumda analysis show 2b7c… --internal --json'],
  );

  examples(
    analysis
      .command('stats')
      .description('analyses, failures, tokens and cost by prompt version')
      .option('--since <when>', 'from (date, ISO time, or 7d ago)', '7d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string }>(async (ctx, opts) => {
          const { analysisStats, failureOutcomes } = await import('../../analysis/queries.ts');
          const db = await ctx.db();
          const since = parseInstant(opts.since, '--since');
          const [rows, outcomes] = await Promise.all([analysisStats(db, since), failureOutcomes(db, since)]);
          if (ctx.out.json) return ctx.out.data({ since, byPrompt: rows, failures: outcomes });
          ctx.out.table(
            [
              'prompt',
              'model',
              'analyses',
              'failed',
              'repaired',
              'crisis',
              'avg ms',
              'tokens in/out',
              'cost $',
              'avg tier_a',
            ],
            rows.map((r) => [
              `${r.prompt_name} ${r.prompt_version}`,
              r.model_version,
              r.analyses,
              r.failures,
              r.repaired,
              r.crisis,
              r.avg_latency_ms,
              `${r.input_tokens}/${r.output_tokens}`,
              r.cost_usd.toFixed(4),
              r.avg_tier_a,
            ]),
          );
          if (outcomes.length > 0)
            ctx.out.line(`failures: ${outcomes.map((o) => `${o.outcome} ${o.n}`).join(', ')}`);
        }),
      ),
    ['sumda analysis stats', 'sumda analysis stats --since 2026-11-01 --json'],
  );
}
