/**
 * Every mutation and its audit row commit in one transaction: when the audit write fails the change
 * is rolled back with it, and a change that fails leaves no audit row. To make the audit write fail
 * inside the real domain functions, this file's own database gets a trigger that refuses audit rows
 * whose command line carries a marker; to make a change fail after validation, one that refuses
 * overrides with a marker reason.
 */
import { type Kysely, sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/admins/actor.ts';
import { bootstrapAdmin, createAdmin, disableAdmin, setRole } from '../../src/admins/index.ts';
import { writeAudit } from '../../src/audit/index.ts';
import type { Database } from '../../src/db/types.ts';
import { PgCode, pgCode } from '../../src/errors.ts';
import { expireOverride, setOverride } from '../../src/policy/overrides.ts';
import { DEFAULT_POLICIES, type PolicyName } from '../../src/policy/schemas.ts';
import { activateVersion, publishVersion, rollbackPointer } from '../../src/policy/versions.ts';
import { registerPrompt } from '../../src/prompts/index.ts';
import { lastSeq, operation } from '../admins/support.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const FAIL_AUDIT = 'sumda --fail-audit';
const FAIL_CHANGE = 'fail-the-change';
const DAY = 24 * 60 * 60 * 1000;
let admin: Actor;

beforeAll(async () => {
  await sql`
    create function admin.test_refuse_marked_audit() returns trigger language plpgsql as $$
    begin
      if new.command like '%--fail-audit%' then
        raise exception 'audit write refused (test)' using errcode = 'P0001';
      end if;
      return new;
    end $$;
    create trigger zz_test_refuse_marked_audit before insert on admin.audit_log
      for each row execute function admin.test_refuse_marked_audit();
    create function admin.test_refuse_marked_override() returns trigger language plpgsql as $$
    begin
      if new.reason = ${sql.lit(FAIL_CHANGE)} then
        raise exception 'override refused (test)' using errcode = 'P0001';
      end if;
      return new;
    end $$;
    create trigger zz_test_refuse_marked_override before insert on admin.ai_overrides
      for each row execute function admin.test_refuse_marked_override();
  `.execute(database.db);
});

async function count(
  table: 'admin.admins' | 'admin.ai_overrides' | 'admin.ai_policy_versions' | 'admin.prompt_registry',
) {
  const row = await database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function pointer(name: PolicyName) {
  return database.db
    .selectFrom('admin.ai_policy_active as a')
    .innerJoin('admin.ai_policy_versions as v', 'v.id', 'a.version_id')
    .select(['v.version', 'a.previous_version_id'])
    .where('a.policy_name', '=', name)
    .where('a.scope', '=', 'global')
    .executeTakeFirst();
}

const failing = () => operation(admin, FAIL_AUDIT);

describe('a failed audit write rolls the change back', () => {
  it('bootstrap: no admin without its audit row', async () => {
    await expect(
      bootstrapAdmin(database.db, operation(null, FAIL_AUDIT), { email: 'lead@sumda.test' }),
    ).rejects.toThrow('audit write refused (test)');
    expect(await count('admin.admins')).toBe(0);
    expect(await lastSeq(database.db)).toBe(0);
    const row = await bootstrapAdmin(database.db, operation(null), { email: 'lead@sumda.test' });
    admin = { id: row.id, email: row.email, role: 'admin' };
  });

  it('admin create, set-role and disable', async () => {
    const before = await lastSeq(database.db);
    await expect(
      createAdmin(database.db, failing(), { email: 'mina@sumda.test', role: 'manager' }),
    ).rejects.toThrow('audit write refused');
    expect(await count('admin.admins')).toBe(1);
    await createAdmin(database.db, operation(admin), { email: 'mina@sumda.test', role: 'manager' });
    const mark = await lastSeq(database.db);
    await expect(setRole(database.db, failing(), 'mina@sumda.test', 'admin', 'x')).rejects.toThrow(
      'audit write refused',
    );
    await expect(disableAdmin(database.db, failing(), 'mina@sumda.test', 'x')).rejects.toThrow(
      'audit write refused',
    );
    const mina = await database.db
      .selectFrom('admin.admins')
      .select(['role', 'disabled_at'])
      .where('email', '=', 'mina@sumda.test')
      .executeTakeFirstOrThrow();
    expect(mina).toEqual({ role: 'manager', disabled_at: null });
    expect(await lastSeq(database.db)).toBe(mark);
    expect(mark).toBe(before + 1);
  });

  it('policy publish, activate and rollback; prompt register', async () => {
    const v1 = { name: 'tone' as const, scope: 'global', config: DEFAULT_POLICIES.tone };
    await expect(publishVersion(database.db, failing(), { ...v1, version: 'v1.0.0' })).rejects.toThrow(
      'audit write refused',
    );
    expect(await count('admin.ai_policy_versions')).toBe(0);

    await publishVersion(database.db, operation(admin), { ...v1, version: 'v1.0.0' });
    await publishVersion(database.db, operation(admin), {
      ...v1,
      version: 'v2.0.0',
      config: { ...DEFAULT_POLICIES.tone, voice: 'warm' },
    });
    const activate = (version: string, op = operation(admin)) =>
      activateVersion(database.db, op, { name: 'tone', version, scope: 'global', reason: 'r' });
    await expect(activate('v1.0.0', failing())).rejects.toThrow('audit write refused');
    expect(await pointer('tone')).toBeUndefined();
    await activate('v1.0.0');
    await expect(activate('v2.0.0', failing())).rejects.toThrow('audit write refused');
    expect(await pointer('tone')).toMatchObject({ version: 'v1.0.0', previous_version_id: null });
    await activate('v2.0.0');
    await expect(
      rollbackPointer(database.db, failing(), { name: 'tone', scope: 'global', reason: 'r' }),
    ).rejects.toThrow('audit write refused');
    expect((await pointer('tone'))?.version).toBe('v2.0.0');

    await expect(
      registerPrompt(database.db, failing(), {
        name: 'analysis',
        version: 'v2',
        model: 'gpt-4o-mini',
        template: 'Read: {{diary_text}}',
        params: {},
      }),
    ).rejects.toThrow('audit write refused');
    expect(await count('admin.prompt_registry')).toBe(0);
  });

  it('override set and expire', async () => {
    const input = {
      target: 'global',
      key: 'tone.emoji',
      value: true,
      reason: 'A/B',
      expiresAt: new Date(Date.now() + DAY),
      permanent: false,
      rolloutPercent: null,
    };
    await expect(setOverride(database.db, failing(), input)).rejects.toThrow('audit write refused');
    expect(await count('admin.ai_overrides')).toBe(0);
    const row = await setOverride(database.db, operation(admin), input);
    await expect(expireOverride(database.db, failing(), row.id, 'done')).rejects.toThrow(
      'audit write refused',
    );
    const stored = await database.db
      .selectFrom('admin.ai_overrides')
      .select('expired_at')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    expect(stored.expired_at).toBeNull();
  });

  it('a CHECK violation of the audit row inside a transaction undoes the change before it', async () => {
    const error = await database.db
      .transaction()
      .execute(async (trx: Kysely<Database>) => {
        await trx
          .updateTable('admin.admins')
          .set({ display_name: 'changed' })
          .where('email', '=', 'mina@sumda.test')
          .execute();
        await writeAudit(trx, operation(admin), { action: 'Not A Dotted Action' });
      })
      .catch((e: unknown) => e);
    expect(pgCode(error)).toBe(PgCode.checkViolation);
    const mina = await database.db
      .selectFrom('admin.admins')
      .select('display_name')
      .where('email', '=', 'mina@sumda.test')
      .executeTakeFirstOrThrow();
    expect(mina.display_name).toBeNull();
  });
});

describe('a failed change leaves no audit row', () => {
  it('a change refused by the database', async () => {
    const before = await lastSeq(database.db);
    await expect(
      setOverride(database.db, operation(admin), {
        target: 'global',
        key: 'tone.voice',
        value: 'calm',
        reason: FAIL_CHANGE,
        expiresAt: new Date(Date.now() + DAY),
        permanent: false,
        rolloutPercent: null,
      }),
    ).rejects.toThrow('override refused (test)');
    expect(await lastSeq(database.db)).toBe(before);
  });

  it('a duplicate version, an unknown version, an unknown account, an unknown override', async () => {
    const before = await lastSeq(database.db);
    await expect(
      publishVersion(database.db, operation(admin), {
        name: 'tone',
        version: 'v1.0.0',
        scope: 'global',
        config: { ...DEFAULT_POLICIES.tone, voice: 'bright' },
      }),
    ).rejects.toThrow('tone v1.0.0 (global) is already published; versions are immutable');
    await expect(
      activateVersion(database.db, operation(admin), {
        name: 'tone',
        version: 'v9.9.9',
        scope: 'global',
        reason: 'r',
      }),
    ).rejects.toThrow('tone v9.9.9 is not published for scope global');
    await expect(setRole(database.db, operation(admin), 'ghost@sumda.test', 'admin', 'r')).rejects.toThrow(
      'no operator account ghost@sumda.test',
    );
    await expect(
      expireOverride(database.db, operation(admin), '00000000-0000-4000-8000-000000000000', 'r'),
    ).rejects.toThrow(/no override/);
    expect(await lastSeq(database.db)).toBe(before);
    expect(await count('admin.ai_policy_versions')).toBe(2);
  });
});
