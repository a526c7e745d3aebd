/** `sumda faq …`: the app's support FAQ — entries by category, in order, hidden rather than deleted. */
import type { Command } from 'commander';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid } from '../input.ts';

export function registerFaq(program: Command): void {
  const faq = program.command('faq').description("the app's support FAQ: entries by category, in order");

  examples(
    faq
      .command('list')
      .description('entries by category and order (shown ones unless --all)')
      .option('--category <name>', 'only this category')
      .option('--all', 'also hidden entries')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ category?: string; all?: boolean }>(async (ctx, opts) => {
          const { listFaq } = await import('../../support/faq.ts');
          const rows = await listFaq(await ctx.db(), {
            ...(opts.category ? { category: opts.category } : {}),
            all: opts.all,
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['entry', 'category', 'order', 'shown', 'question'],
            rows.map((r) => [r.id, r.category, r.order_no, r.is_active ? 'yes' : 'hidden', r.question]),
          );
        }),
      ),
    ['sumda faq list', 'sumda faq list --category payment --all --json'],
  );

  examples(
    faq
      .command('add')
      .description('add an entry at the end of its category (or at --order)')
      .requiredOption('--category <name>', 'e.g. payment, account, diary')
      .requiredOption('--question <text>', 'the question, as members ask it')
      .requiredOption('--answer <text>', 'the answer (or --answer-file)')
      .option('--order <n>', 'order number (smaller first)')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ category: string; question: string; answer: string; order?: string }>(async (ctx, opts) => {
          const { addFaq } = await import('../../support/faq.ts');
          const created = await addFaq(await ctx.db(), await ctx.operation(), {
            category: opts.category,
            question: opts.question,
            answer: opts.answer,
            ...(opts.order ? { orderNo: parseIntFlag(opts.order, '--order', 0, 1_000_000) } : {}),
          });
          if (ctx.out.json) return ctx.out.data(created);
          ctx.out.success(`entry ${created.id}: ${created.category} #${created.order_no}`);
        }),
      ),
    [
      'sumda faq add --category payment --question "환불은 어떻게 하나요?" --answer "결제일로부터 7일 이내 …"',
    ],
  );

  examples(
    faq
      .command('edit <id>')
      .description('change the question, answer or category; --show makes a hidden entry visible again')
      .option('--category <name>', 'move to this category')
      .option('--question <text>', 'new question')
      .option('--answer <text>', 'new answer')
      .option('--show', 'show a hidden entry again')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ category?: string; question?: string; answer?: string; show?: boolean }>(
          async (ctx, opts, [id]) => {
            const { editFaq } = await import('../../support/faq.ts');
            const result = await editFaq(await ctx.db(), await ctx.operation(), {
              id: parseUuid(id!, 'entry'),
              ...(opts.category !== undefined ? { category: opts.category } : {}),
              ...(opts.question !== undefined ? { question: opts.question } : {}),
              ...(opts.answer !== undefined ? { answer: opts.answer } : {}),
              ...(opts.show ? { active: true } : {}),
            });
            if (ctx.out.json) return ctx.out.data(result);
            ctx.out.success(`entry ${result.id}: changed ${result.changed.join(', ')}`);
          },
        ),
      ),
    ['sumda faq edit 3e4f… --answer "새 답변"', 'sumda faq edit 3e4f… --show'],
  );

  examples(
    faq
      .command('reorder <category> <ids...>')
      .description("put these entries first, in this order; the category's others follow")
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [category, ...ids]) => {
          const { reorderFaq } = await import('../../support/faq.ts');
          const result = await reorderFaq(await ctx.db(), await ctx.operation(), {
            category: category!,
            ids: ids.map((id) => parseUuid(id, 'entry')),
          });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(`${result.category}: ${result.order.length} entries reordered`);
        }),
      ),
    ['sumda faq reorder payment 3e4f… 9a8b…'],
  );

  examples(
    faq
      .command('hide <id>')
      .description('stop showing an entry (kept; `faq edit --show` brings it back)')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [id]) => {
          const { editFaq } = await import('../../support/faq.ts');
          const result = await editFaq(await ctx.db(), await ctx.operation(), {
            id: parseUuid(id!, 'entry'),
            active: false,
          });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.success(`entry ${result.id}: hidden`);
        }),
      ),
    ['sumda faq hide 3e4f…'],
  );
}
