import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, PermissionDeniedError, UsageError } from '../../src/errors.ts';
import { stableUuid } from '../../src/seed/index.ts';
import { addFaq, editFaq, listFaq, reorderFaq } from '../../src/support/faq.ts';
import {
  assignInquiry,
  listInquiries,
  REPLY_NOTICE,
  replyInquiry,
  setInquiryClosed,
  showInquiry,
  supportStats,
} from '../../src/support/index.ts';
import { showUser } from '../../src/users/index.ts';
import { auditRows, cliEnv, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
const member = stableUuid('support-test:member');
const REPLY = '확인해 보니 결제는 정상 처리되었어요. 영수증은 설정 > 결제 내역에서 볼 수 있어요.';

async function inquiry(
  category: string,
  minutesAgo: number,
  userId: string | null = member,
): Promise<string> {
  const row = await sql<{ id: string }>`
    insert into admin.support_inquiries (user_id, category, message, created_at)
    values (${userId}, ${category}, '결제가 두 번 된 것 같아요', now() - make_interval(mins => ${minutesAgo}))
    returning id`.execute(database.db);
  return row.rows[0]!.id;
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  await database.db.insertInto('users').values({ id: member, nickname: '회원' }).execute();
});

describe('tickets', () => {
  it('a reply records the operator, moves open → pending, assigns the replier and notifies the member once', async () => {
    const id = await inquiry('payment', 30);
    const op = operation(team.operator, 'sumda support reply');
    const result = await replyInquiry(database.db, op, { id, message: REPLY });
    expect(result).toMatchObject({ before: 'open', after: 'pending', notified: true });
    const shown = await showInquiry(database.db, id);
    expect(shown).toMatchObject({ status: 'pending', assignee: team.operator.email });
    expect(shown.first_response_at).toBeInstanceOf(Date);
    expect(shown.thread.map((r) => [r.by, r.response])).toEqual([[team.operator.email, REPLY]]);
    const notes = await database.db
      .selectFrom('notifications')
      .select(['type', 'title', 'message', 'dedupe_key'])
      .where('user_id', '=', member)
      .execute();
    expect(notes).toEqual([
      {
        type: 'system',
        title: REPLY_NOTICE.title,
        message: REPLY_NOTICE.body,
        dedupe_key: `support-reply:${result.responseId}`,
      },
    ]);
    // A second reply keeps the first response instant and the assignee.
    await replyInquiry(database.db, operation(team.manager), { id, message: '추가로 안내드려요.' });
    const again = await showInquiry(database.db, id);
    expect(again.first_response_at).toEqual(shown.first_response_at);
    expect(again.assignee).toBe(team.operator.email);
    const audit = await auditRows(database.db, { action: 'support.reply', targetId: id });
    expect(audit).toHaveLength(2);
    expect(JSON.stringify(audit)).not.toContain('정상 처리');
  });

  it('close and reopen follow the states; illegal transitions and empty replies are refused with nothing written', async () => {
    const id = await inquiry('account', 10);
    const op = operation(team.operator);
    await expect(setInquiryClosed(database.db, op, { id, close: false })).rejects.toThrow(
      /is open; cannot reopen/,
    );
    await expect(replyInquiry(database.db, op, { id, message: '   ' })).rejects.toBeInstanceOf(UsageError);
    expect(await setInquiryClosed(database.db, op, { id, close: true })).toMatchObject({
      before: 'open',
      after: 'closed',
    });
    expect((await showInquiry(database.db, id)).closed_at).toBeInstanceOf(Date);
    await expect(setInquiryClosed(database.db, op, { id, close: true })).rejects.toThrow(
      /is closed; cannot close/,
    );
    await expect(replyInquiry(database.db, op, { id, message: '답변' })).rejects.toThrow(/is closed/);
    expect((await showInquiry(database.db, id)).thread).toEqual([]);
    await setInquiryClosed(database.db, op, { id, close: false, reason: '재문의' });
    expect(await showInquiry(database.db, id)).toMatchObject({ status: 'open', closed_at: null });
    expect((await auditRows(database.db, { targetId: id })).map((a) => [a.action, a.after])).toEqual([
      ['support.close', { status: 'closed' }],
      ['support.reopen', { status: 'open' }],
    ]);
  });

  it('assign: to an operator, refused for an unknown one or a no-op, and unassign', async () => {
    const id = await inquiry('bug', 5);
    const op = operation(team.operator);
    await expect(
      assignInquiry(database.db, op, { id, assigneeEmail: 'ghost@sumda.test' }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(assignInquiry(database.db, op, { id, assigneeEmail: null })).rejects.toThrow(/not assigned/);
    await assignInquiry(database.db, op, { id, assigneeEmail: team.manager.email.toUpperCase() });
    expect((await showInquiry(database.db, id)).assignee).toBe(team.manager.email);
    expect((await listInquiries(database.db, { assigneeId: team.manager.id })).map((t) => t.id)).toEqual([
      id,
    ]);
    await assignInquiry(database.db, op, { id, assigneeEmail: null });
    expect((await showInquiry(database.db, id)).assignee).toBeNull();
    await expect(
      assignInquiry(database.db, operation(null), { id, assigneeEmail: null }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('CLI: reply from stdin and --message; no text without a TTY is exit 2; list --mine; show --json', async () => {
    const id = await inquiry('diary', 3);
    const env = cliEnv(database.url, team.operator.email);
    const empty = await runSumda(['support', 'reply', id], { env, input: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('the reply is empty');
    expect((await showInquiry(database.db, id)).thread).toEqual([]);
    const piped = await runSumda(['support', 'reply', id, '--json'], { env, input: `${REPLY}\n` });
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ after: 'pending', notified: true });
    const bad = await runSumda(['support', 'list', '--status', 'waiting'], { env });
    expect(bad.code).toBe(2);
    const mine = await runSumda(['support', 'list', '--mine', '--json'], { env });
    expect(JSON.parse(mine.stdout).map((t: { id: string }) => t.id)).toContain(id);
    const shown = await runSumda(['support', 'show', id, '--json'], { env });
    expect(JSON.parse(shown.stdout).thread.map((r: { response: string }) => r.response)).toEqual([REPLY]);
  }, 240_000);

  it('user show has the points balance and the open tickets', async () => {
    const shown = await showUser(database.db, member);
    expect(shown.points).toEqual({ balance: 0, lastAt: null });
    expect(shown.openTickets.length).toBeGreaterThanOrEqual(3);
    expect(shown.openTickets.every((t) => t.status !== 'closed')).toBe(true);
  });
});

describe('support stats', () => {
  it('first-response and resolution p50/p90 per category and per first responder match hand-computed values', async () => {
    const since = new Date();
    const ids: string[] = [];
    // Four "other" tickets created 100 minutes ago, first answered after 1, 2, 3 and 4 minutes.
    for (const [i, by] of [team.operator, team.operator, team.manager, team.manager].entries()) {
      const id = await sql<{ id: string }>`
        insert into admin.support_inquiries (user_id, category, message, created_at)
        values (${member}, 'other', '문의', ${since}::timestamptz + interval '1 second')
        returning id`.execute(database.db);
      ids.push(id.rows[0]!.id);
      await sql`insert into admin.support_responses (inquiry_id, admin_id, response, created_at)
                values (${ids[i]}, ${by.id}, '답변', ${since}::timestamptz + interval '1 second' + make_interval(mins => ${i + 1}))`.execute(
        database.db,
      );
    }
    // Two of them closed, after 10 and 30 minutes.
    for (const [i, minutes] of [
      [0, 10],
      [1, 30],
    ] as const) {
      await sql`update admin.support_inquiries set status = 'closed',
                closed_at = created_at + make_interval(mins => ${minutes}) where id = ${ids[i]}`.execute(
        database.db,
      );
    }
    const stats = await supportStats(database.db, { since });
    expect(stats.byCategory).toEqual([
      {
        key: 'other',
        tickets: 4,
        open: 2,
        answered: 4,
        firstResponseP50: 150,
        firstResponseP90: 222,
        closed: 2,
        resolutionP50: 1200,
        resolutionP90: 1680,
      },
    ]);
    expect(stats.byOperator.map((r) => [r.key, r.tickets, r.firstResponseP50])).toEqual(
      [
        [team.operator.email, 2, 90],
        [team.manager.email, 2, 210],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
  });
});

describe('faq', () => {
  it('add, list in order, reorder, hide and show again, each audited; bad input refused', async () => {
    const op = operation(team.manager, 'sumda faq');
    const a = await addFaq(database.db, op, {
      category: 'payment',
      question: '환불은?',
      answer: '7일 이내 가능해요.',
    });
    const b = await addFaq(database.db, op, {
      category: 'payment',
      question: '영수증은?',
      answer: '설정에서 볼 수 있어요.',
    });
    const c = await addFaq(database.db, op, {
      category: 'payment',
      question: '해지는?',
      answer: '언제든 가능해요.',
    });
    expect([a.order_no, b.order_no, c.order_no]).toEqual([10, 20, 30]);
    await reorderFaq(database.db, op, { category: 'payment', ids: [c.id] });
    expect((await listFaq(database.db, { category: 'payment' })).map((f) => f.id)).toEqual([
      c.id,
      a.id,
      b.id,
    ]);
    await expect(reorderFaq(database.db, op, { category: 'account', ids: [a.id] })).rejects.toThrow(
      /not in category/,
    );
    await editFaq(database.db, op, { id: a.id, active: false });
    expect((await listFaq(database.db, { category: 'payment' })).map((f) => f.id)).toEqual([c.id, b.id]);
    await expect(editFaq(database.db, op, { id: a.id, active: false })).rejects.toThrow(/already/);
    await editFaq(database.db, op, { id: a.id, active: true, answer: '결제일로부터 7일 이내 가능해요.' });
    expect((await listFaq(database.db, { all: true })).length).toBe(3);
    await expect(
      addFaq(database.db, op, { category: ' ', question: 'q', answer: 'a' }),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(
      addFaq(database.db, operation(team.operator), { category: 'x', question: 'q', answer: 'a' }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    const audit = await auditRows(database.db, { action: 'faq.hide' });
    expect(audit.map((r) => r.target_id)).toEqual([a.id]);
    expect(
      (await auditRows(database.db)).filter((r) => r.action.startsWith('faq.') && r.outcome === 'success'),
    ).toHaveLength(6);
  });
});
