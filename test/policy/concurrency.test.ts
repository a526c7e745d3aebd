/**
 * Concurrent moves of one pointer from separate connections serialise: each either succeeds or
 * fails cleanly, the pointer ends where the last audited move put it, every move has exactly one
 * audit row, and consecutive rows chain (the `after` of one is the `before` of the next).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../../src/audit/index.ts';
import { createDb, type Db } from '../../src/db/connect.ts';
import { SumdaError } from '../../src/errors.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import {
  activateVersion,
  type PointerMove,
  publishVersion,
  rollbackPointer,
} from '../../src/policy/versions.ts';
import { auditRows, operation, seedTeam, type Team } from '../admins/support.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const VERSIONS = Array.from({ length: 8 }, (_, i) => `v1.0.${i}`);
let team: Team;
let dbs: Db[];

beforeAll(async () => {
  team = await seedTeam(database.db);
  for (const [i, version] of VERSIONS.entries()) {
    await publishVersion(database.db, operation(team.admin), {
      name: 'tone',
      version,
      scope: 'global',
      config: { ...DEFAULT_POLICIES.tone, max_interpretation_chars: 100 + i * 10 },
    });
  }
  dbs = VERSIONS.map(() => createDb(database.url, { max: 1, applicationName: 'sumda-test-race' }));
});

afterAll(async () => {
  await Promise.all(dbs.map((db) => db.destroy()));
});

interface Move {
  before: { version_id: string; version: string } | null;
  after: { version_id: string; version: string };
}

/** The pointer row and its audited moves, checked for the invariants every race must keep. */
async function expectConsistentHistory() {
  const rows = await auditRows(database.db, { targetId: 'tone|global' });
  const moves = rows.filter((r) => r.outcome === 'success').map((r) => r as unknown as Move & typeof r);
  expect(moves.length).toBeGreaterThan(0);
  expect(moves[0]!.before).toBeNull();
  for (let i = 1; i < moves.length; i++) {
    expect(moves[i]!.before).toEqual(moves[i - 1]!.after);
  }
  const pointer = await database.db
    .selectFrom('admin.ai_policy_active')
    .select(['version_id', 'previous_version_id'])
    .where('policy_name', '=', 'tone')
    .where('scope', '=', 'global')
    .executeTakeFirstOrThrow();
  expect(pointer.version_id).toBe(moves.at(-1)!.after.version_id);
  expect((await verifyAuditChain(database.db)).ok).toBe(true);
  return { moves, pointer };
}

describe('concurrent moves of one pointer', () => {
  it('8 concurrent first activations: all succeed, one row each, the last audited one wins', async () => {
    const results = await Promise.allSettled(
      VERSIONS.map((version, i) =>
        activateVersion(dbs[i]!, operation(team.admin), {
          name: 'tone',
          version,
          scope: 'global',
          reason: 'race',
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(VERSIONS.map(() => 'fulfilled'));
    const made = results.map((r) => (r as PromiseFulfilledResult<PointerMove>).value);
    expect(made.every((m) => m.changed)).toBe(true);
    const { moves, pointer } = await expectConsistentHistory();
    expect(moves).toHaveLength(8);
    expect(new Set(moves.map((m) => m.after.version))).toEqual(new Set(VERSIONS));
    // Each call reported the move its audit row records.
    for (const m of made) {
      expect(
        moves.some((row) => row.after.version === m.to && (row.before?.version ?? null) === m.from),
      ).toBe(true);
    }
    expect(pointer.previous_version_id).toBe(moves.at(-1)!.before!.version_id);
  });

  it('activations and rollbacks racing: each succeeds or fails cleanly, history stays linear', async () => {
    const before = (await auditRows(database.db, { targetId: 'tone|global' })).length;
    const results = await Promise.allSettled(
      dbs.map((db, i) =>
        i % 2 === 0
          ? activateVersion(db, operation(team.admin), {
              name: 'tone',
              version: VERSIONS[(i * 3) % VERSIONS.length]!,
              scope: 'global',
              reason: 'race',
            })
          : rollbackPointer(db, operation(team.admin), { name: 'tone', scope: 'global', reason: 'race' }),
      ),
    );
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(SumdaError);
    }
    const changed = results.filter(
      (r) => r.status === 'fulfilled' && (r as PromiseFulfilledResult<PointerMove>).value.changed,
    ).length;
    const { moves } = await expectConsistentHistory();
    expect(moves.length - before).toBe(changed);
  });
});
