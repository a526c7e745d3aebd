/**
 * Constraint behaviour beyond single writes: immutable policy versions and prompts, one open slip
 * per user, the policy pointer's composite keys, subscription/payment ownership and cascades, the
 * ciphertext key id column, updated_at triggers, and catalog-wide rules (comments, FK indexes).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, keyIdOf, open, reseal, seal } from '../../src/crypto/index.ts';
import { useTestDatabase } from '../support/db.ts';

const RAISE_EXCEPTION = 'P0001';
const FK = '23503';
// Deleting a row an ON DELETE RESTRICT key still references: 23503 on PostgreSQL 15, 23001
// (restrict_violation) on the embedded PostgreSQL 18. Same meaning; either is right.
const STILL_REFERENCED = ['23503', '23001'];
const UNIQUE = '23505';
const CHECK = '23514';

type PgError = { code?: string; constraint?: string; message?: string };
type Row = Record<string, unknown>;

const database = useTestDatabase();
let client: pg.Client;
let adminId: string;

async function insert(table: string, row: Row): Promise<Row> {
  const columns = Object.keys(row);
  const result = await client.query(
    `insert into ${table} (${columns.join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')}) returning *`,
    Object.values(row),
  );
  return result.rows[0] as Row;
}

async function failure(text: string, values: unknown[] = []): Promise<PgError> {
  const error = await client.query(text, values).then(
    () => undefined,
    (e: unknown) => e as PgError,
  );
  expect(error, `accepted: ${text}`).toBeDefined();
  return error!;
}

async function newUser(nickname = '사용자'): Promise<string> {
  return (await insert('users', { nickname })).id as string;
}

beforeAll(async () => {
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  adminId = (await insert('admin.admins', { email: 'ops@sumda.test', role: 'manager' })).id as string;
});

afterAll(async () => {
  await client?.end();
});

describe('immutable tables', () => {
  const tables: [string, () => Row][] = [
    [
      'admin.ai_policy_versions',
      () => ({
        policy_name: 'ethics',
        version: 'v1.0.0',
        config: '{}',
        content_hash: 'h',
        created_by: adminId,
      }),
    ],
    [
      'admin.prompt_registry',
      () => ({
        name: 'analysis.daily',
        model: 'gpt-4o',
        version: '1',
        template: 't',
        content_hash: 'h',
        created_by: adminId,
      }),
    ],
  ];
  for (const [table, row] of tables) {
    describe(table, () => {
      let id: string;
      beforeAll(async () => {
        id = (await insert(table, row())).id as string;
      });
      const writes: [string, string][] = [
        ['UPDATE', `update ${table} set content_hash = 'other' where id = $1`],
        ['DELETE', `delete from ${table} where id = $1`],
        ['TRUNCATE', `truncate ${table} cascade`],
      ];
      for (const [op, text] of writes) {
        it(`refuses ${op} with P0001 naming the table`, async () => {
          const error = await failure(text, op === 'TRUNCATE' ? [] : [id]);
          expect(error.code).toBe(RAISE_EXCEPTION);
          expect(error.message).toBe(`${table} is immutable: ${op} refused`);
        });
      }
      it('still holds the row unchanged', async () => {
        const r = await client.query(`select content_hash from ${table} where id = $1`, [id]);
        expect(r.rows).toEqual([{ content_hash: 'h' }]);
      });
    });
  }
});

describe('admin.slip_conditions: at most one open slip per user', () => {
  it('refuses a second open slip, and accepts a new one once the first is released', async () => {
    const user = await newUser();
    const slip = { user_id: user, metrics: '{"tier_a":3.9}', status: 'slipped', duration: '1 day' };
    const first = await insert('admin.slip_conditions', slip);
    const error = await insert('admin.slip_conditions', { ...slip, status: 'warning' }).catch(
      (e: PgError) => e,
    );
    expect(error).toMatchObject({ code: UNIQUE, constraint: 'slip_conditions_one_open_key' });

    await client.query(
      `update admin.slip_conditions set released_at = now(), release_reason = 'calmer', override_by = $2,
         override_reason = 'reviewed' where id = $1`,
      [first.id, adminId],
    );
    await insert('admin.slip_conditions', slip);
    // Released history can hold any number of rows.
    const rows = await client.query(
      'select released_at is null as open from admin.slip_conditions where user_id = $1',
      [user],
    );
    expect(rows.rows.map((r) => r.open).sort()).toEqual([false, true]);
  });

  it('another user may have an open slip at the same time', async () => {
    const slip = { metrics: '{}', status: 'warning' };
    await insert('admin.slip_conditions', { ...slip, user_id: await newUser() });
    await insert('admin.slip_conditions', { ...slip, user_id: await newUser() });
  });
});

describe('admin.ai_policy_active: the pointer', () => {
  const versions: Record<string, string> = {};
  beforeAll(async () => {
    for (const [key, policy_name, scope, version] of [
      ['slip1', 'slip', 'global', 'v1.0.0'],
      ['slip2', 'slip', 'global', 'v1.1.0'],
      ['tone1', 'tone', 'global', 'v1.0.0'],
      ['slipUser', 'slip', 'user:42', 'v1.0.0'],
    ] as const) {
      const row = { policy_name, scope, version, config: '{}', content_hash: key, created_by: adminId };
      versions[key] = (await insert('admin.ai_policy_versions', row)).id as string;
    }
  });

  it('moves between versions of its own policy and scope, and back (rollback)', async () => {
    const pointer = await insert('admin.ai_policy_active', {
      policy_name: 'slip',
      version_id: versions.slip1,
      activated_by: adminId,
    });
    await client.query(
      `update admin.ai_policy_active set version_id = $2, previous_version_id = version_id, activated_at = now()
       where id = $1`,
      [pointer.id, versions.slip2],
    );
    await client.query(
      `update admin.ai_policy_active set version_id = previous_version_id, previous_version_id = version_id
       where id = $1`,
      [pointer.id],
    );
    const r = await client.query(
      'select version_id, previous_version_id from admin.ai_policy_active where id = $1',
      [pointer.id],
    );
    expect(r.rows[0]).toEqual({ version_id: versions.slip1, previous_version_id: versions.slip2 });
  });

  it('cannot point at a version of another policy, or of another scope', async () => {
    for (const other of [versions.tone1, versions.slipUser]) {
      const error = await failure(
        `update admin.ai_policy_active set version_id = $1 where policy_name = 'slip'`,
        [other],
      );
      expect(error).toMatchObject({ code: FK, constraint: 'ai_policy_active_version_fkey' });
    }
    const error = await failure(
      `update admin.ai_policy_active set previous_version_id = $1 where policy_name = 'slip'`,
      [versions.tone1],
    );
    expect(error).toMatchObject({ code: FK, constraint: 'ai_policy_active_previous_version_fkey' });
  });

  it('has one pointer per policy and scope', async () => {
    const error = await insert('admin.ai_policy_active', {
      policy_name: 'slip',
      version_id: versions.slip2,
      activated_by: adminId,
    }).catch((e: PgError) => e);
    expect(error).toMatchObject({ code: UNIQUE, constraint: 'ai_policy_active_policy_scope_key' });
    await insert('admin.ai_policy_active', {
      policy_name: 'slip',
      scope: 'user:42',
      version_id: versions.slipUser,
      activated_by: adminId,
    });
  });
});

describe('subscriptions and payments', () => {
  let alice: string;
  let bob: string;
  let aliceSub: string;
  beforeAll(async () => {
    await insert('plans', { code: 'monthly', name: '월간', price: 9900, billing_interval: 'month' });
    alice = await newUser('alice');
    bob = await newUser('bob');
    aliceSub = (await insert('subscriptions', { user_id: alice, plan: 'monthly' })).id as string;
    await insert('subscriptions', { user_id: bob, plan: 'monthly' });
  });

  it("a payment can name its own user's subscription, never another user's", async () => {
    await insert('payments', {
      user_id: alice,
      subscription_id: aliceSub,
      amount: 9900,
      order_id: 'o-alice-1',
    });
    const error = await insert('payments', {
      user_id: bob,
      subscription_id: aliceSub,
      amount: 9900,
      order_id: 'o-bob-1',
    }).catch((e: PgError) => e);
    expect(error).toMatchObject({ code: FK, constraint: 'payments_subscription_fkey' });
    // Moving a payment to another user while it keeps the subscription is refused the same way.
    const moved = await failure(`update payments set user_id = $1 where order_id = 'o-alice-1'`, [bob]);
    expect(moved).toMatchObject({ code: FK, constraint: 'payments_subscription_fkey' });
    // A one-off payment names no subscription.
    await insert('payments', { user_id: bob, amount: 1000, order_id: 'o-bob-points' });
  });

  it('a subscription with payments cannot be deleted on its own', async () => {
    const error = await failure('delete from subscriptions where id = $1', [aliceSub]);
    // payments_subscription_fkey is NO ACTION: 23503 on every version.
    expect(error).toMatchObject({ code: FK, constraint: 'payments_subscription_fkey' });
  });

  it('renaming a plan code follows into subscriptions; deleting a plan in use is refused', async () => {
    await client.query(`update plans set code = 'monthly_v2' where code = 'monthly'`);
    const r = await client.query('select plan from subscriptions where user_id = $1', [alice]);
    expect(r.rows).toEqual([{ plan: 'monthly_v2' }]);
    const error = await failure(`delete from plans where code = 'monthly_v2'`);
    expect(error).toMatchObject({ constraint: 'subscriptions_plan_fkey' });
    expect(STILL_REFERENCED).toContain((error as { code: string }).code);
  });

  it('deleting a user removes their subscription but keeps their payments, detached (5-year retention)', async () => {
    await client.query('delete from users where id = $1', [alice]);
    const left = await client.query(
      `select (select count(*) from subscriptions where user_id = $1)::int as subs,
              (select count(*) from payments where user_id = $1)::int as payments,
              (select count(*) from payments where order_id = 'o-alice-1' and user_id is null
                 and subscription_id is null and detached_at is not null)::int as detached`,
      [alice],
    );
    expect(left.rows[0]).toEqual({ subs: 0, payments: 0, detached: 1 });
    const error = await failure(`delete from payments where order_id = 'o-alice-1'`);
    expect(error).toMatchObject({ code: 'P0001' });
    expect(error?.message).toMatch(/kept for 5 years/);
  });
});

describe('diary_entries.content_key_id', () => {
  it('is the key id in the header of a ciphertext sealed by seal(), and follows a re-seal', async () => {
    const user = await newUser();
    const oldKey = { id: 'k2026-01', key: randomBytes(32) };
    const newKey = { id: 'k2026-07', key: randomBytes(32) };
    const sealed = seal(createKeyring([oldKey]), '오늘은 조용한 하루였다.', user);
    const row = await insert('diary_entries', { user_id: user, content_enc: sealed });
    expect(row.content_key_id).toBe('k2026-01');
    expect(keyIdOf(row.content_enc as Buffer)).toBe('k2026-01');

    const rotated = createKeyring([newKey, oldKey]);
    const resealed = reseal(rotated, row.content_enc as Buffer, user)!;
    const updated = await client.query(
      'update diary_entries set content_enc = $2 where id = $1 returning *',
      [row.id, resealed],
    );
    expect(updated.rows[0].content_key_id).toBe('k2026-07');
    expect(open(rotated, updated.rows[0].content_enc, user)).toBe('오늘은 조용한 하루였다.');
    const byKey = await client.query(
      'select count(*)::int as n from diary_entries where content_key_id = $1',
      ['k2026-07'],
    );
    expect(byKey.rows[0].n).toBe(1);
  });

  it('cannot be written by a client', async () => {
    const error = await failure(`update diary_entries set content_key_id = 'forged'`);
    expect(error.code).toBe('428C9'); // generated_always
  });
});

describe('sumda.analysis_failures: what the last failed call used', () => {
  // The sumda schema is outside the table-driven catalog of constraints.test.ts: its checks are here.
  it('takes a failure with its spend, and refuses negative tokens and cost', async () => {
    const user = await newUser();
    const sealed = seal(createKeyring([{ id: 'k1', key: randomBytes(32) }]), '실패한 분석', user);
    const diary = (await insert('diary_entries', { user_id: user, content_enc: sealed })).id as string;
    const row = { diary_id: diary, prompt_name: 'analysis', prompt_version: 'v1', outcome: 'refused' };
    const stored = await insert('sumda.analysis_failures', {
      ...row,
      model_version: 'gpt-4o-mini-2024-07-18',
      input_tokens: 900,
      output_tokens: 40,
      cost_usd: 0.0002,
    });
    expect(stored).toMatchObject({ input_tokens: '900', output_tokens: '40', cost_usd: '0.0002' });
    for (const [column, constraint] of [
      ['input_tokens', 'analysis_failures_input_tokens_check'],
      ['output_tokens', 'analysis_failures_output_tokens_check'],
      ['cost_usd', 'analysis_failures_cost_usd_check'],
    ] as const) {
      const error = await failure(`update sumda.analysis_failures set ${column} = -1 where diary_id = $1`, [
        diary,
      ]);
      expect(error).toMatchObject({ code: CHECK, constraint });
    }
  });
});

describe('updated_at', () => {
  it('is bumped by the trigger on update, whatever the client sends; created_at stays', async () => {
    const user = await insert('users', { nickname: '갱신' });
    await new Promise((r) => setTimeout(r, 20));
    const updated = await client.query(
      `update users set nickname = '갱신됨', updated_at = '2000-01-01' where id = $1 returning created_at, updated_at`,
      [user.id],
    );
    const row = updated.rows[0] as { created_at: Date; updated_at: Date };
    expect(row.created_at.getTime()).toBe((user.created_at as Date).getTime());
    expect(row.updated_at.getTime()).toBeGreaterThan((user.updated_at as Date).getTime());
    const now = await client.query<{ now: Date }>('select now() as now');
    expect(Math.abs(row.updated_at.getTime() - now.rows[0]!.now.getTime())).toBeLessThan(5_000);
  });

  it('has its trigger on every table with an updated_at column', async () => {
    const r = await client.query<{ t: string; triggered: boolean }>(
      `select c.table_schema || '.' || c.table_name as t,
              exists (select 1 from pg_trigger g join pg_proc p on p.oid = g.tgfoid
                      where g.tgrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass
                        and p.proname = 'set_updated_at' and not g.tgisinternal) as triggered
       from information_schema.columns c
       where c.table_schema in ('public', 'admin') and c.column_name = 'updated_at' order by 1`,
    );
    expect(r.rows.length).toBe(11);
    expect(r.rows.filter((row) => !row.triggered)).toEqual([]);
  });
});

describe('catalog', () => {
  it('every table has a one-line comment', async () => {
    const r = await client.query<{ t: string; comment: string | null }>(
      `select n.nspname || '.' || c.relname as t, obj_description(c.oid, 'pg_class') as comment
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('public', 'admin') and c.relkind = 'r' and c.relname <> 'sumda_migrations'`,
    );
    expect(r.rows).toHaveLength(33);
    expect(r.rows.filter((row) => !row.comment || row.comment.includes('\n'))).toEqual([]);
  });

  it('every foreign key leads an index of its table, except the few small-table references', async () => {
    // Not indexed on purpose: "who did it" references to admin.admins from small tables (operators
    // are never deleted, and these are not joined from the operator side) and the policy pointer's
    // references into the version table (one pointer per policy and scope; versions never go).
    const unindexed = await client.query<{ fk: string }>(
      `select n.nspname || '.' || r.relname || '.' || con.conname as fk
       from pg_constraint con
       join pg_class r on r.oid = con.conrelid join pg_namespace n on n.oid = r.relnamespace
       where con.contype = 'f' and n.nspname in ('public', 'admin')
         and not exists (
           select 1 from pg_index i where i.indrelid = con.conrelid and i.indkey[0] = con.conkey[1])
       order by 1`,
    );
    expect(unindexed.rows.map((r) => r.fk)).toEqual([
      'admin.admins.admins_created_by_fkey',
      'admin.ai_overrides.ai_overrides_created_by_fkey',
      'admin.ai_policy_active.ai_policy_active_activated_by_fkey',
      'admin.ai_policy_active.ai_policy_active_previous_version_fkey',
      'admin.ai_policy_active.ai_policy_active_version_fkey',
      'admin.ai_policy_versions.ai_policy_versions_created_by_fkey',
      'admin.operator_tokens.operator_tokens_created_by_fkey',
      'admin.operator_tokens.operator_tokens_revoked_by_fkey',
      'admin.prompt_registry.prompt_registry_created_by_fkey',
      'admin.slip_conditions.slip_conditions_override_by_fkey',
      'admin.slip_conditions.slip_conditions_released_by_fkey',
      'admin.slip_conditions.slip_conditions_reviewed_by_fkey',
      'public.billing_consents.billing_consents_recorded_by_fkey',
      'public.payment_refunds.payment_refunds_requested_by_fkey',
      'public.subscription_history.subscription_history_actor_id_fkey',
    ]);
  });
});
