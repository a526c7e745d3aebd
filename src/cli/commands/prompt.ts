/** `sumda prompt …`: the immutable prompt registry. */
import type { Command } from 'commander';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseJson, readInput } from '../input.ts';

export function registerPrompt(program: Command): void {
  const prompt = program.command('prompt').description('versioned, immutable prompt templates');

  examples(
    prompt
      .command('register <name>')
      .description('register an immutable prompt version (placeholders validated)')
      .requiredOption('--version <version>', 'e.g. 2026-11-25.1 or v3')
      .requiredOption('--model <model>', 'e.g. gpt-4o-mini')
      .requiredOption('--file <path>', 'the template, or - for stdin')
      .option('--params <path>', 'JSON of model parameters kept with the prompt')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ version: string; model: string; file: string; params?: string }>(async (ctx, opts, [name]) => {
          const { registerPrompt } = await import('../../prompts/index.ts');
          const params = opts.params ? parseJson(await readInput(opts.params, '--params'), opts.params) : {};
          const result = await registerPrompt(await ctx.db(), await ctx.operation(), {
            name: name!,
            version: opts.version,
            model: opts.model,
            template: await readInput(opts.file),
            params: params as Record<string, unknown>,
          });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(`registered prompt ${name} ${opts.version}`);
          ctx.out.note('the analysis uses it once the analysis policy names it (publish + activate)');
        }),
      ),
    [
      'sumda prompt register analysis --version v2 --model gpt-4o-mini --file prompts/analysis-v2.txt',
      'sumda prompt register analysis --version v3 --model gpt-4o --file - --params params.json < analysis.txt',
    ],
  );

  examples(
    prompt
      .command('list [name]')
      .description('the built-in prompt and the registered ones')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [name]) => {
          const { listPrompts } = await import('../../prompts/index.ts');
          const rows = await listPrompts(await ctx.db(), name);
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['name', 'version', 'model', 'content', 'registered', 'by'],
            rows.map((r) => [
              r.name,
              r.version,
              r.model,
              r.content_hash.slice(0, 12),
              r.created_at,
              r.created_by,
            ]),
          );
        }),
      ),
    ['sumda prompt list', 'sumda prompt list analysis --json'],
  );

  examples(
    prompt
      .command('show <name> <version>')
      .description('a prompt template and its parameters')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [name, version]) => {
          const { findPrompt, placeholdersOf } = await import('../../prompts/index.ts');
          const found = await findPrompt(await ctx.db(), name!, version!);
          if (ctx.out.json) return ctx.out.data(found);
          ctx.out.fields([
            ['prompt', `${found.name} ${found.version}${found.builtin ? ' (built-in)' : ''}`],
            ['model', found.model],
            ['placeholders', placeholdersOf(found.template).join(', ')],
            ['params', JSON.stringify(found.params)],
          ]);
          ctx.out.line();
          ctx.out.line(found.template);
        }),
      ),
    ['sumda prompt show analysis builtin-1'],
  );

  examples(
    prompt
      .command('diff <name> <a> <b>')
      .description('line diff of two prompt versions')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [name, a, b]) => {
          const { findPrompt, diffLines } = await import('../../prompts/index.ts');
          const db = await ctx.db();
          const [left, right] = await Promise.all([findPrompt(db, name!, a!), findPrompt(db, name!, b!)]);
          const lines = diffLines(left.template, right.template);
          if (ctx.out.json) return ctx.out.data({ model: [left.model, right.model], lines });
          if (left.model !== right.model)
            ctx.out.line(ctx.out.style('yellow', `~ model: ${left.model} → ${right.model}`));
          for (const l of lines) {
            const text = `${l.op} ${l.text}`;
            ctx.out.line(
              l.op === '+'
                ? ctx.out.style('green', text)
                : l.op === '-'
                  ? ctx.out.style('red', text)
                  : ctx.out.style('dim', text),
            );
          }
        }),
      ),
    ['sumda prompt diff analysis builtin-1 v2'],
  );
}
