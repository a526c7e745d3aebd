/**
 * The notifications fan-out: `notifyAll` to 100,000 active users (segment `everyone`, with a dedupe
 * key, as an announcement is published) vs. one hand-written `INSERT … SELECT` of the same rows —
 * same columns, same ON CONFLICT — in the same run, alternating which goes first. Goal (issue 13):
 * within 1.5× of the hand-written statement. Also timed: publishing again (every recipient already
 * has the key, so nothing is written).
 */
import { sql } from 'kysely';
import { createDb } from '../src/db/connect.ts';
import { notifyAll } from '../src/notifications/index.ts';
import {
  type Bench,
  median,
  num,
  progress,
  rate,
  runStandalone,
  runs,
  type Summary,
  scratchDatabase,
  timed,
} from './support.ts';

const RECIPIENTS = Number(process.env.BENCH_FANOUT_USERS) || 100_000;
const GOAL = 1.5;
const message = {
  title: '서비스 점검 안내',
  body: '12월 3일 새벽 2시부터 30분 동안 점검이 있어요. 그동안 일기 저장이 잠시 멈춰요.',
};

export async function runNotifications(bench: Bench): Promise<Summary> {
  const scratch = await scratchDatabase(bench, 'fanout', { migrated: true });
  const db = createDb(scratch.url, { max: 2 });
  try {
    progress(`creating ${num(RECIPIENTS)} users`);
    await sql`insert into public.users (nickname, state)
      select 'bench-' || g, case when g % 50 = 0 then 'resigned' else 'active' end
      from generate_series(1, ${Math.ceil(RECIPIENTS / 0.98)}) g`.execute(db);
    await sql`analyze public.users`.execute(db);
    const reset = () => sql`truncate public.notifications`.execute(db);
    const handWritten = (key: string) =>
      sql`insert into public.notifications (user_id, type, title, message, dedupe_key, created_at, visible_from)
        select u.id, 'notice', ${message.title}, ${message.body}, ${key}, now(), now()
        from public.users u where u.state = 'active'
        on conflict (user_id, dedupe_key) where dedupe_key is not null do nothing`.execute(db);
    const fanOut = (key: string) =>
      notifyAll(db, { segment: 'everyone' }, { kind: 'notice', message, dedupeKey: key });

    const base: number[] = [];
    const module: number[] = [];
    const again: number[] = [];
    let written = 0;
    for (let r = 0; r < runs(); r++) {
      progress(`run ${r + 1}: fan-out to ${num(RECIPIENTS)} users, and the hand-written INSERT … SELECT`);
      const order = r % 2 === 0 ? (['module', 'base'] as const) : (['base', 'module'] as const);
      for (const which of order) {
        await reset();
        await sql`checkpoint`.execute(db);
        if (which === 'base') {
          base.push((await timed(() => handWritten(`bench:${r}`))).ms);
        } else {
          const { ms, value } = await timed(() => fanOut(`bench:${r}`));
          module.push(ms);
          written = value;
          again.push((await timed(() => fanOut(`bench:${r}`))).ms);
        }
      }
    }
    const m = median(module);
    const b = median(base);
    return {
      name: 'notifications: fan-out',
      figures: [
        {
          label: `notifyAll to ${num(written)} recipients (median)`,
          value: `${num(m)} ms (${num(rate(written, m))} rows/s)`,
          ratio: m / b,
          against: 'hand-written INSERT … SELECT',
          goal: `≤ ${GOAL}×`,
          met: m / b <= GOAL,
          headline: true,
        },
        { label: 'hand-written INSERT … SELECT (median)', value: `${num(b)} ms` },
        { label: 'publishing again: nothing written (median)', value: `${num(median(again))} ms` },
      ],
    };
  } finally {
    await db.destroy();
    await scratch.drop();
  }
}

if (import.meta.main) await runStandalone(runNotifications);
