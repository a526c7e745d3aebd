/**
 * The prompt registry (admin.prompt_registry): immutable, versioned templates. Which prompt the
 * analysis uses is named by the active `analysis` policy, so prompts deploy through the same
 * pointer as every other policy. Templates use `{{placeholder}}`; only known placeholders are
 * accepted, and analysis prompts must include the diary text.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import type { Operation } from '../audit/index.ts';
import { writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { IntegrityError, NotFoundError, PgCode, pgCode, UsageError } from '../errors.ts';
import { BUILTIN_ANALYSIS_PROMPT } from './builtin.ts';
import { promptHash } from './hash.ts';

/** Every placeholder a template may use, and what fills it. */
export const PLACEHOLDERS = {
  diary_text: 'the decrypted diary entry (sent to the model only, never stored or logged)',
  language: 'ko or en, detected from the entry',
  tone_voice: 'tone policy: gentle | warm | calm | bright',
  speech_level: 'tone policy: haeyo (해요체) | hapsyo (합쇼체)',
  emoji: 'tone policy: true | false',
  max_interpretation_chars: 'tone policy: length limit of the interpretation',
  mode: 'mode policy: mirror | coach | listener',
  ask_reflection_question: 'mode policy: true | false',
  today: 'the entry date in Asia/Seoul, YYYY-MM-DD',
  schema_version: 'the analysis output schema version',
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

const TOKEN = /\{\{\s*([a-zA-Z0-9_]+)\s*\}\}/g;
const NAME = /^[a-z0-9_.-]+$/;

export function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(TOKEN)].map((m) => m[1]!))];
}

export function templateProblems(name: string, template: string): string[] {
  const problems: string[] = [];
  if (!template.trim()) problems.push('the template is empty');
  const stripped = template.replace(TOKEN, '');
  if (stripped.includes('{{') || stripped.includes('}}')) problems.push('unbalanced {{ }} in the template');
  for (const p of placeholdersOf(template)) {
    if (!(p in PLACEHOLDERS))
      problems.push(`unknown placeholder {{${p}}} (known: ${Object.keys(PLACEHOLDERS).join(', ')})`);
  }
  if (name.startsWith('analysis') && !placeholdersOf(template).includes('diary_text')) {
    problems.push('an analysis prompt must include {{diary_text}}');
  }
  return problems;
}

export function renderTemplate(
  template: string,
  values: Partial<Record<Placeholder, string | number | boolean>>,
): string {
  return template.replace(TOKEN, (_all, key: string) => {
    const value = values[key as Placeholder];
    if (value === undefined) throw new Error(`no value for placeholder {{${key}}}`);
    return String(value);
  });
}

export interface RegisterInput {
  name: string;
  version: string;
  model: string;
  template: string;
  params: Record<string, unknown>;
}

export async function registerPrompt(db: Kysely<Database>, op: Operation, input: RegisterInput) {
  if (!NAME.test(input.name))
    throw new UsageError(`prompt name ${JSON.stringify(input.name)}: use a-z, 0-9, _ . -`);
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(input.version))
    throw new UsageError(`--version ${input.version}: 1-40 of A-Z a-z 0-9 _ . -`);
  const problems = templateProblems(input.name, input.template);
  if (problems.length > 0) throw new UsageError(`invalid template: ${problems.join('; ')}`);
  const hash = promptHash(input.model, input.template, input.params);
  return mutate(db, op, 'prompt.register', async (trx, op) => {
    try {
      const row = await trx
        .insertInto('admin.prompt_registry')
        .values({
          name: input.name,
          version: input.version,
          model: input.model,
          template: input.template,
          metadata: JSON.stringify({ params: input.params, placeholders: placeholdersOf(input.template) }),
          content_hash: hash,
          created_by: op.actor.id,
        })
        .returning(['id', 'created_at'])
        .executeTakeFirstOrThrow();
      await writeAudit(trx, op, {
        action: 'prompt.register',
        targetType: 'prompt',
        targetId: row.id,
        after: { name: input.name, version: input.version, model: input.model, content_hash: hash },
      });
      return { id: row.id, contentHash: hash };
    } catch (error) {
      if (pgCode(error) === PgCode.uniqueViolation) {
        throw new UsageError(`prompt ${input.name} ${input.version} already exists; prompts are immutable`, {
          hint: 'register the change under a new version',
        });
      }
      throw error;
    }
  });
}

