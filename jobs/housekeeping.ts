/** housekeeping (hourly): stamp expired overrides, trim old budget windows. Correctness never depends on it. */
import { markExpiredOverrides } from '../src/policy/overrides.ts';
import { trimBudgets } from '../src/queue/budget.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { defineHandler } from './context.ts';

export const housekeeping = defineHandler(QUEUES.housekeeping, (ctx) => async (jobs) => {
  const expired = await markExpiredOverrides(ctx.db);
  const trimmed = await trimBudgets(ctx.db);
  if (expired > 0) ctx.resolver.invalidate();
  return jobs.map((j) => ({
    id: j.id,
    status: 'completed' as const,
    output: { overridesExpired: expired, budgetWindowsTrimmed: trimmed },
  }));
});
