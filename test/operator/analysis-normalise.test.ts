/**
 * Issue 14: an answer valid under the schema sumda itself sends is not thrown away. Repeated tags
 * and keywords (the schema cannot forbid them) are kept once; boundary values and empty optional
 * arrays pass; what cannot be normalised (too few distinct keywords, two questions) still fails.
 */
import { describe, expect, it } from 'vitest';
import { parseAnalysis } from '../../src/analysis/schema.ts';
import { goodAnswer } from '../support/analysis.ts';

describe('schema-valid but unusual answers', () => {
  it('repeated ethics and context tags are kept once, in order', () => {
    const parsed = parseAnalysis(
      goodAnswer({ ethics_tags: ['self_harm', 'self_harm'], context_tags: ['loss', 'loss', 'anxiety'] }),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.ethics_tags).toEqual(['self_harm']);
    expect(parsed.value.context_tags).toEqual(['loss', 'anxiety']);
  });

  it('a repeated keyword is dropped while three distinct ones remain; fewer is a problem', () => {
    const ok = parseAnalysis(goodAnswer({ keywords: ['산책', '바람', '산책', '커피'] }));
    expect(ok.ok && ok.value.keywords).toEqual(['산책', '바람', '커피']);
    const few = parseAnalysis(goodAnswer({ keywords: ['산책', '산책', '바람'] }));
    expect(few).toEqual({ ok: false, problems: ['keywords must be at least 3 distinct words'] });
  });

  it('boundary values and empty optional arrays are accepted as they are', () => {
    const edge = goodAnswer({ tier_a: 0.1, tier_m: 4, valence: -1, context_tags: [], ethics_tags: [] });
    const parsed = parseAnalysis(edge);
    expect(parsed).toEqual({ ok: true, value: edge });
  });
});
