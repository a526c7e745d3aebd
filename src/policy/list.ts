/**
 * `policy list`: every policy with its active version per scope. A read on its own (no schemas, no
 * prompts, no audit trail to load), so the command starts as fast as a read can.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { POLICY_NAMES } from './names.ts';

export async function listPolicies(db: Kysely<Database>) {
  const rows = await db
    .selectFrom('admin.ai_policy_versions as v')
    .leftJoin('admin.ai_policy_active as a', 'a.version_id', 'v.id')
    .leftJoin('admin.admins as ad', 'ad.id', 'a.activated_by')
    .select([
      'v.policy_name',
      'v.scope',
      'v.version',
      'v.created_at',
      'a.activated_at',
      'ad.email as activated_by',
    ])
    .orderBy('v.policy_name')
    .orderBy('v.scope')
    .orderBy('v.created_at')
    .execute();
  return POLICY_NAMES.flatMap((name) => {
    const mine = rows.filter((r) => r.policy_name === name);
    const scopes = [...new Set(mine.map((r) => r.scope))];
    if (scopes.length === 0) {
      return [
        {
          policy: name,
          scope: 'global',
          active: 'default (built-in)',
          versions: 0,
          activatedAt: null,
          activatedBy: null,
        },
      ];
    }
    return scopes.map((scope) => {
      const inScope = mine.filter((r) => r.scope === scope);
      const active = inScope.find((r) => r.activated_at);
      return {
        policy: name,
        scope,
        active: active?.version ?? (scope === 'global' ? 'default (built-in)' : '(none)'),
        versions: inScope.length,
        activatedAt: active?.activated_at ?? null,
        activatedBy: active?.activated_by ?? null,
      };
    });
  });
}
