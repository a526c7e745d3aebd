import type { PgBoss } from 'pg-boss';
import { ALL_QUEUES, findQueue, SCHEDULE_TZ } from '../queue/catalog.ts';

export interface ScheduleInfo {
  queue: string;
  key: string;
  cron: string;
  timezone: string;
  description: string | null;
  nextRuns: Date[];
  /** How the installed schedule compares with the catalog. */
  status: 'ok' | 'differs from catalog' | 'not in catalog' | 'not installed';
  catalogCron: string | null;
  lastJobId: string | null;
}

/** pg-boss's installed schedules with their next runs (in their own time zone), beside the catalog's. */
export async function listSchedules(boss: PgBoss, options: { count?: number; from?: Date } = {}) {
  const from = options.from ?? new Date();
  const count = options.count ?? 3;
  const installed = await boss.getSchedules();
  const rows: ScheduleInfo[] = installed.map((s) => {
    const def = findQueue(s.name);
    const catalogCron = def?.name === s.name && def.schedule ? def.schedule.cron : null;
    const status: ScheduleInfo['status'] = !catalogCron
      ? 'not in catalog'
      : catalogCron === s.cron && s.timezone === SCHEDULE_TZ
        ? 'ok'
        : 'differs from catalog';
    return {
      queue: s.name,
      key: s.key,
      cron: s.cron,
      timezone: s.timezone,
      description: def?.description ?? null,
      nextRuns: boss.previewSchedule(s.cron, { tz: s.timezone, count, from }),
      status,
      catalogCron,
      lastJobId: s.lastJobId,
    };
  });
  for (const def of ALL_QUEUES) {
    if (!def.schedule || installed.some((s) => s.name === def.name)) continue;
    rows.push({
      queue: def.name,
      key: '',
      cron: def.schedule.cron,
      timezone: SCHEDULE_TZ,
      description: def.description,
      nextRuns: [],
      status: 'not installed',
      catalogCron: def.schedule.cron,
      lastJobId: null,
    });
  }
  return rows;
}
