/** `sumda schedules …`: the cron schedules pg-boss runs, beside the catalog's. */
import type { Command } from 'commander';
import { act } from '../context.ts';
import { examples } from '../help.ts';

/** `2026-11-26 01:17` in the schedule's own time zone. */
function localTime(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  }).format(date);
}

export function registerSchedules(program: Command): void {
  const schedules = program.command('schedules').description('recurring jobs (cron, Asia/Seoul)');

  examples(
    schedules
      .command('list')
      .description(
        'installed schedules: cron, time zone, the next 3 runs, and whether they match the catalog',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { listSchedules } = await import('../../jobadmin/schedules.ts');
          const rows = await listSchedules(await ctx.boss(), { count: 3 });
          if (ctx.out.json) return ctx.out.data(rows);
          if (rows.length === 0) return ctx.out.line('no schedules');
          ctx.out.table(
            ['queue', 'cron', 'time zone', 'next runs', 'status', 'description'],
            rows.map((s) => [
              s.key ? `${s.queue} (${s.key})` : s.queue,
              s.cron,
              s.timezone,
              s.nextRuns.map((d) => localTime(d, s.timezone)).join(', '),
              s.status === 'differs from catalog' ? `${s.status}: ${s.catalogCron}` : s.status,
              s.description,
            ]),
          );
        }),
      ),
    ['sumda schedules list', "sumda schedules list --json | jq '.[].nextRuns[0]'"],
  );
}
