/**
 * The synthetic diary corpus used by `sumda seed`: reproducible, varied, distributed as declared,
 * and read sensibly by the offline analyzer (which keeps the two halves honest with each other).
 * Its speed is measured in bench/corpus.ts.
 */
import { describe, expect, it } from 'vitest';
import { analyzeOffline } from '../../src/analysis/offline/analyzer.ts';
import {
  createRng,
  drawMood,
  generateDiary,
  josa,
  KOREAN_SHARE,
  MOOD_DISTRIBUTION,
  MOODS,
  type MoodKind,
  TITLE_SHARE,
} from '../../src/seed/corpus.ts';

/** Sentences as a reader counts them: split after . ! ? and at line breaks. */
const sentenceCount = (body: string): number =>
  body.split(/(?<=[.!?])\s+|\n/).filter((s) => s.trim() !== '').length;

describe('createRng', () => {
  it('is reproducible for a seed and differs between seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(seqA);
  });

  it('draws within bounds and roughly uniformly', () => {
    const rng = createRng(1);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = rng.int(10);
      buckets[k] = (buckets[k] as number) + 1;
    }
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (rng.chance(0.3)) hits++;
    expect(Math.abs(hits / 100_000 - 0.3)).toBeLessThan(0.01);
    const items = ['a', 'b', 'c'] as const;
    for (let i = 0; i < 100; i++) expect(items).toContain(rng.pick(items));
  });
});

describe('josa', () => {
  it('picks the particle that fits the last syllable', () => {
    expect(josa('커피', '을')).toBe('를');
    expect(josa('김밥', '을')).toBe('을');
    expect(josa('엄마', '이')).toBe('가');
    expect(josa('동생', '이')).toBe('이');
    expect(josa('친구', '과')).toBe('와');
    expect(josa('집', '으로')).toBe('으로');
    expect(josa('지하철', '으로')).toBe('로'); // ㄹ takes 로
    expect(josa('민지', '이랑')).toBe('랑');
    expect(josa('지훈', '이랑')).toBe('이랑');
  });
});

describe('generateDiary', () => {
  it('is deterministic for a given seed', () => {
    const run = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 500 }, (_, day) => generateDiary(rng, { dayIndex: day % 90 }));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('honours a fixed mood and language', () => {
    const rng = createRng(3);
    for (const mood of MOODS) {
      const d = generateDiary(rng, { dayIndex: 0, mood, lang: 'en' });
      expect(d.mood).toBe(mood);
      expect(d.body).not.toMatch(/[가-힣]/);
      expect(generateDiary(rng, { dayIndex: 0, mood, lang: 'ko' }).body).toMatch(/[가-힣]/);
    }
  });

  it('is varied: at least 95% of 10,000 bodies are distinct', () => {
    const rng = createRng(2024);
    const bodies = new Set<string>();
    for (let i = 0; i < 10_000; i++) bodies.add(generateDiary(rng, { dayIndex: i % 90 }).body);
    console.log(`corpus: ${bodies.size.toLocaleString('en')} distinct bodies out of 10,000`);
    expect(bodies.size).toBeGreaterThanOrEqual(9_500);
  });

  it('writes well-formed entries: 2–7 sentences, filled slots, optional titles', () => {
    const rng = createRng(99);
    for (let i = 0; i < 20_000; i++) {
      const d = generateDiary(rng, { dayIndex: i % 90 });
      const n = sentenceCount(d.body);
      expect(n, d.body).toBeGreaterThanOrEqual(2);
      expect(n, d.body).toBeLessThanOrEqual(7);
      expect(d.body).not.toMatch(/[{}]|undefined|을를|를을| {2}/);
      if (d.title !== null) {
        expect(d.title.length).toBeGreaterThan(0);
        expect(d.title).not.toMatch(/[{}]|undefined/);
      }
    }
  });

  it('draws moods, languages and titles in the declared proportions', () => {
    const rng = createRng(11);
    const n = 100_000;
    const moods = new Map<MoodKind, number>();
    let korean = 0;
    let titled = 0;
    for (let i = 0; i < n; i++) {
      const d = generateDiary(rng, { dayIndex: i % 90 });
      moods.set(d.mood, (moods.get(d.mood) ?? 0) + 1);
      if (/[가-힣]/.test(d.body)) korean++;
      if (d.title !== null) titled++;
    }
    const mix = MOODS.map((m) => `${m} ${(((moods.get(m) ?? 0) / n) * 100).toFixed(2)}%`).join(', ');
    console.log(`corpus mood mix over ${n.toLocaleString('en')} entries: ${mix}`);
    for (const mood of MOODS) {
      const share = (moods.get(mood) ?? 0) / n;
      const expected = MOOD_DISTRIBUTION[mood];
      // about four standard deviations of a binomial share
      expect(Math.abs(share - expected), mood).toBeLessThan(
        4 * Math.sqrt((expected * (1 - expected)) / n) + 1e-4,
      );
    }
    expect(Math.abs(korean / n - KOREAN_SHARE)).toBeLessThan(0.005);
    expect(Math.abs(titled / n - TITLE_SHARE)).toBeLessThan(0.01);
    const total = MOODS.reduce((sum, m) => sum + MOOD_DISTRIBUTION[m], 0);
    expect(total).toBeCloseTo(1, 10);
    expect(drawMood(createRng(5))).toBe(drawMood(createRng(5)));
  });

  it('never puts methods into self-harm texts', () => {
    const rng = createRng(5);
    for (let i = 0; i < 2_000; i++) {
      const d = generateDiary(rng, { dayIndex: i, mood: 'self_harm', lang: i % 4 === 0 ? 'en' : 'ko' });
      expect(d.body).not.toMatch(
        /방법|약을|수면제|뛰어내|옥상|목을|번개탄|칼|유서|pills|rope|jump|knife|bridge|overdose|plan/i,
      );
    }
  });
});

