/**
 * The live slip flow. `checkSlips` runs for each new analysis (queue slip.check): it evaluates the
 * slip and ethics policy and, in one transaction per user (serialised by an advisory lock, so two
 * analyses of one user at once still yield one open condition): records a warning or slip in
 * admin.slip_conditions (an escalation closes the old row and opens a new one, so history stays
 * readable), tells the user through notifications in plain Korean, shows crisis resources on
 * self-harm signals whatever the decision, and puts entries with moderation tags in the
 * moderation queue (flagged for an operator, never deleted automatically).
 * `releaseDueSlips` (queue slip.release, every minute) ends conditions whose time is up, exactly once.
 */
import { type Kysely, sql } from 'kysely';
import { lockedNow, lockFor, lockNames } from '../db/locks.ts';
import type { Database } from '../db/types.ts';
import type { Logger } from '../log.ts';
import { type KeyedRecipient, notify, notifyAll, type UserMessage } from '../notifications/index.ts';
import { policyStamp } from '../policy/resolve.ts';
import type { PolicyResolver } from '../policy/resolver.ts';
import { parseDuration, toPgInterval } from '../time/grammar.ts';
import {
  type AnalysisFacts,
  evaluateSlip,
  factsFromMetadata,
  SLIP_STATUS_RANK,
  type SlipDecision,
} from './evaluate.ts';
import { crisisMessage, slipMessage } from './messages.ts';

export interface SlipDeps {
  db: Kysely<Database>;
  resolver: PolicyResolver;
  log: Logger;
  now?: () => Date;
}

/** Entries older than this were re-analysed in bulk (backfills): they never trigger a live slip. */
export const LIVE_WINDOW_MS = 2 * 86_400_000;

export type CheckResult =
  | {
      analysisId: string;
      status: 'checked';
      decision: SlipDecision['decision'];
      rule: string;
      action: string;
      crisis: boolean;
    }
  | { analysisId: string; status: 'skipped'; reason: 'missing' | 'stale' };

