/** `sumda user …`: one account for support (no diary text), and account state changes. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';

export function registerUser(program: Command): void {
  const user = program.command('user').description('service accounts: the support view and account states');

  examples(
    user
      .command('show <user>')
      .description(
        'account, subscription, activity, open slip and state history (no diary text); by id, id prefix or e-mail',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [id]) => {
          const { showUser } = await import('../../users/index.ts');
          const { resolveUser } = await import('../ids.ts');
          const db = await ctx.db();
          const shown = await showUser(db, await resolveUser(db, id!));
          if (ctx.out.json) return ctx.out.data(shown);
          const s = shown.subscription;
          ctx.out.fields([
            ['user', `${shown.user.id} (${shown.user.nickname})`],
            ['email', shown.user.email ?? '(social login)'],
            ['state', shown.user.state],
            ['joined', shown.user.created_at],
            [
              'subscription',
              s ? `${s.plan} ${s.status}, next billing ${s.next_billing_at?.toISOString() ?? '-'}` : 'none',
            ],
            [
              'diaries',
              `${shown.activity.diaries} (last ${shown.activity.last_written?.toISOString() ?? '-'})`,
            ],
            ['analyses', shown.activity.analyses],
            ['flagged entries', shown.activity.flagged],
            [
              'open slip',
              shown.openSlip
                ? `${shown.openSlip.status} (${shown.openSlip.source}) since ${shown.openSlip.triggered_at.toISOString()} — ${shown.openSlip.id}`
                : 'none',
            ],
            ['points', shown.points.balance],
            [
              'open tickets',
              shown.openTickets.length === 0
                ? 'none'
                : shown.openTickets.map((t) => `${t.id} (${t.category}, ${t.status})`).join(', '),
            ],
          ]);
          if (shown.stateHistory.length > 0) {
            ctx.out.table(
              ['changed', 'from', 'to', 'by', 'reason'],
              shown.stateHistory.map((h) => [
                h.changed_at,
                h.old_state,
                h.new_state,
                h.by ?? '(system)',
                h.reason,
              ]),
            );
          }
        }),
      ),
    ['sumda user show 6f1c2a9e', 'sumda user show mina@example.com --json'],
  );

  examples(
    user
      .command('set-state <id> <state>')
      .description('change an account state: active | inactive | resigned | banned')
      .requiredOption('--reason <text>', 'why, for the state log and the audit trail')
      .option('--yes', 'banned/resigned: confirm without a prompt (scripts)')
      .action(
        act<{ reason: string; yes?: boolean }>(async (ctx, opts, [id, state]) => {
          const { setUserState, USER_STATES } = await import('../../users/index.ts');
          if (!(USER_STATES as readonly string[]).includes(state!))
            throw new UsageError(`state ${state}: use ${USER_STATES.join(', ')}`);
          const { resolveUser } = await import('../ids.ts');
          const userId = await resolveUser(await ctx.db(), id!);
          const op = await ctx.operation();
          // Shutting an account is destructive: confirmed on a terminal, --yes in scripts.
          if (state === 'banned' || state === 'resigned')
            await confirm({ yes: Boolean(opts.yes), action: `set user ${userId} to ${state}` });
          const result = await setUserState(await ctx.db(), op, {
            userId,
            state: state as (typeof USER_STATES)[number],
            reason: opts.reason,
          });
          ctx.out.success(`${result.id}: ${result.before} → ${result.after}`);
        }),
      ),
    [
      'sumda user set-state 6f1c… banned --reason "abuse report #412, confirmed"',
      'sumda user set-state 6f1c… inactive --reason "support #88" --yes',
    ],
  );
}