describe('corpus read by the offline analyzer', () => {
  const PER_MOOD = 1_000;
  const sample = (mood: MoodKind) => {
    const rng = createRng(MOODS.indexOf(mood) + 1000);
    return Array.from({ length: PER_MOOD }, (_, i) =>
      analyzeOffline(generateDiary(rng, { dayIndex: i, mood }).body),
    );
  };
  const share = (
    outputs: ReturnType<typeof analyzeOffline>[],
    test: (o: ReturnType<typeof analyzeOffline>) => boolean,
  ) => outputs.filter(test).length / outputs.length;
  const results = new Map(MOODS.map((m) => [m, sample(m)] as const));
  const get = (m: MoodKind) => results.get(m) ?? [];

  it('orders the moods by how they read: valence and intensity on average', () => {
    const mean = (mood: MoodKind, f: (x: ReturnType<typeof analyzeOffline>) => number) =>
      get(mood).reduce((s, x) => s + f(x), 0) / get(mood).length;
    const valence = (m: MoodKind) => mean(m, (x) => x.valence);
    const intensity = (m: MoodKind) => mean(m, (x) => x.tier_a);
    expect(valence('high_positive')).toBeGreaterThan(0);
    expect(valence('positive')).toBeGreaterThan(valence('calm'));
    expect(valence('calm')).toBeGreaterThan(valence('negative'));
    for (const dark of ['negative', 'high_negative', 'anxious', 'self_harm'] as const) {
      expect(valence(dark), dark).toBeLessThan(0);
    }
    for (const strong of ['high_positive', 'high_negative', 'self_harm'] as const) {
      expect(intensity(strong), strong).toBeGreaterThan(intensity('calm'));
    }
  });

  it('reads high_positive entries as intense and healthy', () => {
    expect(share(get('high_positive'), (o) => o.valence > 0 && o.tier_a >= 2.5)).toBeGreaterThanOrEqual(0.95);
    expect(share(get('high_positive'), (o) => o.ethics_tags.length === 0)).toBe(1);
  });

  it('tags every self_harm entry and no other', () => {
    expect(share(get('self_harm'), (o) => o.ethics_tags.includes('self_harm'))).toBe(1);
    for (const mood of MOODS.filter((m) => m !== 'self_harm')) {
      expect(
        share(get(mood), (o) => o.ethics_tags.includes('self_harm')),
        mood,
      ).toBe(0);
    }
  });

  it('puts valence on the right side of zero', () => {
    expect(share(get('positive'), (o) => o.valence > 0)).toBeGreaterThanOrEqual(0.95);
    expect(share(get('negative'), (o) => o.valence < 0)).toBeGreaterThanOrEqual(0.9);
    expect(share(get('anxious'), (o) => o.valence < 0)).toBeGreaterThanOrEqual(0.95);
    expect(share(get('high_negative'), (o) => o.valence < 0 && o.tier_a >= 2.5)).toBeGreaterThanOrEqual(0.9);
  });

  it('keeps calm days ordinary', () => {
    expect(share(get('calm'), (o) => o.tier_a < 2)).toBeGreaterThanOrEqual(0.95);
    expect(share(get('calm'), (o) => Math.abs(o.valence) < 0.5)).toBeGreaterThanOrEqual(0.95);
  });
});