/** A prompt's content hash: model, template and params (canonical JSON: key order does not matter). */
export { promptHash };

/** Refuses a prompt edited after registration (behind its immutability trigger). */
function checkPromptContent(
  row: { name: string; version: string; model: string; template: string; content_hash: string },
  params: unknown,
): void {
  // Prompts registered before hashes were canonical hashed JSON.stringify of the params as given;
  // jsonb may have reordered those keys, so both spellings are accepted.
  const legacy = createHash('sha256')
    .update(`${row.model}\n${row.template}\n${JSON.stringify(params)}`)
    .digest('hex');
  if (row.content_hash !== promptHash(row.model, row.template, params) && row.content_hash !== legacy) {
    throw new IntegrityError(
      `prompt ${row.name} ${row.version} does not match its content_hash: it was changed after registering; refused`,
    );
  }
}

export interface PromptRecord {
  name: string;
  version: string;
  model: string;
  template: string;
  params: Record<string, unknown>;
  contentHash: string;
  builtin: boolean;
}

/** A registered prompt, or the built-in default analysis prompt (version `builtin-1`). */
export async function findPrompt(db: Kysely<Database>, name: string, version: string): Promise<PromptRecord> {
  if (name === BUILTIN_ANALYSIS_PROMPT.name && version === BUILTIN_ANALYSIS_PROMPT.version)
    return BUILTIN_ANALYSIS_PROMPT;
  const row = await db
    .selectFrom('admin.prompt_registry')
    .selectAll()
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirst();
  if (!row)
    throw new NotFoundError(`prompt ${name} ${version} is not registered`, {
      hint: 'see `sumda prompt list`',
    });
  checkPromptContent(row, (row.metadata as { params?: unknown }).params ?? {});
  return {
    name: row.name,
    version: row.version,
    model: row.model,
    template: row.template,
    params: ((row.metadata as { params?: Record<string, unknown> }).params ?? {}) as Record<string, unknown>,
    contentHash: row.content_hash,
    builtin: false,
  };
}

/** The prompts there are: the built-in one (what a fresh install analyses with) first, then the registry. */
export async function listPrompts(db: Kysely<Database>, name?: string) {
  let query = db
    .selectFrom('admin.prompt_registry as p')
    .innerJoin('admin.admins as a', 'a.id', 'p.created_by')
    .select([
      'p.id',
      'p.name',
      'p.version',
      'p.model',
      'p.content_hash',
      'p.created_at',
      'a.email as created_by',
    ])
    .orderBy('p.name')
    .orderBy('p.created_at');
  if (name) query = query.where('p.name', '=', name);
  const registered = (await query.execute()).map((r) => ({ ...r, builtin: false }));
  const b = BUILTIN_ANALYSIS_PROMPT;
  if (name && name !== b.name) return registered;
  const builtin = {
    id: null,
    name: b.name,
    version: b.version,
    model: b.model,
    content_hash: b.contentHash,
    created_at: null,
    created_by: '(built in)',
    builtin: true,
  };
  return [builtin, ...registered];
}

export interface LineDiff {
  op: ' ' | '-' | '+';
  text: string;
}

/** A line diff (longest common subsequence); prompts are short, so O(n·m) is fine. */
export function diffLines(a: string, b: string): LineDiff[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: LineDiff[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: '-', text: x[i++]! });
    else out.push({ op: '+', text: y[j++]! });
  }
  while (i < x.length) out.push({ op: '-', text: x[i++]! });
  while (j < y.length) out.push({ op: '+', text: y[j++]! });
  return out;
}
