/**
 * Two `sumda worker` processes on one queue: ~400 seeded entries, one scan tick, both workers
 * analysing (offline analyzer) until every entry has its result, then SIGTERM to both. Proves each
 * job is processed once — one result per entry, every job completed on its first attempt — and
 * prints how the work was split (both usually take part; which one takes what is not asserted).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { seal } from '../../src/crypto/index.ts';
import { createBoss, enqueue, type PgBoss } from '../../src/queue/boss.ts';
import { createRng, generateDiary } from '../../src/seed/corpus.ts';
import { createUser, jobsIn, type TestKeys, testKeys } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import { hasMsg, type SumdaProcess, startSumda, waitUntil } from '../support/process.ts';

const ENTRIES = 400;
const USERS = 20;

const database = useTestDatabase();
let keys: TestKeys;
let boss: PgBoss;
const workers: SumdaProcess[] = [];

beforeAll(async () => {
  const { db } = database;
  keys = testKeys();
  const rng = createRng(20_261_125);
  const users: string[] = [];
  for (let u = 0; u < USERS; u++) users.push(await createUser(db, `작업자${u}`));
  const now = Date.now();
  const rows = Array.from({ length: ENTRIES }, (_, i) => {
    const userId = users[i % USERS]!;
    const at = new Date(now - (i + 1) * 60_000); // the last few hours: inside the scan's look-back
    return {
      user_id: userId,
      title: null,
      content_enc: seal(keys.keyring, generateDiary(rng, { dayIndex: i }).body, userId),
      created_at: at,
      updated_at: at,
    };
  });
  await db.insertInto('diary_entries').values(rows).execute();
  boss = createBoss(database.url);
  await boss.start();
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await boss?.stop({ graceful: false, close: true });
});

async function count(query: ReturnType<typeof sql<{ n: number }>>): Promise<number> {
  return (await query.execute(database.db)).rows[0]?.n ?? 0;
}

it('two worker processes on one queue process each job once, and both stop cleanly on SIGTERM', async () => {
  const env = {
    DATABASE_URL: database.url,
    SUMDA_ENCRYPTION_KEYS: keys.env,
    SUMDA_ANALYZER: 'local',
    LOG_LEVEL: 'info',
  };
  const args = ['worker', '--queues', 'analysis.run,analysis.scan', '--poll-interval', '100ms'];
  workers.push(startSumda(args, { env }), startSumda(args, { env }));
  await Promise.all(workers.map((w) => w.waitForLine(hasMsg('worker started'))));

  // One scan tick now (the schedule would send one within the minute).
  await enqueue(boss, 'analysisScan', {});
  await waitUntil(
    async () => (await count(sql`select count(*)::int as n from public.analysis_results`)) >= ENTRIES,
    { timeoutMs: 45_000, intervalMs: 200, what: 'every entry to have its analysis' },
  );
  // Results are written before their jobs are marked completed: let the last ones settle. A scan
  // tick from the schedule that is still running read its entries before the last results were
  // stored and will enqueue (stately) duplicates when it commits: wait for it too, or those jobs
  // would be left queued when the workers stop.
  await waitUntil(
    async () =>
      (await count(
        sql`select count(*)::int as n from pgboss.job
            where (name = 'analysis.run' and state in ('created', 'retry', 'active'))
               or (name = 'analysis.scan' and state = 'active')`,
      )) === 0,
    { timeoutMs: 20_000, what: 'no analysis job left and no scan running' },
  );

  for (const w of workers) w.send('SIGTERM');
  const exits = await Promise.all(workers.map((w) => w.exited));
  expect(exits, workers.map((w) => w.stderr.slice(-5).join('\n')).join('\n---\n')).toEqual([
    { code: 0, signal: null },
    { code: 0, signal: null },
  ]);

  // Exactly one analysis per entry.
  const perEntry = await sql<{ diary_id: string; n: number }>`
    select d.id as diary_id, count(a.id)::int as n
    from public.diary_entries d left join public.analysis_results a on a.diary_id = d.id
    group by d.id`.execute(database.db);
  expect(perEntry.rows).toHaveLength(ENTRIES);
  expect(perEntry.rows.filter((r) => r.n !== 1)).toEqual([]);

  // Every analysis job completed on its first attempt; exactly one per entry stored the result.
  const jobs = await jobsIn(database.db, 'analysis.run');
  expect(jobs.filter((j) => j.state !== 'completed' || j.retry_count > 0)).toEqual([]);
  const stored = jobs.filter((j) => j.output?.status === 'stored');
  expect(stored).toHaveLength(ENTRIES);
  expect(new Set(stored.map((j) => j.data?.diaryId)).size).toBe(ENTRIES);
  // Any extra job (a scan tick from the schedule racing an active job) found the result and skipped.
  expect(jobs.filter((j) => j.output?.status !== 'stored').map((j) => j.output)).toEqual(
    jobs.filter((j) => j.output?.status !== 'stored').map(() => ({ status: 'skipped', reason: 'exists' })),
  );
  // No failure anywhere.
  const errors = await database.db.selectFrom('admin.error_logs').select(['message']).execute();
  expect(errors).toEqual([]);

  // How the work was split, from each worker's final log line.
  const split = workers.map((w) => {
    const stopped = w.logs().find((l) => l.msg === 'worker stopped') as
      | { processed: Record<string, { completed: number; failed: number }>; drained: boolean }
      | undefined;
    expect(stopped?.drained).toBe(true);
    return stopped?.processed['analysis.run'] ?? { completed: 0, failed: 0 };
  });
  console.log(
    `two workers: ${split.map((s, i) => `worker ${i + 1} completed ${s.completed}`).join(', ')} (of ${jobs.length} jobs)`,
  );
  expect(split.reduce((n, s) => n + s.completed, 0)).toBe(jobs.length);
  expect(split.reduce((n, s) => n + s.failed, 0)).toBe(0);
}, 90_000);
