/** `sumda notify …`: system and event messages to a user or a segment, and read rates. */
import type { Command } from 'commander';
import type { Send, SendableKind } from '../../announcements/notify.ts';
import { UsageError } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseUuid } from '../input.ts';

export function registerNotify(program: Command): void {
  const notify = program
    .command('notify')
    .description('messages to users (through the one notifications module) and read rates');

  examples(
    notify
      .command('send')
      .description(
        'tell one user (--user) or a segment (--segment), set-based; --key makes a retry send nothing twice',
      )
      .option('--user <id>', 'one user')
      .option('--segment <segment>', 'everyone, paid, free, trial, inactive:<N>d')
      .requiredOption('--type <type>', 'system | event | notice')
      .requiredOption('--title <text>', 'title (Korean, as users read it)')
      .requiredOption('--body <text>', 'message')
      .option('--visible-from <time>', 'shown from (default now)')
      .option('--visible-to <time>', 'shown until (exclusive)')
      .option('--event <id>', 'the event this message is about')
      .option('--key <key>', 'idempotency key: a second send with it reaches only who lacks it')
      .option('--dry-run', 'count the recipients; send nothing')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{
          user?: string;
          segment?: string;
          type: string;
          title: string;
          body: string;
          visibleFrom?: string;
          visibleTo?: string;
          event?: string;
          key?: string;
          dryRun?: boolean;
        }>(async (ctx, opts) => {
          if (Boolean(opts.user) === Boolean(opts.segment))
            throw new UsageError('pass exactly one of --user and --segment');
          const { countRecipients, sendNotification, validateSend } = await import(
            '../../announcements/notify.ts'
          );
          const { parseSegment } = await import('../../notifications/index.ts');
          const send: Send = {
            to: opts.user
              ? { userId: parseUuid(opts.user, '--user') }
              : { segment: parseSegment(opts.segment!) },
            kind: opts.type as SendableKind,
            title: opts.title,
            body: opts.body,
            ...(opts.visibleFrom ? { visibleFrom: parseInstant(opts.visibleFrom, '--visible-from') } : {}),
            ...(opts.visibleTo ? { visibleTo: parseInstant(opts.visibleTo, '--visible-to') } : {}),
            ...(opts.event ? { eventId: parseUuid(opts.event, '--event') } : {}),
            ...(opts.key ? { key: opts.key } : {}),
          };
          validateSend(send);
          const db = await ctx.db();
          if (opts.dryRun) {
            const n = await countRecipients(db, send);
            if (ctx.out.json) return ctx.out.data({ dryRun: true, recipients: n });
            return ctx.out.line(`dry run: would reach up to ${n} users`);
          }
          const result = await sendNotification(db, await ctx.operation(), send);
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(`${result.sent} notifications written (${result.to.type} ${result.to.id})`);
        }),
      ),
    [
      'sumda notify send --segment inactive:30d --type event --title "다시 만나요" --body "오늘의 한 줄을 남겨 보세요." --key winback-2026-12',
      'sumda notify send --user 6f1c… --type system --title "보안 알림" --body "새 기기에서 로그인했어요."',
    ],
  );

  examples(
    notify
      .command('stats')
      .description('read rates by type and by announcement')
      .option('--type <type>', 'only this type')
      .option('--since <when>', 'notifications created since (date, ISO time or 30d)', '30d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ type?: string; since: string }>(async (ctx, opts) => {
          const { notificationStats } = await import('../../announcements/notify.ts');
          const stats = await notificationStats(await ctx.db(), {
            since: parseInstant(opts.since, '--since'),
            ...(opts.type ? { kind: opts.type } : {}),
          });
          if (ctx.out.json) return ctx.out.data(stats);
          const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
          ctx.out.table(
            ['type', 'sent', 'read', 'read rate', 'recipients'],
            stats.byType.map((r) => [r.type, r.sent, r.read, pct(r.readRate), r.recipients]),
          );
          if (stats.byAnnouncement.length > 0) {
            ctx.out.table(
              ['announcement', 'title', 'sent', 'read', 'read rate'],
              stats.byAnnouncement.map((r) => [r.id, r.title, r.sent, r.read, pct(r.readRate)]),
            );
          }
        }),
      ),
    ['sumda notify stats --since 7d', 'sumda notify stats --type notice --json'],
  );
}
