/** `sumda announce …`: announcements (markdown articles of the app's notice list) and their fan-out. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid, readInput } from '../input.ts';

export function registerAnnounce(program: Command): void {
  const announce = program
    .command('announce')
    .description('announcements: drafts, publishing with a segment fan-out, expiry, soft delete');

  examples(
    announce
      .command('create')
      .description('write a draft (nothing is shown or sent until publish)')
      .requiredOption('--title <text>', 'title')
      .option('--body <markdown>', 'body in markdown')
      .option('--body-file <path>', 'body from a file (- for stdin)')
      .option('--tags <a,b>', 'comma-separated tags, e.g. 앱업데이트,이벤트')
      .option(
        '--segment <segment>',
        'who is notified on publish: everyone, paid, free, trial, inactive:<N>d',
        'everyone',
      )
      .option('--no-notify', 'publish to the notice list only; send no notifications')
      .option('--expires-at <time>', 'end of display (exclusive): a date (Asia/Seoul) or ISO time')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{
          title: string;
          body?: string;
          bodyFile?: string;
          tags?: string;
          segment: string;
          notify: boolean;
          expiresAt?: string;
        }>(async (ctx, opts) => {
          if (Boolean(opts.body) === Boolean(opts.bodyFile))
            throw new UsageError('pass exactly one of --body and --body-file');
          const { createAnnouncement, parseTags } = await import('../../announcements/index.ts');
          const { parseSegment } = await import('../../notifications/index.ts');
          const body = opts.body ?? (await readInput(opts.bodyFile!, '--body-file'));
          const created = await createAnnouncement(await ctx.db(), await ctx.operation(), {
            title: opts.title,
            body,
            tags: parseTags(opts.tags),
            segment: opts.notify ? parseSegment(opts.segment) : null,
            expiresAt: opts.expiresAt ? parseInstant(opts.expiresAt, '--expires-at') : null,
          });
          if (ctx.out.json) return ctx.out.data(created);
          ctx.out.success(`draft ${created.id}: "${created.title}" (segment ${created.segment ?? 'none'})`);
        }),
      ),
    [
      'sumda announce create --title "12월 점검 안내" --body-file notice.md --tags 점검 --expires-at 2026-12-20',
      'sumda announce create --title "새 기능" --body "# 감정 흐름 그래프" --segment paid',
    ],
  );

  examples(
    announce
      .command('publish <id>')
      .description('publish and notify the segment, set-based; publishing again only fills in who is missing')
      .option('--at <time>', 'publish at this instant (default now); notifications show from then')
      .option('--segment <segment>', 'notify this segment instead of the one of the draft')
      .option('--dry-run', 'count the recipients; change nothing')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ at?: string; segment?: string; dryRun?: boolean }>(async (ctx, opts, [id]) => {
          const { publishAnnouncement } = await import('../../announcements/index.ts');
          const { countRecipients } = await import('../../announcements/notify.ts');
          const { parseSegment } = await import('../../notifications/index.ts');
          const announcementId = parseUuid(id!, 'announcement');
          const segment = opts.segment ? parseSegment(opts.segment) : undefined;
          const at = opts.at ? parseInstant(opts.at, '--at') : undefined;
          const db = await ctx.db();
          if (opts.dryRun) {
            const row = await db
              .selectFrom('announcements')
              .select(['segment', 'published_at', 'deleted_at'])
              .where('id', '=', announcementId)
              .executeTakeFirst();
            if (!row) throw new UsageError(`no announcement ${announcementId}`);
            const target = segment ?? (row.segment ? parseSegment(row.segment) : null);
            const n = target
              ? await countRecipients(db, { to: { segment: target }, kind: 'notice', title: 't', body: 'b' })
              : 0;
            if (ctx.out.json) return ctx.out.data({ dryRun: true, recipients: n });
            return ctx.out.line(
              `dry run: would ${row.published_at ? 're-publish' : 'publish'} and reach up to ${n} users`,
            );
          }
          const result = await publishAnnouncement(db, await ctx.operation(), {
            id: announcementId,
            ...(at ? { at } : {}),
            ...(segment ? { segment } : {}),
          });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(
            `${result.id}: ${result.republished ? 'already published; ' : ''}published ${result.publishedAt.toISOString()}, ${result.notified} notifications written (${result.segment ?? 'no segment'})`,
          );
        }),
      ),
    ['sumda announce publish 7a1b… --dry-run', 'sumda announce publish 7a1b… --at 2026-12-03T09:00:00+09:00'],
  );

  for (const [verb, description] of [
    ['expire', 'stop showing a published announcement now (its notifications too)'],
    ['delete', 'soft-delete an announcement (its notifications stop showing); asks for confirmation'],
  ] as const) {
    examples(
      announce
        .command(`${verb} <id>`)
        .description(description)
        .option('--reason <text>', 'why, for the audit trail')
        .option('--yes', 'do not ask (scripts)')
        .option('--json', 'machine-readable result on stdout')
        .action(
          act<{ reason?: string; yes?: boolean }>(async (ctx, opts, [id]) => {
            const { endAnnouncement } = await import('../../announcements/index.ts');
            const announcementId = parseUuid(id!, 'announcement');
            if (verb === 'delete')
              await confirm({ yes: Boolean(opts.yes), action: `delete announcement ${announcementId}` });
            const result = await endAnnouncement(await ctx.db(), await ctx.operation(), {
              id: announcementId,
              how: verb,
              reason: opts.reason ?? null,
            });
            if (ctx.out.json) return ctx.out.data(result);
            ctx.out.success(
              `${result.id}: ${result.before} → ${result.after} (${result.notificationsEnded} notifications ended)`,
            );
          }),
        ),
      [
        `sumda announce ${verb} 7a1b… --reason "${verb === 'expire' ? '점검 종료' : '잘못 작성됨'}"${verb === 'delete' ? ' --yes' : ''}`,
      ],
    );
  }

  examples(
    announce
      .command('list')
      .description('announcements, newest first, with state, recipients and read rate')
      .option('--tag <tag>', 'only with this tag')
      .option('--all', 'also deleted ones')
      .option('--limit <n>', 'at most this many', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ tag?: string; all?: boolean; limit: string }>(async (ctx, opts) => {
          const { listAnnouncements } = await import('../../announcements/index.ts');
          const rows = await listAnnouncements(await ctx.db(), {
            ...(opts.tag ? { tag: opts.tag } : {}),
            includeDeleted: opts.all,
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            [
              'announcement',
              'title',
              'state',
              'tags',
              'published',
              'expires',
              'segment',
              'recipients',
              'read',
            ],
            rows.map((r) => [
              r.id,
              r.title,
              r.state,
              r.tags.join(','),
              r.published_at,
              r.expires_at,
              r.segment,
              r.recipients,
              r.recipients > 0 ? `${((r.read / r.recipients) * 100).toFixed(1)}%` : '-',
            ]),
          );
        }),
      ),
    ['sumda announce list --tag 점검', 'sumda announce list --all --json'],
  );
}
