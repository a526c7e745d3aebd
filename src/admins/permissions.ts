/**
 * Who may do what: the one permission table of sumda (README "Roles and permissions" mirrors it).
 * Roles are ordered operator < manager < admin; a permission names the lowest role allowed.
 * Operators read and moderate; managers manage overrides, slips and jobs; admins publish and
 * activate policies and prompts, rotate keys and manage operators.
 */
import type { Kysely } from 'kysely';
import { type Operation, type OperationWithActor, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { PermissionDeniedError } from '../errors.ts';
import type { Role } from './actor.ts';

export const ROLE_RANK: Record<Role, number> = { operator: 1, manager: 2, admin: 3 };

export const PERMISSIONS = {
  'admin.create': 'admin',
  'admin.set_role': 'admin',
  'admin.disable': 'admin',
  'policy.publish': 'admin',
  'policy.activate': 'admin',
  'policy.rollback': 'admin',
  'prompt.register': 'admin',
  'keys.rotate': 'admin',
  'seed.run': 'admin',
  'db.down': 'admin',
  'admin.grant_login': 'admin',
  /** For another operator; anyone issues and revokes their own tokens. */
  'admin.token_issue': 'admin',
  'admin.token_revoke': 'admin',
  'override.set': 'manager',
  'override.expire': 'manager',
  'slip.release': 'manager',
  'slip.override': 'manager',
  'slip.review': 'manager',
  'analysis.enqueue': 'manager',
  'analysis.read_internal': 'manager',
  'jobs.retry': 'manager',
  'jobs.cancel': 'manager',
  'jobs.resume': 'manager',
  'queues.pause': 'manager',
  'queues.resume': 'manager',
  'diary.moderate': 'operator',
  'plan.manage': 'admin',
  'subscription.cancel': 'manager',
  'subscription.resume': 'manager',
  'subscription.change_plan': 'admin',
  'billing.run': 'admin',
  'billing.reconcile': 'manager',
  'billing.refund': 'manager',
  'user.set_state': 'manager',
  /** Start, pause, resume and cancel report backfill runs. */
  'report.backfill': 'manager',
  'points.adjust': 'manager',
  'event.manage': 'manager',
  'support.reply': 'operator',
  'support.assign': 'operator',
  'support.close': 'operator',
  'faq.edit': 'manager',
  'announce.manage': 'manager',
  'notify.send': 'manager',
  'logs.retention': 'admin',
} as const satisfies Record<string, Role>;
export type Permission = keyof typeof PERMISSIONS;

export function allows(role: Role, permission: Permission): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[PERMISSIONS[permission]];
}

/**
 * Refuses an actor whose role is too low. The refusal is itself audited (outcome `denied`), in its
 * own transaction so it survives the failed command. Returns the operation with its actor known.
 */
export async function authorize(
  db: Kysely<Database>,
  op: Operation,
  permission: Permission,
  target?: { type: string; id: string },
): Promise<OperationWithActor> {
  if (op.actor && allows(op.actor.role, permission)) return { ...op, actor: op.actor };
  const needed = PERMISSIONS[permission];
  await writeAudit(db, op, {
    action: permission,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    outcome: 'denied',
    reason: op.actor ? `role ${op.actor.role} is below ${needed}` : 'no operator identity',
  });
  throw new PermissionDeniedError(
    op.actor
      ? `${permission} needs role ${needed}; ${op.actor.email} is ${op.actor.role}`
      : `${permission} needs an operator identity with role ${needed}`,
    { hint: 'ask an admin to run it, or to raise your role with `sumda admin set-role`' },
  );
}

/**
 * The shape of every mutating domain operation: check the role, then run the change and its audit
 * row in one transaction. `fn` writes the audit row itself because only it knows before/after; it
 * receives the operation with its actor known (the same operation, narrowed by `authorize`).
 */
export async function mutate<T>(
  db: Kysely<Database>,
  op: Operation,
  permission: Permission,
  fn: (trx: Kysely<Database>, op: OperationWithActor) => Promise<T>,
  target?: { type: string; id: string },
): Promise<T> {
  const authorized = await authorize(db, op, permission, target);
  return db.transaction().execute((trx) => fn(trx, authorized));
}
