/** `sumda seed`: deterministic synthetic data for laptops, demos, tests and benchmarks. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { CommandContext } from '../context.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';
import { runSeed } from '../seeding.ts';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Synthetic people must never land in production by accident: only local servers unless asked. */
function assertLocal(ctx: CommandContext, allowRemote: boolean | undefined): void {
  if (!ctx.config.databaseUrl || allowRemote) return;
  const host = new URL(ctx.config.databaseUrl).hostname;
  if (!LOCAL_HOSTS.has(host)) {
    throw new UsageError(`refusing to seed synthetic users into ${host}`, {
      hint: 'pass --allow-remote if this really is a test database',
    });
  }
}

export function registerSeed(program: Command): void {
  examples(
    program
      .command('seed')
      .description(
        'deterministic synthetic data: users, plans, subscriptions, payments, encrypted diaries, logins, events',
      )
      .option('--users <n>', 'how many users', '100')
      .option('--days <n>', 'days of history up to --end-date', '30')
      .option('--seed <n>', 'the same seed gives the same data', '1')
      .option('--end-date <YYYY-MM-DD>', 'last day of the history (Asia/Seoul; default today)')
      .option('--allow-remote', 'allow a DATABASE_URL that is not on this machine')
      .option(
        '--no-scenario',
        'leave out the safety scenario (four users whose last hours exercise slips, crisis notes and moderation; added when the history ends today)',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{
          users: string;
          days: string;
          seed: string;
          endDate?: string;
          allowRemote?: boolean;
          scenario: boolean;
        }>(async (ctx, opts) => {
          assertLocal(ctx, opts.allowRemote);
          const result = await runSeed(ctx, {
            users: parseIntFlag(opts.users, '--users', 1, 1_000_000),
            days: parseIntFlag(opts.days, '--days', 1, 3650),
            seed: parseIntFlag(opts.seed, '--seed', 0, 2 ** 31 - 1),
            endDate: opts.endDate,
          });
          // Recent entries that exercise the slip flow and the moderation queue once a worker
          // reads them: without them, `slip list` and `moderation queue` show nothing.
          const { seoulDate } = await import('../../time/calendar.ts');
          let scenario = 0;
          if (opts.scenario && (!opts.endDate || opts.endDate === seoulDate(new Date()))) {
            const { seedSafetyScenario } = await import('../../seed/scenario.ts');
            const { loadCheckedKeyring } = await import('../../keys/checks.ts');
            const { keyring } = await loadCheckedKeyring(ctx.config, ctx.log, await ctx.db());
            scenario = await seedSafetyScenario(await ctx.db(), keyring);
          }
          if (ctx.out.json) return ctx.out.data({ ...result, scenarioEntries: scenario });
          const seconds = result.ms / 1000;
          ctx.out.success(
            `seeded ${result.users} users, ${result.diaries} diary entries, ${result.subscriptions} subscriptions, ` +
              `${result.payments} payments, ${result.logins} logins, ${result.attendance} attendance days in ${seconds.toFixed(1)}s`,
          );
          ctx.out.note(
            `moods: ${Object.entries(result.moods)
              .map(([m, n]) => `${m} ${n}`)
              .join(', ')}`,
          );
          if (scenario > 0) {
            ctx.out.note(
              `safety scenario: ${scenario} recent entries of 4 users (데모: …); after \`sumda worker --once\` they show a warning, a slip, a crisis note and an entry in the moderation queue`,
            );
          }
        }),
      ),
    ['sumda seed --users 200 --days 30', 'sumda seed --users 10000 --days 90 --seed 7 --json'],
  );
}