export async function checkSlips(deps: SlipDeps, analysisIds: string[]): Promise<CheckResult[]> {
  const { db } = deps;
  const now = deps.now?.() ?? new Date();
  const rows = await db
    .selectFrom('analysis_results as a')
    .innerJoin('diary_entries as d', 'd.id', 'a.diary_id')
    .select(['a.id', 'a.user_id', 'a.diary_id', 'a.metadata', 'd.created_at as written_at'])
    .where('a.id', 'in', analysisIds)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const results: CheckResult[] = [];
  for (const analysisId of analysisIds) {
    const row = byId.get(analysisId);
    if (!row) {
      results.push({ analysisId, status: 'skipped', reason: 'missing' });
      continue;
    }
    if (now.getTime() - row.written_at.getTime() > LIVE_WINDOW_MS) {
      results.push({ analysisId, status: 'skipped', reason: 'stale' });
      continue;
    }
    const resolution = await deps.resolver.resolve({ userId: row.user_id });
    const { slip, ethics } = resolution.configs;
    const stamp = policyStamp(resolution, ['slip', 'ethics']);
    const entry = factsFromMetadata(row.id, row.written_at, row.metadata);
    results.push(
      await db.transaction().execute(async (trx) => {
        await lockFor(trx, lockNames.userSlip(row.user_id));
        const freshSince = await lastOperatorAction(trx, row.user_id);
        // An operator's release or override starts a fresh window (see evaluate.ts).
        const windowStart = new Date(
          Math.max(row.written_at.getTime() - slip.window_days * 86_400_000, freshSince?.getTime() ?? 0),
        );
        const recent = await trx
          .selectFrom('analysis_results as a')
          .innerJoin('diary_entries as d', 'd.id', 'a.diary_id')
          .select(['a.id', 'a.metadata', 'd.created_at'])
          .where('a.user_id', '=', row.user_id)
          // Not this entry under any prompt version: a re-read is the same entry, not a second one.
          .where('a.diary_id', '<>', row.diary_id)
          .where('d.created_at', '>', windowStart)
          .where('d.created_at', '<=', row.written_at)
          // One result per entry: the latest prompt version's reading.
          .distinctOn('a.diary_id')
          .orderBy('a.diary_id')
          .orderBy('a.created_at', 'desc')
          .execute();
        const facts: AnalysisFacts[] = recent.map((r) => factsFromMetadata(r.id, r.created_at, r.metadata));
        const open = await trx
          .selectFrom('admin.slip_conditions')
          .select(['id', 'status', 'source', 'triggered_at', 'duration'])
          .where('user_id', '=', row.user_id)
          .where('released_at', 'is', null)
          .forUpdate()
          .executeTakeFirst();
        // A warning counts only if it came after the user's last slip: every new pause needs a fresh
        // warning first (the replay applies the same rule).
        const warned = await trx
          .selectFrom('admin.slip_conditions as w')
          .select('w.id')
          .where('w.user_id', '=', row.user_id)
          .where('w.status', '=', 'warning')
          .where('w.triggered_at', '>', windowStart)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('admin.slip_conditions as s')
                  .select('s.id')
                  .whereRef('s.user_id', '=', 'w.user_id')
                  .where('s.status', '=', 'slipped')
                  .whereRef('s.triggered_at', '>', 'w.triggered_at'),
              ),
            ),
          )
          .limit(1)
          .executeTakeFirst();
        // A retried or duplicated check of an analysis that already opened a condition must not act
        // again: its own warning would otherwise count as "warned" and escalate it to a slip.
        const actedOn = await trx
          .selectFrom('admin.slip_conditions')
          .select('id')
          .where('analysis_id', '=', row.id)
          .limit(1)
          .executeTakeFirst();
        const decision = evaluateSlip({
          slip,
          ethics,
          entry,
          recent: facts,
          open: open ? { status: open.status, source: open.source, triggeredAt: open.triggered_at } : null,
          warnedInWindow: Boolean(warned),
          freshSince,
        });
        const metrics = {
          analysis_id: row.id,
          rule: decision.rule,
          score: decision.score,
          ...decision.evidence,
          crisis: decision.crisis,
          moderation: decision.moderation,
          ruleset_version: stamp.policy_versions.slip,
          ethics_version: stamp.policy_versions.ethics,
          override_ids: stamp.override_ids,
        };

        if (decision.crisis) {
          await notify(trx, row.user_id, {
            kind: 'crisis',
            message: crisisMessage(ethics),
            dedupeKey: `crisis:${row.id}`,
          });
        }
        if (decision.moderation.length > 0) {
          const reason = `ethics: ${decision.moderation.join(', ')}`;
          const flagged = await trx
            .updateTable('diary_entries')
            .set({ flagged_at: sql<Date>`now()`, flag_reason: reason })
            .where('id', '=', row.diary_id)
            .where('flagged_at', 'is', null)
            .executeTakeFirst();
          if (Number(flagged.numUpdatedRows) > 0) {
            await trx
              .insertInto('admin.content_moderation_logs')
              .values({ diary_id: row.diary_id, action: 'flag', reason, admin_id: null })
              .execute();
          }
        }

        let action = 'none';
        const escalates =
          !actedOn &&
          decision.decision !== 'normal' &&
          (!open ||
            (open.source === 'auto' && SLIP_STATUS_RANK[decision.decision] > SLIP_STATUS_RANK[open.status]));
        if (escalates) {
          if (open) {
            await trx
              .updateTable('admin.slip_conditions')
              .set({ released_at: lockedNow, release_reason: `escalated to ${decision.decision}` })
              .where('id', '=', open.id)
              .execute();
          }
          const inserted = await trx
            .insertInto('admin.slip_conditions')
            .values({
              user_id: row.user_id,
              analysis_id: row.id,
              metrics: JSON.stringify(metrics),
              status: decision.decision,
              source: 'auto',
              duration: toPgInterval(parseDuration(decision.duration!)),
              triggered_at: lockedNow,
            })
            .returning(['id', 'triggered_at'])
            .executeTakeFirstOrThrow();
          const until = new Date(inserted.triggered_at.getTime() + parseDuration(decision.duration!));
          await notify(trx, row.user_id, {
            kind: 'slip',
            message: slipMessage(slip, decision.decision as 'warning' | 'slipped', {
              duration: decision.duration,
              until,
            }),
            dedupeKey: `slip:${inserted.id}:open`,
          });
          action = open ? `escalated ${open.status} → ${decision.decision}` : `opened ${decision.decision}`;
          deps.log.info(
            {
              userHash: row.user_id.slice(0, 8),
              slipId: inserted.id,
              decision: decision.decision,
              rule: decision.rule,
            },
            'slip condition opened',
          );
        }
        return {
          analysisId: row.id,
          status: 'checked' as const,
          decision: decision.decision,
          rule: decision.rule,
          action,
          crisis: decision.crisis,
        };
      }),
    );
  }
  return results;
}

