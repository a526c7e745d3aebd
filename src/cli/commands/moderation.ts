/** `sumda moderation …`: the queue of flagged diary entries, and what operators do with them. */
import { type Command, Option } from 'commander';
import { parseInstant } from '../../time/grammar.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid } from '../input.ts';

const ACTIONS = [
  ['block', 'hide the entry from the app (reversible with restore)'],
  ['delete', 'soft-delete the entry (reversible with restore; the ciphertext stays)'],
  ['restore', 'make a blocked or deleted entry visible again'],
  ['dismiss', 'take the entry off the queue without changing it'],
] as const;

/** Actions that take content away from its author: confirmed on a terminal, `--yes` in scripts. */
const DESTRUCTIVE = new Set<string>(['delete']);

function yesOption(action: string): Option {
  const option = new Option('--yes', 'confirm without a prompt (scripts)');
  return DESTRUCTIVE.has(action) ? option : option.hideHelp();
}

export function registerModeration(program: Command): void {
  const moderation = program
    .command('moderation')
    .description('the moderation queue: flagged diary entries (never their text)');

  examples(
    moderation
      .command('list')
      .description('flagged entries, oldest first, with their analysis and flag')
      .option('--all', 'also entries already blocked or deleted')
      .option('--limit <n>', 'at most this many', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ all?: boolean; limit: string }>(async (ctx, opts) => {
          const { listFlagged } = await import('../../moderation/index.ts');
          const rows = await listFlagged(await ctx.db(), {
            includeHandled: opts.all,
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['entry', 'user', 'written', 'state', 'flagged', 'why', '오늘의 장면'],
            rows.map((r) => [
              r.id,
              r.user_id,
              r.created_at,
              r.moderation_state,
              r.flagged_at,
              r.flag_reason,
              r.summary,
            ]),
            { empty: opts.all ? 'no flagged entries' : 'the moderation queue is empty' },
          );
        }),
      ),
    ['sumda moderation list', 'sumda moderation list --all --json'],
  );

  examples(
    moderation
      .command('stats')
      .description('moderation actions per operator and action, and per reason')
      .option('--since <when>', 'since (date, ISO time or 30d)', '30d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string }>(async (ctx, opts) => {
          const { moderationStats } = await import('../../moderation/index.ts');
          const stats = await moderationStats(await ctx.db(), { since: parseInstant(opts.since, '--since') });
          if (ctx.out.json) return ctx.out.data(stats);
          ctx.out.table(
            ['operator', 'action', 'actions'],
            stats.byOperator.map((r) => [r.operator ?? '(automatic)', r.action, r.actions]),
          );
          ctx.out.table(
            ['reason', 'actions', 'operators'],
            stats.byReason.map((r) => [r.reason, r.actions, r.operators]),
          );
        }),
      ),
    ['sumda moderation stats', 'sumda moderation stats --since 7d --json'],
  );

  for (const [action, description] of ACTIONS) {
    examples(
      moderation
        .command(`${action} <entry>`)
        .description(description)
        .requiredOption('--reason <text>', 'why, for the moderation log and the audit trail')
        .addOption(yesOption(action))
        .action(
          act<{ reason: string; yes?: boolean }>(async (ctx, opts, [entry]) => {
            const { moderate } = await import('../../moderation/index.ts');
            const diaryId = parseUuid(entry!, 'entry');
            const op = await ctx.operation();
            if (DESTRUCTIVE.has(action)) {
              await confirm({ yes: Boolean(opts.yes), action: `${action} diary entry ${diaryId}` });
            }
            const result = await moderate(await ctx.db(), op, {
              diaryId,
              action,
              reason: opts.reason,
            });
            ctx.out.success(
              `${result.id}: ${result.before} → ${result.after}${action === 'dismiss' ? ' (unflagged)' : ''}`,
            );
          }),
        ),
      [
        `sumda moderation ${action} 2b7c…${DESTRUCTIVE.has(action) ? ' --yes' : ''} --reason "reviewed: ${action === 'dismiss' ? 'fiction, not a threat' : 'violates the community policy'}"`,
      ],
    );
  }
}
