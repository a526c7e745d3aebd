/** `sumda event …`: operated events, their streak rewards, attendance processing and the event report. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { EventState } from '../../events/index.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid } from '../input.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerEvent(program: Command): void {
  const event = program
    .command('event')
    .description('operated events (attendance, missions): windows, streak rewards, the event report');

  examples(
    event
      .command('create')
      .description(
        'create an event; start inclusive, end exclusive (Asia/Seoul days), open-ended without --end',
      )
      .requiredOption('--title <text>', 'title shown in the app')
      .option('--description <text>', 'description shown in the app')
      .requiredOption('--start <yyyy-mm-dd>', 'first day (inclusive)')
      .option('--end <yyyy-mm-dd>', 'day after the last one (exclusive); none = open-ended')
      .option(
        '--reward <days:points>',
        'a streak of <days> consecutive days pays <points> (repeatable)',
        collect,
      )
      .option('--dry-run', 'validate and show; write nothing')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{
          title: string;
          description?: string;
          start: string;
          end?: string;
          reward?: string[];
          dryRun?: boolean;
        }>(async (ctx, opts) => {
          const { createEvent, parseReward } = await import('../../events/index.ts');
          const input = {
            title: opts.title,
            description: opts.description ?? null,
            startDate: opts.start,
            endDate: opts.end ?? null,
            rewards: (opts.reward ?? []).map(parseReward),
          };
          if (opts.dryRun) {
            const { parseCalendarDate } = await import('../../time/calendar.ts');
            for (const [flag, value] of [
              ['--start', input.startDate],
              ['--end', input.endDate],
            ] as const) {
              if (value && !parseCalendarDate(value))
                throw new UsageError(`${flag} ${value}: not a calendar date`);
            }
            if (input.endDate && input.endDate <= input.startDate)
              throw new UsageError(`--end ${input.endDate} must be after --start ${input.startDate}`);
            if (ctx.out.json) return ctx.out.data({ dryRun: true, ...input });
            return ctx.out.line(
              `dry run: would create "${input.title}" ${input.startDate} → ${input.endDate ?? '(open)'}`,
            );
          }
          const created = await createEvent(await ctx.db(), await ctx.operation(), input);
          if (ctx.out.json) return ctx.out.data(created);
          ctx.out.success(
            `event ${created.id}: ${created.startDate} → ${created.endDate ?? '(open-ended)'}${created.rewards.length ? `, rewards ${created.rewards.map((r) => `${r.streakDays}d:${r.points}P`).join(' ')}` : ''}`,
          );
        }),
      ),
    [
      'sumda event create --title "12월 출석 챌린지" --start 2026-12-01 --end 2027-01-01 --reward 7:100 --reward 30:500',
      'sumda event create --title "매일 한 줄" --start 2026-12-05 --reward 3:10',
    ],
  );

  examples(
    event
      .command('list')
      .description('events, newest first, with their state today and participants')
      .option('--state <state>', 'upcoming | running | ended')
      .option('--limit <n>', 'at most this many', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ state?: string; limit: string }>(async (ctx, opts) => {
          if (opts.state && !['upcoming', 'running', 'ended'].includes(opts.state))
            throw new UsageError(`--state ${opts.state}: upcoming, running or ended`);
          const { listEvents } = await import('../../events/index.ts');
          const rows = await listEvents(await ctx.db(), {
            ...(opts.state ? { state: opts.state as EventState } : {}),
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['event', 'title', 'start', 'end', 'state', 'participants', 'rewards'],
            rows.map((r) => [
              r.id,
              r.title,
              r.start_date,
              r.end_date ?? '(open)',
              r.state,
              r.participants,
              r.rewards,
            ]),
          );
        }),
      ),
    ['sumda event list --state running', 'sumda event list --json'],
  );

  examples(
    event
      .command('show <id>')
      .description('one event: window, rewards, attendance so far')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [id]) => {
          const { showEvent } = await import('../../events/index.ts');
          const shown = await showEvent(await ctx.db(), parseUuid(id!, 'event'));
          if (ctx.out.json) return ctx.out.data(shown);
          ctx.out.fields([
            ['event', `${shown.id} (${shown.title})`],
            ['window', `${shown.start_date} → ${shown.end_date ?? '(open-ended)'} (${shown.state})`],
            ['description', shown.description],
            ['rewards', shown.rewards.map((r) => `${r.code}: ${r.points}P`).join(', ') || 'none'],
            ['participants', shown.attendance.participants],
            ['attendance days', `${shown.attendance.days} (${shown.attendance.today} today)`],
            ['streaks pending', shown.attendance.pending],
          ]);
        }),
      ),
    ['sumda event show 2b7c…'],
  );

  examples(
    event
      .command('close <id>')
      .description('end a running event after today (end_date becomes tomorrow)')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ reason: string }>(async (ctx, opts, [id]) => {
          const { closeEvent } = await import('../../events/index.ts');
          const closed = await closeEvent(await ctx.db(), await ctx.operation(), {
            id: parseUuid(id!, 'event'),
            reason: opts.reason,
          });
          if (ctx.out.json) return ctx.out.data(closed);
          ctx.out.success(`event ${closed.id}: ends ${closed.after} (was ${closed.before ?? 'open-ended'})`);
        }),
      ),
    ['sumda event close 2b7c… --reason "조기 종료: 보상 예산 소진"'],
  );

  examples(
    event
      .command('stats <id>')
      .description(
        'participants, longest-streak distribution, rewards paid, renewal rate of participants vs. others',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [id]) => {
          const { eventStats } = await import('../../events/index.ts');
          const stats = await eventStats(await ctx.db(), parseUuid(id!, 'event'));
          if (ctx.out.json) return ctx.out.data(stats);
          const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
          ctx.out.fields([
            ['event', `${stats.event.id} (${stats.event.title})`],
            ['participants', stats.participants],
            ['attendance days', `${stats.attendanceDays} (${stats.pendingStreaks} streaks pending)`],
            [
              'rewards paid',
              stats.rewards.map((r) => `${r.code}: ${r.entries} × = ${r.points}P`).join(', ') || 'none',
            ],
            [
              'renewal (participants)',
              `${pct(stats.renewal.participants.rate)} of ${stats.renewal.participants.subscribed} subscribed`,
            ],
            [
              'renewal (others)',
              `${pct(stats.renewal.others.rate)} of ${stats.renewal.others.subscribed} subscribed`,
            ],
          ]);
          ctx.out.table(
            ['longest streak', 'participants'],
            stats.streaks.map((s) => [s.streak, s.users]),
          );
        }),
      ),
    ['sumda event stats 2b7c…', 'sumda event stats 2b7c… --json'],
  );

  examples(
    event
      .command('process')
      .description(
        'compute pending streaks and pay their rewards now (the events.attendance job does it every 5 minutes)',
      )
      .option('--event <id>', 'only this event')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ event?: string }>(async (ctx, opts) => {
          const { processAttendanceNow } = await import('../../events/index.ts');
          const total = await processAttendanceNow(await ctx.db(), await ctx.operation(), {
            ...(opts.event ? { eventId: parseUuid(opts.event, '--event') } : {}),
            signal: ctx.signal,
          });
          if (ctx.out.json) return ctx.out.data(total);
          ctx.out.line(
            `${total.pairs} user/event pairs: ${total.streaks} streaks written, ${total.rewardsPaid} rewards paid (${total.points}P)`,
          );
        }),
      ),
    ['sumda event process', 'sumda event process --event 2b7c… --json'],
  );
}
