/**
 * report.scheduled (daily 00:10 Asia/Seoul): starts the builds of the periods that ended at the
 * last midnight — yesterday's daily reports; on Mondays last week's; on the 1st last month's; on
 * 1 January last year's — each as a recorded run (origin `schedule`, executed by report.backfill
 * chunks). A period's scheduled run is created once, however many ticks arrive.
 */
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { periodsEndingBefore, startScheduledBuild } from '../src/reports/backfill.ts';
import { seoulDate } from '../src/time/calendar.ts';
import { defineHandler } from './context.ts';

export const reportScheduled = defineHandler(QUEUES.reportScheduled, (ctx) => async (jobs) => {
  const outcomes: JobOutcome[] = [];
  for (const { id, data } of jobs) {
    const date = data.date ?? seoulDate(new Date());
    const started: { type: string; period: string; run: number | null }[] = [];
    for (const period of periodsEndingBefore(date)) {
      const run = await startScheduledBuild(ctx.db, ctx.boss, period, data.requestId ?? id);
      started.push({ type: period.type, period: period.startDate, run: run?.id ?? null });
    }
    ctx.log.info({ queue: QUEUES.reportScheduled.name, jobId: id, date, started }, 'scheduled report builds');
    outcomes.push({ id, status: 'completed', output: { date, started } });
  }
  return outcomes;
});
