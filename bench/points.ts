/**
 * The points ledger under contention: 1,000 concurrent grants and deductions on ONE user through
 * `adjustPoints` (role check, per-user lock in the insert trigger, audit row, one transaction each),
 * 16 at a time on 16 connections, vs. the same 1,000 rows inserted with the same concurrency into a
 * plain table with no lock, no trigger and no audit — the price of an exact, audited chain. After
 * each run the chain is re-checked (`auditLedger`): it must hold.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { bootstrapAdmin } from '../src/admins/index.ts';
import { createDb } from '../src/db/connect.ts';
import { UsageError } from '../src/errors.ts';
import { adjustPoints, auditLedger } from '../src/points/index.ts';
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

const OPS = Number(process.env.BENCH_POINTS_OPS) || 1000;
const LANES = 16;

async function lanes(fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (next < OPS) await fn(next++);
    }),
  );
}

export async function runPoints(bench: Bench): Promise<Summary> {
  const scratch = await scratchDatabase(bench, 'points', { migrated: true });
  const db = createDb(scratch.url, { max: LANES });
  try {
    const lead = await bootstrapAdmin(
      db,
      { actor: null, requestId: randomUUID(), command: 'bench' },
      {
        email: 'bench@sumda.test',
      },
    );
    const actor = { id: lead.id, email: lead.email, role: 'admin' as const };
    await sql`create table public.bench_plain (id bigint generated always as identity primary key,
              user_id uuid not null, delta bigint not null, created_at timestamptz not null default now())`.execute(
      db,
    );
    const ledger: number[] = [];
    const plain: number[] = [];
    let intact = true;
    let refused = 0;
    for (let r = 0; r < runs(); r++) {
      const user = await sql<{
        id: string;
      }>`insert into public.users (nickname) values ('bench') returning id`.execute(db);
      const userId = user.rows[0]!.id;
      progress(`run ${r + 1}: ${OPS} concurrent grants/deductions on one user, and ${OPS} plain inserts`);
      const order = r % 2 === 0 ? (['ledger', 'plain'] as const) : (['plain', 'ledger'] as const);
      for (const which of order) {
        if (which === 'plain') {
          plain.push(
            (
              await timed(() =>
                lanes(async (i) => {
                  await sql`insert into public.bench_plain (user_id, delta) values (${userId}, ${i % 2 ? -5 : 7})`.execute(
                    db,
                  );
                }),
              )
            ).ms,
          );
        } else {
          ledger.push(
            (
              await timed(() =>
                lanes(async (i) => {
                  try {
                    await adjustPoints(
                      db,
                      { actor, requestId: randomUUID(), command: 'bench points' },
                      { userId, delta: i % 2 ? -5 : 7, reason: i % 2 ? 'purchase' : 'reward' },
                    );
                  } catch (error) {
                    if (error instanceof UsageError) refused += 1;
                    else throw error;
                  }
                }),
              )
            ).ms,
          );
          intact &&= (await auditLedger(db, { userId })).breaks.length === 0;
        }
      }
    }
    const l = median(ledger);
    const p = median(plain);
    return {
      name: 'points: one user under contention',
      figures: [
        {
          label: `${num(OPS)} concurrent grants/deductions on one user (median)`,
          value: `${num(l)} ms (${num(rate(OPS, l))} ops/s), chain ${intact ? 'intact' : 'BROKEN'}, ${num(refused)} refused as below zero`,
          ratio: l / p,
          against: 'plain inserts, no lock/trigger/audit',
          headline: true,
        },
        { label: 'plain concurrent inserts (median)', value: `${num(p)} ms (${num(rate(OPS, p))} rows/s)` },
      ],
    };
  } finally {
    await db.destroy();
    await scratch.drop();
  }
}

if (import.meta.main) await runStandalone(runPoints);
