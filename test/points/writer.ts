/**
 * One writer process of the points concurrency test: `writer.ts <url> <user> <actor json> <ops> <seed>`.
 * Runs <ops> grants and deductions on one user through `adjustPoints` (each with its audit row),
 * 8 at a time on its own pool (four processes: 32 connections, a third of a default PostgreSQL's 100,
 * shared with the rest of the suite), and prints {"granted":…,"deducted":…,"refused":…,"entries":[ids]}.
 */
import { randomUUID } from 'node:crypto';
import { createDb } from '../../src/db/connect.ts';
import { UsageError } from '../../src/errors.ts';
import { adjustPoints } from '../../src/points/index.ts';

const [url, userId, actorJson, opsText, seedText] = process.argv.slice(2);
const LANES = 8;
const db = createDb(url!, { max: LANES, applicationName: 'sumda-points-writer' });
const actor = JSON.parse(actorJson!);
const ops = Number(opsText);
let seed = Number(seedText);
const random = () => {
  // mulberry32: deterministic per process
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const result = { granted: 0, deducted: 0, refused: 0, sum: 0, entries: [] as number[] };
let next = 0;
async function lane() {
  while (next < ops) {
    const i = next++;
    const amount = 1 + Math.floor(random() * 20);
    const deduct = random() < 0.45;
    try {
      const r = await adjustPoints(
        db,
        { actor, requestId: randomUUID(), command: 'points writer' },
        {
          userId: userId!,
          delta: deduct ? -amount : amount,
          reason: deduct ? 'purchase' : 'reward',
          refType: 'admin',
          refId: `${seedText}-${i}`,
        },
      );
      result.entries.push(r.entry.id);
      result.sum += r.entry.delta;
      if (deduct) result.deducted += 1;
      else result.granted += 1;
    } catch (error) {
      if (error instanceof UsageError && /balance is/.test(error.message)) result.refused += 1;
      else throw error;
    }
  }
}
await Promise.all(Array.from({ length: LANES }, lane));
await db.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
