/**
 * Operator-driven (re-)analysis of a range: count first, then enqueue in keyset pages (one
 * transaction with the audit row), idempotently —
 * an entry that already has a result under the prompt is not enqueued, and a job already waiting
 * for the same (entry, prompt) is not duplicated (the queue's singleton policy).
 */
import type { Kysely } from 'kysely';
import type { PgBoss } from 'pg-boss';
import { authorize } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { InterruptedError } from '../errors.ts';
import { QUERIES } from '../queue/plans.ts';
import { type ActivePrompt, countUnanalysed, enqueueAnalyses, findUnanalysed } from './run.ts';

export { countUnanalysed };

export interface EnqueueRange {
  since?: Date;
  until?: Date;
  userId?: string;
  prompt: ActivePrompt;
}

const PAGE = 5000;

/**
 * Enqueues every unanalysed entry of the range and writes the audit row, all in one transaction:
 * the jobs exist only if the audit row does. Stopped by `signal` (Ctrl-C) between pages, it rolls
 * back — nothing is enqueued — and throws InterruptedError (exit 130).
 */
export async function enqueueRange(
  db: Kysely<Database>,
  boss: PgBoss,
  op: Operation,
  range: EnqueueRange,
  options: { onProgress?: (done: number) => void; signal?: AbortSignal } = {},
): Promise<{ enqueued: number; alreadyQueued: number }> {
  await authorize(db, op, 'analysis.enqueue');
  const result = await db.transaction().execute(async (trx) => {
    let after: { created_at: Date; id: string } | undefined;
    let enqueued = 0;
    let considered = 0;
    for (;;) {
      if (options.signal?.aborted) throw new InterruptedError('interrupted: nothing was enqueued');
      const page = await findUnanalysed(trx, { ...range, skipFailed: false, limit: PAGE, after });
      if (page.length === 0) break;
      enqueued += await enqueueAnalyses(
        boss,
        page.map((p) => p.id),
        range.prompt,
        op.requestId,
        trx,
      );
      considered += page.length;
      options.onProgress?.(considered);
      after = page.at(-1);
    }
    await writeAudit(trx, op, {
      action: 'analysis.enqueue',
      targetType: 'prompt',
      targetId: `${range.prompt.promptName}:${range.prompt.promptVersion}`,
      after: {
        enqueued,
        already_queued: considered - enqueued,
        since: range.since?.toISOString() ?? null,
        until: range.until?.toISOString() ?? null,
        user_id: range.userId ?? null,
      },
    });
    return { enqueued, alreadyQueued: considered - enqueued };
  });
  // Fresh statistics for the job table after a bulk insert (planner estimates made on an empty table mislead).
  if (result.enqueued > 10_000) await QUERIES.analyzeJobs().execute(db);
  return result;
}
