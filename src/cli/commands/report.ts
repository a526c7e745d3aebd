/** `sumda report …`: Asia/Seoul report periods, backfills of reports, and looking at a report. */
import type { Command } from 'commander';
import { parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';

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
}
