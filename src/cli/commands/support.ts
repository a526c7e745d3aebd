/** `sumda support …`: the support desk — tickets, threads, replies, assignment and the SLA report. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import type { InquiryCategory, InquiryStatus } from '../../support/index.ts';
import { parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid, readInput } from '../input.ts';

const STATUSES = ['open', 'pending', 'closed'];
const CATEGORIES = ['payment', 'account', 'bug', 'diary', 'other'];

function oneOf(value: string | undefined, allowed: string[], flag: string): string | undefined {
  if (value !== undefined && !allowed.includes(value))
    throw new UsageError(`${flag} ${value}: one of ${allowed.join(', ')}`);
  return value;
}

/**
 * The reply text: --message, else piped stdin, else $VISUAL/$EDITOR on a TTY with the ticket quoted
 * in comment lines (dropped afterwards). No TTY and nothing given is bad input, never a hang.
 */
async function replyText(message: string | undefined, context: string): Promise<string> {
  if (message !== undefined) return message;
  if (!process.stdin.isTTY) return readInput('-', 'stdin');
  if (!process.stdout.isTTY) throw new UsageError('no reply text: pass --message or pipe it into stdin');
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  const dir = mkdtempSync(join(tmpdir(), 'sumda-reply-'));
  const file = join(dir, 'reply.md');
  try {
    writeFileSync(
      file,
      `\n${context.replace(/^/gm, '# ')}\n# Lines starting with # are dropped. An empty reply sends nothing.\n`,
      {
        mode: 0o600,
      },
    );
    const result = spawnSync(editor, [file], { stdio: 'inherit', shell: true });
    if (result.status !== 0) throw new UsageError(`${editor} exited with ${result.status}; nothing was sent`);
    // Read under the same cap as --file and stdin: an editor can save anything.
    return (await readInput(file, "the editor's file"))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const seconds = (s: number | null) => {
  if (s === null) return '-';
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86_400).toFixed(1)}d`;
};

export function registerSupport(program: Command): void {
  const support = program
    .command('support')
    .description('the support desk: tickets, replies, assignment, SLA');

  examples(
    support
      .command('list')
      .description('tickets, oldest first (open and pending unless --status)')
      .option('--status <status>', 'open | pending | closed')
      .option('--category <category>', 'payment | account | bug | diary | other')
      .option('--mine', 'only tickets assigned to me (--as)')
      .option('--limit <n>', 'at most this many', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ status?: string; category?: string; mine?: boolean; limit: string }>(async (ctx, opts) => {
          const { listInquiries } = await import('../../support/index.ts');
          const status = oneOf(opts.status, STATUSES, '--status') as InquiryStatus | undefined;
          const category = oneOf(opts.category, CATEGORIES, '--category') as InquiryCategory | undefined;
          const limit = parseIntFlag(opts.limit, '--limit', 1, 10_000);
          const db = await ctx.db();
          const rows = await listInquiries(db, {
            ...(status ? { status } : {}),
            ...(category ? { category } : {}),
            ...(opts.mine ? { assigneeId: (await ctx.actor()).id } : {}),
            limit,
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['ticket', 'created', 'category', 'status', 'assignee', 'replies', 'message'],
            rows.map((r) => [r.id, r.created_at, r.category, r.status, r.assignee, r.replies, r.excerpt]),
          );
        }),
      ),
    ['sumda support list --status open --category payment', 'sumda support list --mine --json'],
  );

  examples(
    support
      .command('show <id>')
      .description('one ticket and its thread')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [id]) => {
          const { showInquiry } = await import('../../support/index.ts');
          const t = await showInquiry(await ctx.db(), parseUuid(id!, 'ticket'));
          if (ctx.out.json) return ctx.out.data(t);
          ctx.out.fields([
            ['ticket', t.id],
            ['member', t.user_id ?? '(not signed in)'],
            ['category', t.category],
            ['status', t.status],
            ['assignee', t.assignee ?? '(nobody)'],
            ['created', t.created_at],
            ['first response', t.first_response_at],
            ['closed', t.closed_at],
          ]);
          ctx.out.line();
          ctx.out.line(t.message);
          for (const r of t.thread) {
            ctx.out.line();
            ctx.out.line(ctx.out.style('dim', `— ${r.by ?? '?'}, ${r.created_at.toISOString()}`));
            ctx.out.line(r.response);
          }
        }),
      ),
    ['sumda support show 0c1d…'],
  );

  examples(
    support
      .command('reply <id>')
      .description('answer a ticket ($EDITOR on a terminal, or --message, or stdin); the member is notified')
      .option('--message <text>', 'the reply')
      .option('--dry-run', 'check the ticket and the text; send nothing')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ message?: string; dryRun?: boolean }>(async (ctx, opts, [id]) => {
          const { MAX_REPLY_LENGTH, replyInquiry, showInquiry } = await import('../../support/index.ts');
          const ticketId = parseUuid(id!, 'ticket');
          const db = await ctx.db();
          const ticket = await showInquiry(db, ticketId);
          const text = await replyText(
            opts.message,
            `${ticket.category} · ${ticket.status}\n\n${ticket.message}`,
          );
          if (opts.dryRun) {
            if (!text.trim()) throw new UsageError('the reply is empty; nothing was sent');
            if (text.trim().length > MAX_REPLY_LENGTH) throw new UsageError('the reply is too long');
            if (ticket.status === 'closed') throw new UsageError(`inquiry ${ticketId} is closed`);
            return ctx.out.line(
              `dry run: would reply (${text.trim().length} characters) and set ${ticket.status} → pending`,
            );
          }
          const result = await replyInquiry(db, await ctx.operation(), { id: ticketId, message: text });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(
            `${result.id}: replied, ${result.before} → ${result.after}${result.notified ? ', member notified' : ''}`,
          );
        }),
      ),
    [
      'sumda support reply 0c1d…',
      'sumda support reply 0c1d… --message "확인해 보니 결제가 정상 처리되었어요."',
      'cat answer.md | sumda support reply 0c1d…',
    ],
  );

  examples(
    support
      .command('assign <id>')
      .description('give a ticket to an operator (--to), to yourself (--to me), or to nobody (--unassign)')
      .option('--to <email>', "the operator's e-mail, or `me`")
      .option('--unassign', 'take it from whoever has it')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ to?: string; unassign?: boolean }>(async (ctx, opts, [id]) => {
          if (Boolean(opts.to) === Boolean(opts.unassign))
            throw new UsageError('pass exactly one of --to and --unassign');
          const { assignInquiry } = await import('../../support/index.ts');
          const op = await ctx.operation();
          const email = opts.unassign ? null : opts.to === 'me' ? op.actor.email : opts.to!;
          const result = await assignInquiry(await ctx.db(), op, {
            id: parseUuid(id!, 'ticket'),
            assigneeEmail: email,
          });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(`${result.id}: ${email ? `assigned to ${email}` : 'unassigned'}`);
        }),
      ),
    ['sumda support assign 0c1d… --to me', 'sumda support assign 0c1d… --to mina@sumda.kr'],
  );

  for (const [verb, close] of [
    ['close', true],
    ['reopen', false],
  ] as const) {
    examples(
      support
        .command(`${verb} <id>`)
        .description(close ? 'resolve a ticket (its resolution time stops)' : 'open a closed ticket again')
        .option('--reason <text>', 'why, for the audit trail')
        .option('--json', 'machine-readable result on stdout')
        .action(
          act<{ reason?: string }>(async (ctx, opts, [id]) => {
            const { setInquiryClosed } = await import('../../support/index.ts');
            const result = await setInquiryClosed(await ctx.db(), await ctx.operation(), {
              id: parseUuid(id!, 'ticket'),
              close,
              reason: opts.reason ?? null,
            });
            if (ctx.out.json) return ctx.out.data(result);
            ctx.out.success(`${result.id}: ${result.before} → ${result.after}`);
          }),
        ),
      [`sumda support ${verb} 0c1d…${close ? '' : ' --reason "회원 재문의"'}`],
    );
  }

  examples(
    support
      .command('stats')
      .description('SLA: first-response and resolution time p50/p90 per category and per operator')
      .option('--since <when>', 'tickets created since (date, ISO time or 30d)', '30d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string }>(async (ctx, opts) => {
          const { supportStats } = await import('../../support/index.ts');
          const stats = await supportStats(await ctx.db(), { since: parseInstant(opts.since, '--since') });
          if (ctx.out.json) return ctx.out.data(stats);
          for (const [title, rows] of [
            ['category', stats.byCategory],
            ['first responder', stats.byOperator],
          ] as const) {
            ctx.out.table(
              [
                title,
                'tickets',
                'open',
                'answered',
                'FRT p50',
                'FRT p90',
                'closed',
                'resolved p50',
                'resolved p90',
              ],
              rows.map((r) => [
                r.key,
                r.tickets,
                r.open,
                r.answered,
                seconds(r.firstResponseP50),
                seconds(r.firstResponseP90),
                r.closed,
                seconds(r.resolutionP50),
                seconds(r.resolutionP90),
              ]),
            );
          }
        }),
      ),
    ['sumda support stats', 'sumda support stats --since 2026-11-01 --json'],
  );
}
