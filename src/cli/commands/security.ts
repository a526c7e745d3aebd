/** `sumda security …`: the login security report (bursts, many-IP accounts, new-country logins). */
import type { Command } from 'commander';
import { parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

export function registerSecurity(program: Command): void {
  const security = program.command('security').description('security views over admin.login_logs');

  examples(
    security
      .command('logins')
      .description(
        'failed-login bursts per IP and per account, accounts tried from many IPs, logins from a new country',
      )
      .option('--since <when>', 'logins since (date, ISO time or 7d)', '24h')
      .option('--burst <n>', 'failures within 10 minutes that make a burst', '5')
      .option('--ips <n>', 'distinct IPs on one account that make it suspicious', '3')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string; burst: string; ips: string }>(async (ctx, opts) => {
          const { loginSecurity } = await import('../../logs/views.ts');
          const report = await loginSecurity(await ctx.db(), {
            since: parseInstant(opts.since, '--since'),
            thresholds: {
              burst: parseIntFlag(opts.burst, '--burst', 2, 10_000),
              ips: parseIntFlag(opts.ips, '--ips', 2, 10_000),
              window: '10 minutes',
            },
          });
          if (ctx.out.json) return ctx.out.data(report);
          ctx.out.line('failed-login bursts per IP');
          ctx.out.table(
            ['ip', 'window', 'failures', 'accounts'],
            report.ipBursts.map((r) => [r.ip, r.window_start, r.failures, r.accounts]),
          );
          ctx.out.line('failed-login bursts per account');
          ctx.out.table(
            ['user', 'window', 'failures', 'ips'],
            report.accountBursts.map((r) => [r.user_id, r.window_start, r.failures, r.ips]),
          );
          ctx.out.line('accounts tried from many IPs');
          ctx.out.table(
            ['user', 'ips', 'failures', 'successes'],
            report.manyIps.map((r) => [r.user_id, r.ips, r.failures, r.successes]),
          );
          ctx.out.line('logins from a new country');
          ctx.out.table(
            ['user', 'at', 'country', 'ip', 'known countries'],
            report.newCountry.map((r) => [r.user_id, r.at, r.country, r.ip, r.known.join(',')]),
          );
        }),
      ),
    ['sumda security logins', 'sumda security logins --since 7d --burst 10 --json'],
  );
}
