/** `sumda slip …`: see, review, release and override slips; replay a candidate policy. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import type { CommandContext } from '../context.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { applySetFlags, collect, parseIntFlag, parseJson, readInput } from '../input.ts';
import { formatCell } from '../output.ts';
import { printReplay, runReplay } from '../replay.ts';

const STATUSES = ['open', 'released', 'warning', 'slipped', 'normal', 'awaiting-review', 'all'] as const;

async function resolver(ctx: CommandContext) {
  const { PolicyResolver } = await import('../../policy/resolver.ts');
  return new PolicyResolver(await ctx.db());
}

export function registerSlip(program: Command): void {
  const slip = program
    .command('slip')
    .description('slips: pauses of the AI reading for users at a hard moment');

  examples(
    slip
      .command('list')
      .description('slips and warnings (default: open ones)')
      .option('--status <status>', STATUSES.join(' | '), 'open')
      .option('--since <when>', 'triggered at or after (date, ISO time, or 7d ago)')
      .option('--user <id>', 'only this user')
      .option('--limit <n>', 'at most this many', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ status: string; since?: string; user?: string; limit: string }>(async (ctx, opts) => {
          if (!(STATUSES as readonly string[]).includes(opts.status)) {
            throw new UsageError(`--status ${opts.status}: use ${STATUSES.join(', ')}`);
          }
          const { listSlips } = await import('../../slips/operators.ts');
          const { resolveUser } = await import('../ids.ts');
          const db = await ctx.db();
          const rows = await listSlips(db, {
            status: opts.status as (typeof STATUSES)[number],
            since: opts.since ? parseInstant(opts.since, '--since') : undefined,
            userId: opts.user ? await resolveUser(db, opts.user) : undefined,
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          // Seven columns, so a list fits a terminal; score, thresholds and evidence: `slip show`.
          ctx.out.table(
            ['id', 'user', 'status', 'rule', 'triggered', 'ends', 'outcome'],
            rows.map((r) => [
              r.id,
              r.user_id,
              `${r.status} (${r.source})`,
              `${r.rule ?? ''}${r.crisis ? ' · crisis' : ''}`,
              r.triggered_at,
              r.ends_at,
              [
                r.released_at ? `released ${formatCell(r.released_at)} (${r.release_reason})` : '',
                r.review_outcome ? `${r.review_outcome} by ${r.reviewed_by}` : '',
              ]
                .filter(Boolean)
                .join('; '),
            ]),
            {
              shortIds: [0, 1],
              empty: `no ${opts.status === 'all' ? '' : `${opts.status} `}slips${opts.since ? ` since ${opts.since}` : ''}`,
            },
          );
        }),
      ),
    [
      'sumda slip list',
      'sumda slip list --status awaiting-review',
      'sumda slip list --status all --since 7d --json',
    ],
  );

  examples(
    slip
      .command('show <id>')
      .description(
        'one slip: evidence, scores, thresholds, policy versions, notifications (never diary text)',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [id]) => {
          const { showSlip } = await import('../../slips/operators.ts');
          const { resolveId } = await import('../ids.ts');
          const db = await ctx.db();
          const shown = await showSlip(db, await resolveId(db, 'slip', id!));
          if (ctx.out.json) return ctx.out.data(shown);
          const s = shown.slip;
          ctx.out.fields([
            ['slip', s.id],
            ['user', s.user_id],
            ['status', `${s.status} (${s.source})`],
            ['triggered', s.triggered_at],
            ['ends', s.ends_at],
            [
              'released',
              s.released_at
                ? `${s.released_at.toISOString()}${s.released_by_email ? ` by ${s.released_by_email}` : ''} — ${s.release_reason}`
                : 'open',
            ],
            ['override', s.override_by_email ? `${s.override_by_email}: ${s.override_reason}` : ''],
            [
              'review',
              s.review_outcome
                ? `${s.review_outcome} by ${s.reviewed_by_email} at ${s.reviewed_at?.toISOString()}`
                : 'not reviewed',
            ],
            ['analysis', s.analysis_id],
          ]);
          ctx.out.line(`\nevidence: ${JSON.stringify(s.metrics, null, 2)}`);
          ctx.out.table(
            ['user was told', 'type', 'at', 'read'],
            shown.notifications.map((n) => [n.title, n.type, n.created_at, n.read ? 'yes' : 'no']),
            { empty: 'the user was told nothing about this slip' },
          );
        }),
      ),
    ['sumda slip show 0c1d…'],
  );

  examples(
    slip
      .command('release <id>')
      .description('end a slip or warning now (the user is told the AI reading is back)')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [id]) => {
          const { releaseSlip } = await import('../../slips/operators.ts');
          const { resolveId } = await import('../ids.ts');
          const db = await ctx.db();
          const result = await releaseSlip(
            db,
            await resolver(ctx),
            await ctx.operation(),
            await resolveId(db, 'slip', id!),
            opts.reason,
          );
          ctx.out.success(`released ${result.status} ${result.id}`);
        }),
      ),
    ['sumda slip release 0c1d… --reason "reviewed: a hard day, not a risk"'],
  );

  examples(
    slip
      .command('confirm <id>')
      .description('confirm an automated slip after review (it runs its course)')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [id]) => {
          const { confirmSlip } = await import('../../slips/operators.ts');
          const { resolveId } = await import('../ids.ts');
          const db = await ctx.db();
          const slipId = await resolveId(db, 'slip', id!);
          await confirmSlip(db, await ctx.operation(), slipId, opts.reason);
          ctx.out.success(`confirmed ${slipId}`);
        }),
      ),
    ['sumda slip confirm 0c1d… --reason "pattern matches; keep the pause"'],
  );

  examples(
    slip
      .command('override <user>')
      .description('set a user by hand: normal (no automatic slips for a while), warning or slipped')
      .requiredOption('--status <status>', 'normal | warning | slipped')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .option('--for <duration>', 'how long (default: 24h for normal, else the slip policy durations)')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ status: string; reason: string; for?: string }>(async (ctx, opts, [user]) => {
          if (!['normal', 'warning', 'slipped'].includes(opts.status)) {
            throw new UsageError(`--status ${opts.status}: use normal, warning or slipped`);
          }
          const { overrideSlip } = await import('../../slips/operators.ts');
          const result = await overrideSlip(await ctx.db(), await resolver(ctx), await ctx.operation(), {
            userId: await (await import('../ids.ts')).resolveUser(await ctx.db(), user!),
            status: opts.status as 'normal' | 'warning' | 'slipped',
            reason: opts.reason,
            for: opts.for,
          });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(`${user}: ${result.previous ?? 'normal'} → ${result.status} for ${result.for}`);
        }),
      ),
    [
      'sumda slip override 6f1c… --status normal --for 48h --reason "support #88: exam week, not a risk"',
      'sumda slip override 6f1c… --status slipped --reason "reported by family member"',
    ],
  );

  examples(
    slip
      .command('review')
      .description('go through automated slips awaiting a human look: confirm or release each, with a reason')
      .option('--list', 'print the queue and exit (non-interactive; then use slip confirm / slip release)')
      .option('--json', 'with --list: machine-readable')
      .action(
        act<{ list?: boolean }>(async (ctx, opts) => {
          const { listSlips, confirmSlip, releaseSlip, showSlip } = await import('../../slips/operators.ts');
          const db = await ctx.db();
          const queue = await listSlips(db, { status: 'awaiting-review', limit: 500 });
          if (opts.list || ctx.out.json) {
            if (ctx.out.json) return ctx.out.data(queue);
            ctx.out.table(
              ['id', 'user', 'rule', 'score', 'crisis', 'triggered', 'ends'],
              queue.map((r) => [
                r.id,
                r.user_id,
                r.rule,
                r.score,
                r.crisis ? 'yes' : '',
                r.triggered_at,
                r.ends_at,
              ]),
              { shortIds: [0, 1], empty: 'no automated slips are waiting for review' },
            );
            return;
          }
          if (!process.stdin.isTTY || !process.stdout.isTTY) {
            throw new UsageError('slip review is interactive and there is no terminal', {
              hint: 'use `sumda slip review --list`, then `sumda slip confirm|release <id> --reason …`',
            });
          }
          if (queue.length === 0) return ctx.out.line('nothing awaits review');
          const op = await ctx.operation();
          const policies = await resolver(ctx);
          const prompts = await import('@inquirer/prompts');
          let done = 0;
          try {
            for (const item of queue) {
              const { slip: s } = await showSlip(db, item.id);
              const m = s.metrics as Record<string, unknown>;
              ctx.out.line(
                `\n${ctx.out.style('bold', `${done + 1}/${queue.length}  slip ${s.id}`)}  user ${s.user_id}  since ${s.triggered_at.toISOString()}`,
              );
              ctx.out.line(
                `  rule ${m.rule}, risky spikes ${m.risky_spikes} in ${m.window_days} days, tier_a ${m.tier_a}, valence ${m.valence}, crisis ${m.crisis ? 'yes' : 'no'}`,
              );
              const choice = await prompts.select({
                message: 'Decision',
                choices: [
                  { name: 'confirm (keep the pause)', value: 'confirm' },
                  { name: 'release now', value: 'release' },
                  { name: 'skip', value: 'skip' },
                  { name: 'quit', value: 'quit' },
                ],
              });
              if (choice === 'quit') break;
              if (choice === 'skip') continue;
              const reason = await prompts.input({
                message: 'Reason (for the audit trail)',
                validate: (v) => v.trim().length > 0 || 'a reason is required',
              });
              if (choice === 'confirm') await confirmSlip(db, op, s.id, reason);
              else await releaseSlip(db, policies, op, s.id, reason);
              done += 1;
            }
          } catch (error) {
            if ((error as Error).name !== 'ExitPromptError') throw error;
          }
          ctx.out.line(`reviewed ${done} of ${queue.length}`);
        }),
      ),
    ['sumda slip review', 'sumda slip review --list --json'],
  );

  examples(
    slip
      .command('stats')
      .description('slips and warnings per day, median duration, operator actions, re-slip rate')
      .option('--since <when>', 'from (date, ISO time, or 30d ago)', '30d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string }>(async (ctx, opts) => {
          const { slipStats } = await import('../../slips/operators.ts');
          const stats = await slipStats(await ctx.db(), parseInstant(opts.since, '--since'));
          if (ctx.out.json) return ctx.out.data(stats);
          ctx.out.table(
            ['day (KST)', 'warnings', 'slips', 'crisis'],
            stats.perDay.map((d) => [d.day, d.warnings, d.slips, d.crisis]),
          );
          ctx.out.fields([
            [
              'median slip duration',
              stats.medianDurationHours === null ? '' : `${stats.medianDurationHours} h`,
            ],
            ['slipped users', stats.slippedUsers],
            ['re-slip rate', stats.reSlipRate === null ? '' : `${(stats.reSlipRate * 100).toFixed(1)}%`],
            ['awaiting review', stats.awaitingReview],
          ]);
          if (stats.byOperator.length > 0) {
            ctx.out.table(
              ['operator', 'releases', 'overrides', 'confirmations'],
              stats.byOperator.map((o) => [o.operator, o.releases, o.overrides, o.confirmations]),
            );
          }
        }),
      ),
    ['sumda slip stats', 'sumda slip stats --since 2026-11-01 --json'],
  );

  examples(
    slip
      .command('replay')
      .description(
        'what a candidate slip (or ethics) config would have done over the last days, against the active one',
      )
      .option('--config <file>', 'the candidate config as JSON, or - for stdin (default: the active one)')
      .option(
        '--set <key=value>',
        'change one setting on top of --config or the active config (repeatable): --set spike_tier_a=3.0',
        collect,
      )
      .option('--policy <name>', 'slip | ethics', 'slip')
      .option('--days <n>', 'how many days of stored analyses', '30')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ config?: string; set?: string[]; policy: string; days: string }>(async (ctx, opts) => {
          if (opts.policy !== 'slip' && opts.policy !== 'ethics')
            throw new UsageError('--policy: slip or ethics');
          if (!opts.config && !opts.set?.length)
            throw new UsageError(
              'give the candidate: --config <file>, or --set key=value on the active config',
            );
          let config: unknown;
          if (opts.config) config = parseJson(await readInput(opts.config, '--config'), opts.config);
          else {
            const { showConfig } = await import('../../policy/versions.ts');
            config = (await showConfig(await ctx.db(), opts.policy, 'active', 'global')).config;
          }
          if (opts.set?.length) config = await applySetFlags(config, opts.policy, opts.set);
          const result = await runReplay(ctx, opts.policy, config, parseIntFlag(opts.days, '--days', 1, 365));
          await printReplay(ctx, result, `replay of ${opts.policy}`);
        }),
      ),
    [
      'sumda slip replay --set spike_tier_a=3.0 --days 14',
      'sumda slip replay --config slip-v2.json',
      'sumda policy show slip --json | jq ".spike_tier_a = 3.0" | sumda slip replay --config - --days 14',
    ],
  );
}
