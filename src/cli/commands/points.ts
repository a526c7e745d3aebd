/** `sumda points …`: the points ledger — grants, deductions, balances, history, the chain audit, expiry. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { Adjustment, PointReason, RefType } from '../../points/index.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid } from '../input.ts';

interface AdjustOptions {
  reason: string;
  refType?: string;
  refId?: string;
  note?: string;
}

export function registerPoints(program: Command): void {
  const points = program
    .command('points')
    .description('the points ledger: grants, deductions, balances, the chain audit and expiry');

  for (const [verb, sign] of [
    ['grant', 1],
    ['deduct', -1],
  ] as const) {
    examples(
      points
        .command(`${verb} <user> <points>`)
        .description(
          verb === 'grant'
            ? 'add points; with --ref-type/--ref-id the same reference and reason is granted once'
            : 'take points away; refused (exit 2) when the balance would go below zero',
        )
        .requiredOption(
          '--reason <reason>',
          'ledger reason: attendance, event, reward, purchase, admin_adjustment, refund, diary',
        )
        .option('--ref-type <type>', 'what the entry is about: event, attendance, payment, diary, admin')
        .option('--ref-id <id>', 'the id of that thing (with --ref-type)')
        .option('--note <text>', 'why, for the audit trail (default: the reason)')
        .option('--dry-run', 'show the balance before and after; write nothing')
        .option('--json', 'machine-readable result on stdout')
        .action(
          act<AdjustOptions>(async (ctx, opts, [user, amount]) => {
            const { adjustPoints, pointsBalance, validateAdjustment } = await import('../../points/index.ts');
            const input: Adjustment = {
              userId: parseUuid(user!, 'user'),
              delta: sign * parseIntFlag(amount!, 'points', 1, 10_000_000),
              reason: opts.reason as PointReason,
              refType: (opts.refType as RefType | undefined) ?? null,
              refId: opts.refId ?? null,
              note: opts.note ?? null,
            };
            validateAdjustment(input);
            const db = await ctx.db();
            if (opts.dryRun) {
              const { balance } = await pointsBalance(db, input.userId);
              if (balance + input.delta < 0)
                throw new UsageError(
                  `would refuse: the balance ${balance} cannot cover ${-input.delta} points`,
                );
              const plan = {
                userId: input.userId,
                balance,
                delta: input.delta,
                balanceAfter: balance + input.delta,
              };
              if (ctx.out.json) return ctx.out.data({ dryRun: true, ...plan });
              return ctx.out.line(
                `dry run: would ${verb} ${Math.abs(input.delta)} points: balance ${balance} → ${plan.balanceAfter}`,
              );
            }
            const result = await adjustPoints(db, await ctx.operation(), input);
            if (ctx.out.json) return ctx.out.data(result);
            if (result.duplicate) {
              ctx.out.note(
                `already recorded as entry ${result.entry.id} (${result.entry.ref_type}:${result.entry.ref_id}, ${result.entry.reason}); nothing written`,
              );
              return;
            }
            ctx.out.success(
              `entry ${result.entry.id}: ${result.entry.delta > 0 ? '+' : ''}${result.entry.delta} → balance ${result.entry.balance_after}`,
            );
          }),
        ),
      verb === 'grant'
        ? [
            'sumda points grant 6f1c… 100 --reason admin_adjustment --note "문의 #812 보상"',
            'sumda points grant 6f1c… 50 --reason event --ref-type event --ref-id 2b7c…',
          ]
        : ['sumda points deduct 6f1c… 30 --reason purchase --ref-type payment --ref-id 9d0e…'],
    );
  }

  examples(
    points
      .command('balance <user>')
      .description("a user's balance (the last entry's balance_after)")
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [user]) => {
          const { pointsBalance } = await import('../../points/index.ts');
          const balance = await pointsBalance(await ctx.db(), parseUuid(user!, 'user'));
          if (ctx.out.json) return ctx.out.data(balance);
          ctx.out.fields([
            ['user', balance.userId],
            ['balance', balance.balance],
            ['entries', balance.entries],
            ['last entry', balance.lastAt],
          ]);
        }),
      ),
    ['sumda points balance 6f1c…', 'sumda points balance 6f1c… --json'],
  );

  examples(
    points
      .command('history <user>')
      .description("a user's ledger entries, newest first")
      .option('--limit <n>', 'at most this many', '50')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ limit: string }>(async (ctx, opts, [user]) => {
          const { pointsHistory } = await import('../../points/index.ts');
          const rows = await pointsHistory(await ctx.db(), parseUuid(user!, 'user'), {
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['entry', 'at', 'delta', 'balance', 'reason', 'ref'],
            rows.map((r) => [
              r.id,
              r.created_at,
              r.delta > 0 ? `+${r.delta}` : r.delta,
              r.balance_after,
              r.reason,
              r.ref_type ? `${r.ref_type}:${r.ref_id}` : '',
            ]),
          );
        }),
      ),
    ['sumda points history 6f1c… --limit 20'],
  );

  examples(
    points
      .command('audit')
      .description(
        're-check every chain: each balance_after = previous + delta, never negative (exit 4 on a break)',
      )
      .option('--user <id>', 'only this user')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ user?: string }>(async (ctx, opts) => {
          const { assertChainsIntact, auditLedger } = await import('../../points/index.ts');
          const audit = await auditLedger(await ctx.db(), {
            ...(opts.user ? { userId: parseUuid(opts.user, '--user') } : {}),
          });
          if (ctx.out.json) ctx.out.data(audit);
          else if (audit.breaks.length > 0) {
            ctx.out.table(
              ['entry', 'user', 'previous', 'delta', 'balance_after', 'problem'],
              audit.breaks.map((b) => [b.id, b.userId, b.previous, b.delta, b.balanceAfter, b.problem]),
            );
          } else ctx.out.success(`${audit.entries} entries of ${audit.users} users: every chain holds`);
          assertChainsIntact(audit);
        }),
      ),
    ['sumda points audit', 'sumda points audit --user 6f1c… --json'],
  );

  examples(
    points
      .command('expire')
      .description(
        'run the expiry policy now (points earned more than 365 days ago, oldest spent first); the daily job does this at 03:10',
      )
      .option('--date <yyyy-mm-dd>', 'the Asia/Seoul day of the run (default: today)')
      .option('--batch-size <n>', 'users per transaction', '500')
      .option('--dry-run', 'count what would expire; write nothing')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ date?: string; batchSize: string }>(async (ctx, opts) => {
          const { expirePoints } = await import('../../points/index.ts');
          const { parseCalendarDate, seoulDate } = await import('../../time/calendar.ts');
          if (opts.date && !parseCalendarDate(opts.date))
            throw new UsageError(`--date ${JSON.stringify(opts.date)}: not a calendar date (YYYY-MM-DD)`);
          const date = opts.date ?? seoulDate(new Date());
          const bar = ctx.progress('users', 0);
          const run = await expirePoints(await ctx.db(), await ctx.operation(), {
            date,
            batchSize: parseIntFlag(opts.batchSize, '--batch-size', 1, 10_000),
            dryRun: opts.dryRun,
            onBatch: (r) => bar.set(r.scanned),
          });
          bar.done();
          if (ctx.out.json) return ctx.out.data({ dryRun: Boolean(opts.dryRun), ...run });
          ctx.out.line(
            `${opts.dryRun ? 'dry run: would expire' : 'expired'} ${run.points} points of ${run.expired} users (${run.scanned} users looked at, run of ${date})`,
          );
        }),
      ),
    ['sumda points expire --dry-run', 'sumda points expire --date 2026-12-01'],
  );
}
