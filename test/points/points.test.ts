import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { pointsExpire } from '../../jobs/points-expire.ts';
import { PermissionDeniedError, UsageError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import {
  adjustPoints,
  auditLedger,
  expirePoints,
  pointsBalance,
  pointsHistory,
} from '../../src/points/index.ts';
import { createBoss } from '../../src/queue/boss.ts';
import { stableUuid } from '../../src/seed/index.ts';
import { auditRows, cliEnv, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
const alice = stableUuid('points-test:alice');
const bora = stableUuid('points-test:bora');
const chan = stableUuid('points-test:chan');

async function ledgerCount(userId: string): Promise<number> {
  const r = await database.db
    .selectFrom('user_points_ledger')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  await database.db
    .insertInto('users')
    .values([
      { id: alice, nickname: '앨리스' },
      { id: bora, nickname: '보라' },
      { id: chan, nickname: '찬' },
    ])
    .execute();
});

describe('grants and deductions', () => {
  it('write one entry and one audit row together; the balance follows', async () => {
    const op = operation(team.manager, 'sumda points grant');
    const granted = await adjustPoints(database.db, op, {
      userId: alice,
      delta: 100,
      reason: 'admin_adjustment',
      note: '문의 보상',
    });
    expect(granted).toMatchObject({ duplicate: false, entry: { delta: 100, balance_after: 100 } });
    const deducted = await adjustPoints(database.db, op, {
      userId: alice,
      delta: -30,
      reason: 'purchase',
      refType: 'payment',
      refId: 'pay-1',
    });
    expect(deducted.entry.balance_after).toBe(70);
    expect(await pointsBalance(database.db, alice)).toMatchObject({ balance: 70, entries: 2 });
    expect((await pointsHistory(database.db, alice)).map((e) => e.delta)).toEqual([-30, 100]);
    const audit = await auditRows(database.db, { targetId: alice });
    expect(audit.map((a) => [a.action, a.reason, a.after])).toEqual([
      ['points.grant', '문의 보상', expect.objectContaining({ balance: 100, delta: 100 })],
      ['points.deduct', 'purchase', expect.objectContaining({ balance: 70, ref: 'payment:pay-1' })],
    ]);
  });

  it('writes a referenced grant once: the second is reported as a duplicate and changes nothing', async () => {
    const op = operation(team.manager);
    const input = {
      userId: alice,
      delta: 50,
      reason: 'event' as const,
      refType: 'event' as const,
      refId: 'ev-1',
    };
    const first = await adjustPoints(database.db, op, input);
    const again = await adjustPoints(database.db, op, input);
    expect(again).toEqual({ duplicate: true, entry: first.entry });
    expect(await pointsBalance(database.db, alice)).toMatchObject({ balance: 120, entries: 3 });
    expect((await auditRows(database.db, { action: 'points.grant', targetId: alice })).length).toBe(2);
  });

  it('refuses a deduction below zero with exit-2 semantics and writes nothing', async () => {
    const before = (await auditRows(database.db)).length;
    await expect(
      adjustPoints(database.db, operation(team.manager), { userId: alice, delta: -121, reason: 'purchase' }),
    ).rejects.toThrow(UsageError);
    await expect(
      adjustPoints(database.db, operation(team.manager), { userId: alice, delta: -121, reason: 'purchase' }),
    ).rejects.toThrow(/the balance is 120; nothing was written/);
    expect(await ledgerCount(alice)).toBe(3);
    expect((await auditRows(database.db)).length).toBe(before);
  });

  it('needs a manager: an operator is refused and the refusal is audited', async () => {
    await expect(
      adjustPoints(database.db, operation(team.operator), { userId: bora, delta: 10, reason: 'reward' }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(await ledgerCount(bora)).toBe(0);
    const denied = await auditRows(database.db, { action: 'points.adjust', targetId: bora });
    expect(denied.map((d) => [d.outcome, d.actor_email])).toEqual([['denied', team.operator.email]]);
  });

  it('CLI: bad input exits 2 with nothing written; balance and history answer in JSON', async () => {
    const env = cliEnv(database.url, team.manager.email);
    const cases = [
      ['points', 'grant', bora, 'ten', '--reason', 'reward'],
      ['points', 'grant', bora, '10', '--reason', 'gift'],
      ['points', 'grant', bora, '10', '--reason', 'reward', '--ref-type', 'event'],
      ['points', 'grant', 'not-a-user', '10', '--reason', 'reward'],
      ['points', 'grant', stableUuid('points-test:nobody'), '10', '--reason', 'reward'],
      ['points', 'deduct', bora, '5', '--reason', 'purchase'],
    ];
    // The first case through the real subprocess (exit 2 and the one error line), the rest in-process.
    for (const [i, args] of cases.entries()) {
      const r = await (i === 0 ? runSumda : sumda)(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr.split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
    }
    expect(await ledgerCount(bora)).toBe(0);
    const dry = await sumda(['points', 'grant', bora, '10', '--reason', 'reward', '--dry-run', '--json'], {
      env,
    });
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, balance: 0, balanceAfter: 10 });
    expect(await ledgerCount(bora)).toBe(0);
    const ok = await sumda(['points', 'grant', bora, '10', '--reason', 'reward', '--json'], { env });
    expect(ok.code).toBe(0);
    const balance = await sumda(['points', 'balance', bora, '--json'], { env });
    expect(JSON.parse(balance.stdout)).toMatchObject({ userId: bora, balance: 10, entries: 1 });
    const history = await sumda(['points', 'history', bora, '--json'], { env });
    expect(JSON.parse(history.stdout).map((e: { delta: number }) => e.delta)).toEqual([10]);
  }, 240_000);
});

describe('the chain under 1,000 concurrent writers in four processes', () => {
  it('stays exact: every accepted entry counted once, no break, never negative, one audit row each', async () => {
    await adjustPoints(database.db, operation(team.manager), { userId: chan, delta: 200, reason: 'reward' });
    const writer = fileURLToPath(new URL('./writer.ts', import.meta.url));
    const run = (seed: number) =>
      new Promise<{ granted: number; deducted: number; refused: number; sum: number; entries: number[] }>(
        (resolve, reject) => {
          const child = spawn(
            process.execPath,
            [writer, database.url, chan, JSON.stringify(team.manager), '250', String(seed)],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let out = '';
          let err = '';
          child.stdout.on('data', (d) => {
            out += d;
          });
          child.stderr.on('data', (d) => {
            err += d;
          });
          child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
        },
      );
    const results = await Promise.all([11, 22, 33, 44].map(run));
    const accepted = results.reduce((n, r) => n + r.granted + r.deducted, 0);
    const refused = results.reduce((n, r) => n + r.refused, 0);
    expect(accepted + refused).toBe(1000);
    const sum = results.reduce((n, r) => n + r.sum, 0);
    expect(await pointsBalance(database.db, chan)).toMatchObject({
      balance: 200 + sum,
      entries: 1 + accepted,
    });
    expect(await auditLedger(database.db, { userId: chan })).toMatchObject({
      breaks: [],
      entries: 1 + accepted,
    });
    const ids = results.flatMap((r) => r.entries);
    expect(new Set(ids).size).toBe(accepted);
    const audits = await sql<{ n: string }>`
      select count(*) as n from admin.audit_log
      where target_id = ${chan} and action in ('points.grant', 'points.deduct') and outcome = 'success'`.execute(
      database.db,
    );
    expect(Number(audits.rows[0]!.n)).toBe(1 + accepted);
  }, 600_000);
});

describe('points audit', () => {
  it('exits 0 on intact chains and 4 naming the entry when one is broken', async () => {
    const env = cliEnv(database.url);
    const ok = await sumda(['points', 'audit', '--json'], { env });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).breaks).toEqual([]);
    // Corrupt one row behind the triggers' back (as a superuser could), in its own transaction.
    const victim = await database.db
      .selectFrom('user_points_ledger')
      .select('id')
      .where('user_id', '=', alice)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    await database.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await sql`update public.user_points_ledger set balance_after = balance_after + 5 where id = ${victim.id}`.execute(
        trx,
      );
    });
    const broken = await runSumda(['points', 'audit'], { env });
    expect(broken.code).toBe(4);
    expect(broken.stdout).toContain(String(victim.id));
    expect(broken.stderr).toContain(`entry ${victim.id} of user ${alice}`);
    await database.db.transaction().execute(async (trx) => {
      await sql`set local session_replication_role = replica`.execute(trx);
      await sql`update public.user_points_ledger set balance_after = balance_after - 5 where id = ${victim.id}`.execute(
        trx,
      );
    });
  });
});

