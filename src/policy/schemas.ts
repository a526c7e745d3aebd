/**
 * The five AI policies, each with a zod schema for its config and a built-in default.
 * A published version is a complete, validated config (a snapshot); overrides change single key
 * paths on top of it. Glossary:
 * - ethics: which risk tags send an entry to the moderation queue or the crisis flow, and the crisis resources shown.
 * - slip: when intensity becomes a gentle warning or a pause of the AI reading ("slip"), for how long, and what the user is told.
 * - tone / mode: how the AI speaks (voice, honorifics) and what it does (mirror, coach, listen).
 * - analysis: which prompt (name + version, from admin.prompt_registry) and model the analysis uses.
 */
import { z } from 'zod';
import { CONTEXT_TAGS, ETHICS_TAGS } from '../analysis/schema.ts';
import { durationMs, MAX_DURATION_DAYS } from '../time/grammar.ts';
import { isPolicyName, POLICY_NAMES, type PolicyName } from './names.ts';

export { isPolicyName, POLICY_NAMES, type PolicyName };

/** The most crisis resources an ethics policy may list. */
export const MAX_CRISIS_RESOURCES = 20;

const koreanText = (max: number) => z.string().min(1).max(max);
/** Policy durations use the one grammar (src/time/grammar.ts), at least a minute. */
const duration = z
  .string()
  .refine((d) => durationMs(d) !== null, `a duration like 24h, 3d or 1h30m (at most ${MAX_DURATION_DAYS}d)`)
  .refine((d) => (durationMs(d) ?? Number.POSITIVE_INFINITY) >= 60_000, 'at least one minute');

const crisisResource = z
  .object({
    name: koreanText(60),
    phone: z.string().regex(/^[0-9-]{3,15}$/, 'digits and dashes'),
    hours: koreanText(40),
    description: koreanText(200),
  })
  .strict();

const message = z.object({ title: koreanText(60), body: koreanText(600) }).strict();

export const ethicsSchema = z
  .object({
    /** Tags that put the entry in the moderation queue for an operator (never deleted automatically). */
    moderation_tags: z.array(z.enum(ETHICS_TAGS)).max(ETHICS_TAGS.length),
    /** Tags that route to the crisis flow, whatever the slip decision. */
    crisis_tags: z
      .array(z.enum(ETHICS_TAGS))
      .min(1, 'the crisis flow needs at least one tag')
      .max(ETHICS_TAGS.length),
    /** Replace the generated interpretation/question with the vetted template when a crisis tag is present. */
    replace_output_on_crisis: z.boolean(),
    // A handful in practice (109, 1577-0199, 1388, 112/119); a page of them helps nobody in crisis.
    crisis_resources: z
      .array(crisisResource)
      .min(1, 'crisis resources must never be empty')
      .max(MAX_CRISIS_RESOURCES, `at most ${MAX_CRISIS_RESOURCES} crisis resources`),
    crisis_message: message,
    /** The vetted text that replaces the AI's interpretation and question on crisis entries. */
    crisis_template: z
      .object({ interpretation: koreanText(600), reflection_question: koreanText(200) })
      .strict(),
  })
  .strict();

const threshold = z.number().min(0.1).max(4);

export const slipSchema = z
  .object({
    enabled: z.boolean(),
    /** A single entry at or above this tier_a is a "spike". */
    spike_tier_a: threshold,
    /** Spikes in the window that give a gentle warning. */
    warning_spikes: z.number().int().min(1).max(50),
    /** Spikes in the window that pause the AI reading. */
    slip_spikes: z.number().int().min(1).max(50),
    /** A single entry at or above this tier_a (and risky) slips at once. */
    immediate_tier_a: threshold,
    window_days: z.number().int().min(1).max(60),
    /** Healthy high intensity: at or above this valence with one of these context tags never counts as risky. */
    healthy_high: z
      .object({ min_valence: z.number().min(-1).max(1), context_tags: z.array(z.enum(CONTEXT_TAGS)) })
      .strict(),
    durations: z.object({ warning: duration, slipped: duration }).strict(),
    messages: z.object({ warning: message, slipped: message, released: message }).strict(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.slip_spikes < c.warning_spikes) {
      ctx.addIssue({
        code: 'custom',
        path: ['slip_spikes'],
        message: 'must be at least warning_spikes (warning comes first)',
      });
    }
    if (c.immediate_tier_a < c.spike_tier_a) {
      ctx.addIssue({ code: 'custom', path: ['immediate_tier_a'], message: 'must be at least spike_tier_a' });
    }
  });

export const toneSchema = z
  .object({
    voice: z.enum(['gentle', 'warm', 'calm', 'bright']),
    /** 해요체 (polite, friendly) or 합쇼체 (formal). */
    speech_level: z.enum(['haeyo', 'hapsyo']),
    emoji: z.boolean(),
    max_interpretation_chars: z.number().int().min(80).max(800),
  })
  .strict();

export const modeSchema = z
  .object({
    mode: z.enum(['mirror', 'coach', 'listener']),
    ask_reflection_question: z.boolean(),
  })
  .strict();

export const analysisPolicySchema = z
  .object({
    prompt_name: z.string().regex(/^[a-z0-9_.-]+$/),
    prompt_version: z.string().min(1).max(40),
    model: z.string().min(1).max(80),
    temperature: z.number().min(0).max(2),
    max_output_tokens: z.number().int().min(200).max(8000),
    /** At most one repair attempt after an invalid answer, then a recorded failure. */
    repair_attempts: z.number().int().min(0).max(1),
  })
  .strict();

