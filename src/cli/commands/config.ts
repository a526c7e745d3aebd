/** `sumda config`: the configuration in effect, as parsed from flags > environment > .env, secrets redacted. */
import type { Command } from 'commander';
import { act } from '../context.ts';
import { examples } from '../help.ts';

export function registerConfig(program: Command): void {
  examples(
    program
      .command('config')
      .description('show the configuration in effect (flags > environment > .env), secrets redacted')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { describeConfig } = await import('../../config/index.ts');
          const shown = describeConfig(ctx.config);
          if (ctx.out.json) return ctx.out.data(shown);
          ctx.out.fields(Object.entries(shown).map(([k, v]) => [k, String(v)]));
        }),
      ),
    ['sumda config', 'DATABASE_URL=postgres://u:pw@db/sumda sumda config --json'],
  );
}
