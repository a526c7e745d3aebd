/** `sumda override …`: scoped, expiring values for single policy keys. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseDuration, parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { jsonShapeProblem, parseIntFlag, parseJson, parseUuid } from '../input.ts';

export function registerOverride(program: Command): void {
  const override = program
    .command('override')
    .description('per-target overrides of single policy keys, with expiry');

  examples(
    override
      .command('set <target> <key> <json>')
      .description('override one key path for global, tenant:<id> or user:<id>')
      .requiredOption('--reason <text>', 'A/B test, hotfix, support case…')
      .option('--expires-in <duration>', 'e.g. 7d, 24h')
      .option('--expires-at <time>', 'an ISO time or a date (midnight KST)')
      .option('--permanent', 'no expiry (shows up in `policy lint`)')
      .option('--rollout <percent>', 'sticky A/B: apply to this share of users (by a hash of the user id)')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{
          reason: string;
          expiresIn?: string;
          expiresAt?: string;
          permanent?: boolean;
          rollout?: string;
        }>(async (ctx, opts, [target, key, json]) => {
          const { setOverride } = await import('../../policy/overrides.ts');
          const { requireScope } = await import('../../policy/scope.ts');
          if (opts.expiresIn && opts.expiresAt)
            throw new UsageError('use --expires-in or --expires-at, not both');
          const expiresAt = opts.expiresIn
            ? new Date(Date.now() + parseDuration(opts.expiresIn, '--expires-in'))
            : opts.expiresAt
              ? parseInstant(opts.expiresAt, '--expires-at')
              : null;
          const db = await ctx.db();
          const row = await setOverride(db, await ctx.operation(), {
            target: await requireScope(db, target!, 'target'),
            key: key!,
            value: parseOverrideValue(json!),
            reason: opts.reason,
            expiresAt,
            permanent: Boolean(opts.permanent),
            rolloutPercent:
              opts.rollout === undefined ? null : parseIntFlag(opts.rollout, '--rollout', 0, 100),
          });
          if (ctx.out.json) return ctx.out.data(row);
          ctx.out.success(
            `override ${row.id} set: ${target} ${key} = ${json} (${row.expires_at ? `until ${row.expires_at.toISOString()}` : 'permanent'})`,
          );
        }),
      ),
    [
      'sumda override set user:6f1c… slip.enabled false --reason "support case #88" --expires-in 7d',
      'sumda override set global tone.voice \'"warm"\' --reason "A/B warm voice" --rollout 50 --expires-in 14d',
      'sumda override set tenant:school-3 mode \'{"mode":"listener"}\' --reason "pilot" --expires-at 2026-12-31',
    ],
  );

  examples(
    override
      .command('list')
      .description('live overrides (and expired ones with --include-expired)')
      .option('--target <target>', 'only this target')
      .option('--include-expired', 'also show expired overrides')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ target?: string; includeExpired?: boolean }>(async (ctx, opts) => {
          const { listOverrides } = await import('../../policy/overrides.ts');
          const rows = await listOverrides(await ctx.db(), {
            target: opts.target,
            includeExpired: opts.includeExpired,
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['id', 'target', 'key', 'value', 'rollout', 'expires', 'state', 'by', 'reason'],
            rows.map((r) => [
              r.id,
              r.target,
              r.key,
              JSON.stringify(r.value),
              r.rollout_percent === null ? '' : `${r.rollout_percent}%`,
              r.expires_at ?? 'never',
              r.live ? 'live' : 'expired',
              r.created_by,
              r.reason,
            ]),
            { empty: opts.includeExpired ? 'no overrides' : 'no live overrides' },
          );
        }),
      ),
    ['sumda override list', 'sumda override list --target user:6f1c… --include-expired'],
  );

  examples(
    override
      .command('expire <id>')
      .description('end an override now')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [id]) => {
          const { expireOverride } = await import('../../policy/overrides.ts');
          await expireOverride(
            await ctx.db(),
            await ctx.operation(),
            parseUuid(id!, 'override'),
            opts.reason,
          );
          ctx.out.success(`override ${id} expired`);
        }),
      ),
    ['sumda override expire 3f2a… --reason "test finished"'],
  );
}

/**
 * The value of `override set`: JSON, or a bare word (`warm`, `listener`) meaning that string, so
 * nobody has to type `'"warm"'`. The policy schema then says whether a string fits the key.
 */
export function parseOverrideValue(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    if (/^[\p{L}\p{N}_.:-]+$/u.test(text)) return text;
    return parseJson(text, 'the override value (JSON, or a bare word for a string)');
  }
  const problem = jsonShapeProblem(value);
  if (problem) throw new UsageError(`the override value: ${problem}`);
  return value;
}