export const POLICY_SCHEMAS = {
  ethics: ethicsSchema,
  slip: slipSchema,
  tone: toneSchema,
  mode: modeSchema,
  analysis: analysisPolicySchema,
} as const;

export type EthicsConfig = z.infer<typeof ethicsSchema>;
export type SlipConfig = z.infer<typeof slipSchema>;
export type ToneConfig = z.infer<typeof toneSchema>;
export type ModeConfig = z.infer<typeof modeSchema>;
export type AnalysisPolicyConfig = z.infer<typeof analysisPolicySchema>;
export interface PolicyConfigs {
  ethics: EthicsConfig;
  slip: SlipConfig;
  tone: ToneConfig;
  mode: ModeConfig;
  analysis: AnalysisPolicyConfig;
}

/** Korean crisis lines (reference/ai-policy-and-safety.md): 109 since 2024-01-01. */
const CRISIS_RESOURCES: EthicsConfig['crisis_resources'] = [
  {
    name: '자살예방상담전화',
    phone: '109',
    hours: '24시간',
    description: '누구에게도 말하기 어려운 마음을 들어 드려요.',
  },
  {
    name: '정신건강위기상담전화',
    phone: '1577-0199',
    hours: '24시간',
    description: '마음이 많이 힘들 때 전문 상담사와 이야기할 수 있어요.',
  },
  {
    name: '청소년상담전화',
    phone: '1388',
    hours: '24시간',
    description: '청소년이라면 언제든 전화나 문자로 도움을 받을 수 있어요.',
  },
  {
    name: '긴급신고',
    phone: '112',
    hours: '24시간',
    description: '지금 위험한 상황이라면 경찰(112)이나 119에 바로 연락해 주세요.',
  },
  {
    name: '119 구급',
    phone: '119',
    hours: '24시간',
    description: '몸이 다쳤거나 급히 도움이 필요하면 119로 연락해 주세요.',
  },
];

export const DEFAULT_POLICIES: PolicyConfigs = {
  ethics: {
    moderation_tags: ['violence', 'sexual_minors', 'illegal'],
    crisis_tags: ['self_harm', 'self_harm_intent'],
    replace_output_on_crisis: true,
    crisis_resources: CRISIS_RESOURCES,
    crisis_message: {
      title: '혼자 견디지 않아도 괜찮아요',
      body: '오늘 남겨 주신 마음이 많이 무거워 보여요. 지금 이야기를 들어 줄 사람이 있어요. 아래 번호로 언제든 연락해 주세요. 숨다는 당신의 글을 그대로 간직하고 있어요.',
    },
    crisis_template: {
      interpretation:
        '오늘은 정말 버티기 힘든 하루였던 것 같아요. 이런 마음을 글로 남겨 주셔서 고마워요. 지금 느끼는 감정은 혼자 감당하지 않아도 돼요. 믿을 수 있는 사람이나 상담 전화와 함께 나눠 보면 좋겠어요.',
      reflection_question: '지금 곁에서 잠시 이야기를 나눌 수 있는 사람은 누구인가요?',
    },
  },
  slip: {
    enabled: true,
    spike_tier_a: 3.2,
    warning_spikes: 2,
    slip_spikes: 3,
    immediate_tier_a: 3.8,
    window_days: 7,
    healthy_high: { min_valence: 0.3, context_tags: ['achievement', 'joy', 'focus', 'gratitude'] },
    durations: { warning: '24h', slipped: '24h' },
    messages: {
      warning: {
        title: '요즘 마음이 많이 바빴나 봐요',
        body: '최근 일기에 강한 감정이 자주 담겨 있었어요. 잠깐 숨을 고르며 쉬어 가도 괜찮아요. 일기 쓰기와 AI 읽기는 그대로 이용할 수 있어요.',
      },
      slipped: {
        title: 'AI 읽기를 잠시 쉬어 갈게요',
        body: '최근 일기에서 마음이 많이 지쳐 보여서, AI가 일기를 읽고 답하는 기능을 {duration} 동안 잠시 멈출게요. 일기는 지금처럼 언제든 쓰고 저장할 수 있어요. {until}에 자동으로 다시 시작되고, 궁금한 점이나 다시 검토를 원하시면 고객센터로 문의해 주세요.',
      },
      released: {
        title: 'AI 읽기를 다시 시작했어요',
        body: '쉬어 가는 시간이 끝났어요. 이제 다시 AI가 일기를 읽고 이야기를 건넬 수 있어요. 오늘 하루는 어땠나요?',
      },
    },
  },
  tone: { voice: 'gentle', speech_level: 'haeyo', emoji: false, max_interpretation_chars: 400 },
  mode: { mode: 'mirror', ask_reflection_question: true },
  analysis: {
    prompt_name: 'analysis',
    prompt_version: 'builtin-1',
    model: 'gpt-4o-mini',
    temperature: 0.4,
    max_output_tokens: 1200,
    repair_attempts: 1,
  },
};

/** Every problem with a config, as `path: message` lines (empty = valid). */
export function configProblems(name: PolicyName, config: unknown): string[] {
  const result = POLICY_SCHEMAS[name].safeParse(config);
  if (result.success) return [];
  return result.error.issues.map((i) => `${[name, ...i.path].join('.')}: ${i.message}`);
}
