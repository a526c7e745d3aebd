/** `sumda config`: the configuration in effect, as parsed from flags > environment > .env, secrets redacted. */
import type { Command } from 'commander';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { startInfo } from '../started.ts';

export function registerConfig(program: Command): void {
  examples(
    program
      .command('config')
      .description('show the configuration in effect (flags > environment > .env), secrets redacted')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { describeConfig } = await import('../../config/index.ts');
          const { bundle } = startInfo();
          const shown = {
            ...describeConfig(ctx.config),
            SUMDA_NO_BUNDLE: bundle
              ? `(unset: running the build of ${bundle.builtAt}, see \`npm run build\`)`
              : process.env.SUMDA_NO_BUNDLE === '1'
                ? '1 (running from source)'
                : '(unset: running from source — not built, or the source changed since `npm run build`)',
          };
          if (ctx.out.json) return ctx.out.data(shown);
          ctx.out.fields(Object.entries(shown).map(([k, v]) => [k, String(v)]));
        }),
      ),
    ['sumda config', 'DATABASE_URL=postgres://u:pw@db/sumda sumda config --json'],
  );
}
