/**
 * The safety scenario `sumda seed` adds when its history ends today (and `sumda demo` always): once a
 * worker has read it, slip and moderation views have something to show — a warning then a slip, a
 * crisis note, an entry in the moderation queue, and healthy joy that never slips. Idempotent.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedSafetyScenario } from '../../src/seed/scenario.ts';
import { cliEnv, seedTeam, type Team } from '../admins/support.ts';
import { captureLogs, runWorkerOnce, type TestKeys, testConfig, testKeys } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const { log } = captureLogs('info');
let keys: TestKeys;
let team: Team;

beforeAll(async () => {
  keys = testKeys();
  team = await seedTeam(database.db);
});

async function byNickname() {
  const rows = await sql<{
    nickname: string;
    slips: string[] | null;
    crisis: number;
    flagged: number;
  }>`
    select u.nickname,
           (select array_agg(s.status::text order by s.triggered_at) from admin.slip_conditions s where s.user_id = u.id) as slips,
           (select count(*) from public.notifications n where n.user_id = u.id and n.type = 'crisis')::int as crisis,
           (select count(*) from public.diary_entries d where d.user_id = u.id and d.flagged_at is not null)::int as flagged
    from public.users u where u.nickname like '데모:%' order by u.nickname`.execute(database.db);
  return Object.fromEntries(rows.rows.map((r) => [r.nickname, { ...r, slips: r.slips ?? [] }]));
}

describe('the safety scenario', () => {
  it('sumda seed adds it (only once); a worker run then shows a warning, a slip, a crisis note and a flag', {
    timeout: 120_000,
  }, async () => {
    const env = { ...cliEnv(database.url, team.admin.email), SUMDA_ENCRYPTION_KEYS: keys.env };
    const first = await runSumda(['seed', '--users', '2', '--days', '1', '--json'], { env });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ users: 2, scenarioEntries: 10 });
    // Idempotent: a second run adds nothing.
    expect(await seedSafetyScenario(database.db, keys.keyring)).toBe(0);

    await runWorkerOnce({
      url: database.url,
      config: testConfig(database.url, keys.env),
      log,
      queues: ['analysis.scan', 'analysis.run', 'slip.check'],
    });
    const users = await byNickname();
    expect(users['데모: 힘든 한 주']).toMatchObject({ slips: ['warning', 'slipped'], flagged: 0 });
    expect(users['데모: 기쁜 하루']).toMatchObject({ slips: [], crisis: 0, flagged: 0 });
    expect(users['데모: 무거운 마음']!.crisis).toBeGreaterThanOrEqual(1);
    expect(users['데모: 화가 난 날']).toMatchObject({ slips: [], flagged: 1 });
  });
});
