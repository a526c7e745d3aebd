/**
 * admin.error_logs: failures operators should see, by service and the id they concern (a diary,
 * a payment, a job). Messages come from sumda's own errors, which never contain diary text; the
 * context holds ids, queue names, outcomes and versions — nothing a user wrote.
 */
import type { Kysely } from 'kysely';
import type { Database, ErrorLogsTable } from './db/types.ts';
import { isUuid } from './util/uuid.ts';

/** error_logs.service and .severity: the CHECK constraints' values, from the generated types. */
export type ErrorService = ErrorLogsTable['service'];
export type ErrorSeverity = ErrorLogsTable['severity'];

export interface ErrorRecord {
  service: ErrorService;
  severity?: ErrorSeverity;
  refId?: string | null;
  message: string;
  stack?: string | null;
  context?: Record<string, unknown>;
}

export async function recordError(db: Kysely<Database>, record: ErrorRecord): Promise<void> {
  await db
    .insertInto('admin.error_logs')
    .values({
      service: record.service,
      severity: record.severity ?? 'error',
      ref_id: record.refId && isUuid(record.refId) ? record.refId : null,
      message: record.message.slice(0, 2000),
      stack: record.stack?.slice(0, 8000) ?? null,
      context: JSON.stringify(record.context ?? {}),
    })
    .execute();
}
