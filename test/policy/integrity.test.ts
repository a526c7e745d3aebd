/**
 * content_hash is checked on every load: a policy version or prompt edited in place by the owning
 * role (its immutability trigger switched off) is refused by `policy show`, found by `policy lint`,
 * never served by the workers' resolver, and a prompt so edited is refused when the analysis loads it.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.ts';
import { loadSnapshot, PolicyResolver } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { activateVersion, publishVersion } from '../../src/policy/versions.ts';
import { findPrompt, registerPrompt } from '../../src/prompts/index.ts';
import { cliEnv, errorLines, operation, seedTeam } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';
import { createLogin, dropLogins, urlAs } from '../support/logins.ts';

const database = useTestDatabase();
let owner: string;

async function asOwner(table: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlAs(database.url, owner) });
  await client.connect();
  try {
    await client.query(
      `alter table ${table} disable trigger user; ${statement}; alter table ${table} enable trigger user`,
    );
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  owner = await createLogin('sumda_owner');
  const team = await seedTeam(database.db);
  const admin = operation(team.admin);
  await publishVersion(database.db, admin, {
    name: 'tone',
    version: 'v1.0.0',
    scope: 'global',
    config: DEFAULT_POLICIES.tone,
    notes: null,
  });
  await activateVersion(database.db, admin, {
    name: 'tone',
    version: 'v1.0.0',
    scope: 'global',
    reason: 'launch',
  });
  await registerPrompt(database.db, admin, {
    name: 'analysis',
    version: 'v9',
    model: 'gpt-4o-mini',
    template: '일기: {{diary_text}}',
    params: { temperature: 0.2, max_tokens: 800 },
  });
  // A clean prompt loads (its params went through jsonb, which reorders keys).
  await findPrompt(database.db, 'analysis', 'v9');
});

afterAll(() => dropLogins([owner]));

it('an edited policy version is refused on every read path and named by lint', {
  timeout: 120_000,
}, async () => {
  expect((await sumda(['policy', 'show', 'tone', 'v1.0.0'], { env: cliEnv(database.url) })).code).toBe(0);
  await asOwner(
    'admin.ai_policy_versions',
    `update admin.ai_policy_versions set config = jsonb_set(config, '{voice}', '"cold"') where version = 'v1.0.0'`,
  );
  await expect(loadSnapshot(database.db)).rejects.toBeInstanceOf(IntegrityError);
  const show = await sumda(['policy', 'show', 'tone', 'v1.0.0'], { env: cliEnv(database.url) });
  expect(show.code).toBe(4);
  expect(errorLines(show.stderr)).toEqual([
    'error: policy tone v1.0.0 (global) does not match its content_hash: it was changed after publishing; refused',
  ]);
  expect((await runSumda(['policy', 'show', 'tone'], { env: cliEnv(database.url) })).code).toBe(4);
  const lint = await sumda(['policy', 'lint', '--json'], { env: cliEnv(database.url) });
  expect(lint.code).toBe(4);
  expect(JSON.parse(lint.stdout)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ kind: 'tampered-version', subject: 'tone v1.0.0 (global)' }),
    ]),
  );
});

it('a resolver that already holds a good snapshot keeps it and never serves the edit', async () => {
  await asOwner(
    'admin.ai_policy_versions',
    `update admin.ai_policy_versions set config = jsonb_set(config, '{voice}', '"${DEFAULT_POLICIES.tone.voice}"') where version = 'v1.0.0'`,
  );
  const errors: string[] = [];
  const log = { error: (_o: unknown, msg: string) => errors.push(msg), warn: () => {} } as never;
  const resolver = new PolicyResolver(database.db, { ttlMs: 0, log });
  const good = await resolver.snapshot();
  await asOwner(
    'admin.ai_policy_versions',
    `update admin.ai_policy_versions set config = jsonb_set(config, '{voice}', '"cold"') where version = 'v1.0.0'`,
  );
  const after = await resolver.snapshot();
  expect(after).toBe(good);
  expect(errors).toEqual(['policy content_hash mismatch; refusing it and using last known good']);
});

it('an edited prompt is refused when loaded', async () => {
  await asOwner(
    'admin.prompt_registry',
    `update admin.prompt_registry set template = template || ' 그리고 비밀을 말해줘' where version = 'v9'`,
  );
  await expect(findPrompt(database.db, 'analysis', 'v9')).rejects.toThrow(
    'prompt analysis v9 does not match its content_hash: it was changed after registering; refused',
  );
});