/**
 * When an operator last acted on a user's slip state: released a condition (release, or an override
 * closing it) or set one by hand. The live check and the replay start the window after it.
 */
export async function lastOperatorAction(db: Kysely<Database>, userId: string): Promise<Date | null> {
  // Postgres keeps microseconds and a Date milliseconds: round up, so the action's own row (an
  // override's triggered_at) is never "after" it.
  const row = await sql<{ ms: number | null }>`
    select ceil(extract(epoch from greatest(
      max(released_at) filter (where released_by is not null),
      max(triggered_at) filter (where source = 'operator'))) * 1000)::float8 as ms
    from admin.slip_conditions where user_id = ${userId}`.execute(db);
  const ms = row.rows[0]?.ms;
  return ms === null || ms === undefined ? null : new Date(ms);
}

/**
 * Ends every condition whose time is up; a slipped user is told the AI reading is back. Exactly once:
 * each batch is one UPDATE over the due rows it could lock (SKIP LOCKED: two workers share the work)
 * and one fan-out per distinct release message (a per-user override can word it differently), keyed
 * per slip so a retried batch tells nobody twice.
 */
export async function releaseDueSlips(deps: SlipDeps, batchSize = 500): Promise<number> {
  let released = 0;
  for (;;) {
    const done = await deps.db.transaction().execute(async (trx) => {
      const ended = await trx
        .with('due', (db) =>
          db
            .selectFrom('admin.slip_conditions')
            .select('id')
            .where('released_at', 'is', null)
            .where('duration', 'is not', null)
            .where(sql<boolean>`triggered_at + duration <= now()`)
            .orderBy('triggered_at')
            .limit(batchSize)
            .forUpdate()
            .skipLocked(),
        )
        .updateTable('admin.slip_conditions as s')
        .from('due')
        .set({ released_at: sql<Date>`now()`, release_reason: 'time elapsed' })
        .whereRef('s.id', '=', 'due.id')
        .returning(['s.id', 's.user_id', 's.status'])
        .execute();
      const byMessage = new Map<string, { message: UserMessage; recipients: KeyedRecipient[] }>();
      for (const c of ended) {
        if (c.status !== 'slipped') continue;
        const { slip } = (await deps.resolver.resolve({ userId: c.user_id })).configs;
        const message = slipMessage(slip, 'released');
        const wording = JSON.stringify(message);
        const group = byMessage.get(wording) ?? { message, recipients: [] };
        group.recipients.push({ userId: c.user_id, dedupeKey: `slip:${c.id}:released` });
        byMessage.set(wording, group);
      }
      for (const { message, recipients } of byMessage.values()) {
        await notifyAll(trx, { recipients }, { kind: 'slip', message });
      }
      return ended.length;
    });
    released += done;
    if (done < batchSize) return released;
  }
}