describe('expiry', () => {
  const dora = stableUuid('points-test:dora');
  const eun = stableUuid('points-test:eun');
  const today = '2026-12-02';

  beforeAll(async () => {
    await database.db
      .insertInto('users')
      .values([
        { id: dora, nickname: '도라' },
        { id: eun, nickname: '은' },
      ])
      .execute();
    // Dora: 100 earned 400 days ago, 30 spent last month, 50 earned last week → 70 of the old 100 expire.
    // Eun: 40 earned 400 days ago, 60 spent since → nothing left of the old points.
    const at = (days: number) =>
      sql<Date>`${today}::date - ${days}::int + time '12:00' at time zone 'Asia/Seoul'`;
    for (const [user, delta, reason, days] of [
      [dora, 100, 'reward', 400],
      [dora, -30, 'purchase', 30],
      [dora, 50, 'reward', 7],
      [eun, 40, 'reward', 400],
      [eun, 30, 'reward', 300],
      [eun, -60, 'purchase', 10],
    ] as const) {
      await sql`insert into public.user_points_ledger (user_id, delta, reason, balance_after, created_at)
                values (${user}, ${delta}, ${reason}, 0, ${at(days)})`.execute(database.db);
    }
  });

  it('dry run counts, the run writes one negative entry per user, and a second run writes nothing', async () => {
    const op = operation(team.manager, 'sumda points expire');
    const dry = await expirePoints(database.db, op, { date: today, dryRun: true, batchSize: 2 });
    expect(dry).toMatchObject({ expired: 1, points: 70 });
    expect(await ledgerCount(dora)).toBe(3);
    const run = await expirePoints(database.db, op, { date: today, batchSize: 2 });
    expect(run).toMatchObject({ expired: 1, points: 70 });
    expect(await pointsBalance(database.db, dora)).toMatchObject({ balance: 50 });
    expect(await pointsBalance(database.db, eun)).toMatchObject({ balance: 10 });
    const again = await expirePoints(database.db, op, { date: today, batchSize: 2 });
    expect(again).toMatchObject({ expired: 0, points: 0 });
    // The next day the formula gives nothing more: the 70 are consumed.
    expect(await expirePoints(database.db, op, { date: '2026-12-03' })).toMatchObject({ expired: 0 });
    expect((await pointsHistory(database.db, dora))[0]).toMatchObject({
      delta: -70,
      reason: 'expiry',
      ref_type: 'expiry',
      ref_id: `${today}:${dora}`,
    });
    expect((await auditRows(database.db, { action: 'points.expire' })).length).toBe(1);
    expect((await auditLedger(database.db)).breaks).toEqual([]);
  });

  it('the job chains its batches through the queue and pays nothing twice when run again', async () => {
    // Grant Eun's old points again, as if earned long ago, so the job has something to expire.
    await sql`insert into public.user_points_ledger (user_id, delta, reason, balance_after, created_at)
              values (${eun}, 25, 'reward', 0, now() - interval '500 days')`.execute(database.db);
    const boss = createBoss(database.url);
    await boss.start();
    try {
      const handler = pointsExpire.create({
        db: database.db,
        boss,
        log: createLogger({ level: 'silent' }),
      } as never);
      const job = (data: unknown) => ({ id: crypto.randomUUID(), name: 'points.expire', data }) as never;
      const date = '2027-01-10';
      const signal = new AbortController().signal;
      const first = await handler([job({ date, batchSize: 3 })], signal);
      expect(first).toMatchObject([{ status: 'completed', output: { scanned: 3, more: true } }]);
      const queued = await sql<{ data: { after: string; date: string } }>`
        select data from pgboss.job where name = 'points.expire' and state = 'created'`.execute(database.db);
      expect(queued.rows.map((r) => r.data.date)).toEqual([date]);
      // Run the rest twice, as a retried job would: one entry for Eun in all.
      for (let round = 0; round < 2; round++) {
        let cursor = queued.rows[0]!.data.after;
        for (;;) {
          const [outcome] = (await handler([job({ date, batchSize: 3, after: cursor })], signal)) as {
            output: { more: boolean };
          }[];
          if (!outcome!.output.more) break;
          const next = await sql<{ after: string }>`
            select data->>'after' as after from pgboss.job where name = 'points.expire' and state = 'created'
            order by created_on desc limit 1`.execute(database.db);
          cursor = next.rows[0]!.after;
        }
      }
      const eunExpiries = (await pointsHistory(database.db, eun)).filter((e) => e.reason === 'expiry');
      // FIFO: the 60 spent took the 25 (500 days old) and 35 of the 40 (400 days old): 5 are left to expire.
      expect(eunExpiries.map((e) => [e.delta, e.ref_id])).toEqual([[-5, `${date}:${eun}`]]);
      expect((await auditLedger(database.db)).breaks).toEqual([]);
    } finally {
      await boss.stop({ graceful: false, close: true });
    }
  });
});
