/**
 * The seed's diary corpus: how fast `generateDiary` writes entries, against sealing the same texts
 * (AES-256-GCM, the other per-entry cost of `sumda seed`) measured in the same run. A ratio below 1
 * means the corpus costs less than the encryption every seeded entry needs anyway.
 */
import { randomBytes } from 'node:crypto';
import { createKeyring, seal } from '../src/crypto/index.ts';
import { createRng, generateDiary } from '../src/seed/corpus.ts';
import { type Bench, median, num, progress, rate, runStandalone, runs, type Summary } from './support.ts';

const ENTRIES = Number(process.env.BENCH_CORPUS_ENTRIES) || 200_000;

export async function runCorpus(_bench: Bench): Promise<Summary> {
  const keyring = createKeyring([{ id: 'bench', key: randomBytes(32) }]);
  const rng = createRng(1);
  // Warm both paths before timing.
  for (let i = 0; i < 20_000; i++) seal(keyring, generateDiary(rng, { dayIndex: i % 90 }).body, 'u');
  const generateMs: number[] = [];
  const sealMs: number[] = [];
  let chars = 0;
  for (let r = 0; r < runs(); r++) {
    progress(`corpus run ${r + 1}: generating and sealing ${num(ENTRIES)} entries`);
    const bodies: string[] = new Array(ENTRIES);
    let started = performance.now();
    for (let i = 0; i < ENTRIES; i++) bodies[i] = generateDiary(rng, { dayIndex: i % 90 }).body;
    generateMs.push(performance.now() - started);
    chars = bodies.reduce((s, b) => s + b.length, 0);
    started = performance.now();
    for (let i = 0; i < ENTRIES; i++) seal(keyring, bodies[i]!, 'user');
    sealMs.push(performance.now() - started);
  }
  const gen = median(generateMs);
  const enc = median(sealMs);
  const genRate = rate(ENTRIES, gen);
  return {
    name: 'corpus: synthetic diary generation',
    figures: [
      {
        label: 'corpus: entries generated/s (median)',
        value: `${num(genRate)} entries/s (avg ${num(chars / ENTRIES)} chars); 900,000 entries ≈ ${num(900_000 / genRate, 1)} s`,
        ratio: gen / enc,
        against: 'sealing the same entries',
        headline: true,
      },
      {
        label: 'seal (AES-256-GCM) of the same entries (median)',
        value: `${num(rate(ENTRIES, enc))} entries/s`,
      },
    ],
  };
}

if (import.meta.main) await runStandalone(runCorpus);
