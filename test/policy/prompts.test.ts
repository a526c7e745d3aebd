/**
 * The prompt registry: templates are validated (known placeholders only, balanced braces, the
 * diary text in every analysis prompt), a version is registered once, `prompt diff` shows line
 * changes, and the built-in analysis prompt (builtin-1) is always there.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, UsageError } from '../../src/errors.ts';
import {
  diffLines,
  findPrompt,
  listPrompts,
  PLACEHOLDERS,
  type Placeholder,
  placeholdersOf,
  type RegisterInput,
  registerPrompt,
  renderTemplate,
  templateProblems,
} from '../../src/prompts/index.ts';
import { auditRows, cliEnv, errorLines, lastSeq, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;

beforeAll(async () => {
  team = await seedTeam(database.db);
});

const V2 = ['당신은 숨다의 읽기 동반자입니다.', '말투: {{tone_voice}}', '일기:', '{{diary_text}}'].join('\n');
const V3 = [
  '당신은 숨다의 읽기 동반자입니다.',
  '말투: {{ tone_voice }}, {{speech_level}}',
  '일기:',
  '{{diary_text}}',
].join('\n');

const register = (patch: Partial<RegisterInput>) =>
  registerPrompt(database.db, operation(team.admin), {
    name: 'analysis',
    version: 'v2',
    model: 'gpt-4o-mini',
    template: V2,
    params: {},
    ...patch,
  });

describe('template validation', () => {
  it.each([
    [
      'unknown placeholder',
      'analysis',
      '{{diary_text}} {{user_name}}',
      /unknown placeholder \{\{user_name\}\}/,
    ],
    ['unbalanced opening', 'analysis', '{{diary_text}} and {{tone_voice}', /unbalanced \{\{ \}\}/],
    ['unbalanced closing', 'analysis', '{{diary_text}} }}', /unbalanced \{\{ \}\}/],
    [
      'no diary text',
      'analysis',
      'Voice: {{tone_voice}}',
      /an analysis prompt must include \{\{diary_text\}\}/,
    ],
    ['no diary text (variant name)', 'analysis.short', 'hello', /must include \{\{diary_text\}\}/],
    ['empty', 'weekly', '   ', /the template is empty/],
  ])('%s is refused', async (_what, name, template, problem) => {
    expect(templateProblems(name, template).join('; ')).toMatch(problem);
    await expect(register({ name, template, version: 'bad' })).rejects.toThrow(problem);
  });

  it('every problem is listed at once; nothing is written', async () => {
    const problems = templateProblems('analysis', '{{nickname}} {{tone_voice}');
    expect(problems).toEqual([
      'unbalanced {{ }} in the template',
      expect.stringMatching(/^unknown placeholder \{\{nickname\}\}/),
      'an analysis prompt must include {{diary_text}}',
    ]);
    await expect(register({ name: 'Analysis' })).rejects.toThrow(/prompt name "Analysis"/);
    await expect(register({ version: 'v 2' })).rejects.toThrow(/--version v 2/);
    // Nothing registered: only the built-in prompt, listed with its real content hash.
    expect(await listPrompts(database.db)).toEqual([
      expect.objectContaining({ name: 'analysis', version: 'builtin-1', builtin: true, id: null }),
    ]);
    expect((await listPrompts(database.db))[0]!.content_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await listPrompts(database.db, 'weekly-report')).toEqual([]);
    expect(await auditRows(database.db, { action: 'prompt.register' })).toEqual([]);
  });

  it('a prompt that is not an analysis prompt needs no diary text', () => {
    expect(templateProblems('weekly-report', '이번 주 기분: {{mode}}')).toEqual([]);
  });
});

describe('register, diff, find', () => {
  it('registers once with an audit row; the same version twice is refused', async () => {
    const op = operation(team.admin, 'sumda prompt register analysis --version v2');
    const first = await registerPrompt(database.db, op, {
      name: 'analysis',
      version: 'v2',
      model: 'gpt-4o-mini',
      template: V2,
      params: { temperature: 0.3 },
    });
    const [row] = await auditRows(database.db, { action: 'prompt.register' });
    expect(row).toMatchObject({
      target_type: 'prompt',
      target_id: first.id,
      actor_email: team.admin.email,
      request_id: op.requestId,
      after: { name: 'analysis', version: 'v2', model: 'gpt-4o-mini', content_hash: first.contentHash },
    });
    const seq = await lastSeq(database.db);
    await expect(register({ template: V3 })).rejects.toThrow(
      'prompt analysis v2 already exists; prompts are immutable',
    );
    expect(await lastSeq(database.db)).toBe(seq);
    expect(await findPrompt(database.db, 'analysis', 'v2')).toEqual({
      name: 'analysis',
      version: 'v2',
      model: 'gpt-4o-mini',
      template: V2,
      params: { temperature: 0.3 },
      contentHash: first.contentHash,
      builtin: false,
    });
  });

  it('through the CLI: an invalid template exits 2; a valid one registers; `prompt diff` shows lines', async () => {
    const bad = await runSumda(
      ['prompt', 'register', 'analysis', '--version', 'v3', '--model', 'gpt-4o', '--file', '-'],
      {
        env: cliEnv(database.url, team.admin.email),
        input: '{{nickname}}',
      },
    );
    expect(bad.code).toBe(2);
    expect(errorLines(bad.stderr)).toEqual([
      expect.stringMatching(
        /^error: invalid template: unknown placeholder \{\{nickname\}\}.*; an analysis prompt must include \{\{diary_text\}\}$/,
      ),
    ]);

    const ok = await runSumda(
      ['prompt', 'register', 'analysis', '--version', 'v3', '--model', 'gpt-4o', '--file', '-'],
      {
        env: cliEnv(database.url, team.admin.email),
        input: V3,
      },
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('registered prompt analysis v3');

    const diff = await runSumda(['prompt', 'diff', 'analysis', 'v2', 'v3'], { env: cliEnv(database.url) });
    expect(diff.code).toBe(0);
    expect(diff.stdout.trimEnd().split('\n')).toEqual([
      '~ model: gpt-4o-mini → gpt-4o',
      '  당신은 숨다의 읽기 동반자입니다.',
      '- 말투: {{tone_voice}}',
      '+ 말투: {{ tone_voice }}, {{speech_level}}',
      '  일기:',
      '  {{diary_text}}',
    ]);
  });

  it('diffLines keeps common lines and orders removals before additions', () => {
    expect(diffLines('a\nb\nc', 'a\nc\nd')).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: ' ', text: 'c' },
      { op: '+', text: 'd' },
    ]);
    expect(diffLines('same', 'same')).toEqual([{ op: ' ', text: 'same' }]);
  });

  it('findPrompt returns the built-in analysis builtin-1, valid and renderable; unknown prompts are not found', async () => {
    const builtin = await findPrompt(database.db, 'analysis', 'builtin-1');
    expect(builtin).toMatchObject({
      name: 'analysis',
      version: 'builtin-1',
      model: 'gpt-4o-mini',
      builtin: true,
    });
    expect(templateProblems('analysis', builtin.template)).toEqual([]);
    const used = placeholdersOf(builtin.template);
    expect(used).toContain('diary_text');
    const values = Object.fromEntries(Object.keys(PLACEHOLDERS).map((k) => [k, `<${k}>`])) as Record<
      Placeholder,
      string
    >;
    const rendered = renderTemplate(builtin.template, { ...values, diary_text: '오늘은 좋은 하루였다.' });
    expect(rendered).toContain('오늘은 좋은 하루였다.');
    expect(rendered).not.toMatch(/\{\{/);
    expect(() => renderTemplate(builtin.template, {})).toThrow(/no value for placeholder/);
    await expect(findPrompt(database.db, 'analysis', 'v404')).rejects.toThrow(NotFoundError);
    await expect(findPrompt(database.db, 'analysis', 'v404')).rejects.toThrow(UsageError);

    const shown = await runSumda(['prompt', 'show', 'analysis', 'builtin-1', '--json'], {
      env: cliEnv(database.url),
    });
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ version: 'builtin-1', builtin: true });
  });
});
