/** `sumda policy …`: publish immutable versions, move the active pointer, explain what applies. */
import type { Command } from 'commander';
import { ExitCode, UsageError } from '../../errors.ts';
import type { PolicyName } from '../../policy/schemas.ts';
import type { CommandContext } from '../context.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { applySetFlags, collect, parseJson, readInput } from '../input.ts';

function renderValue(value: unknown): string {
  return JSON.stringify(value);
}

async function printDiff(ctx: CommandContext, a: unknown, b: unknown, labels: [string, string]) {
  const { diffConfigs } = await import('../../policy/merge.ts');
  const lines = diffConfigs(a, b);
  if (ctx.out.json) return ctx.out.data({ from: labels[0], to: labels[1], changes: lines });
  if (lines.length === 0) return ctx.out.line(`${labels[0]} and ${labels[1]} are identical`);
  ctx.out.line(ctx.out.style('bold', `--- ${labels[0]}\n+++ ${labels[1]}`));
  for (const l of lines) {
    if (l.kind === 'added') ctx.out.line(ctx.out.style('green', `+ ${l.path}: ${renderValue(l.after)}`));
    else if (l.kind === 'removed')
      ctx.out.line(ctx.out.style('red', `- ${l.path}: ${renderValue(l.before)}`));
    else
      ctx.out.line(
        ctx.out.style('yellow', `~ ${l.path}: ${renderValue(l.before)} → ${renderValue(l.after)}`),
      );
  }
}

export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description(
      'AI policies (ethics, slip, tone, mode, analysis): versions, the active pointer, resolution',
    );

  examples(
    policy
      .command('publish <name>')
      .description('publish an immutable version of a policy config (validated; every problem listed)')
      .requiredOption('--version <vX.Y.Z>', 'semantic version')
      .option('--file <path>', 'the config as JSON, or - for stdin (default with --set: the active one)')
      .option(
        '--set <key=value>',
        'change one setting on top of --file or the active config (repeatable): --set spike_tier_a=3.4',
        collect,
      )
      .option('--scope <scope>', 'global | tenant:<id> | user:<id>', 'global')
      .option('--notes <text>', 'what changed and why')
      .option(
        '--dry-run',
        'validate only (slip/ethics: replay recent analyses against the active config); write nothing',
      )
      .option('--days <n>', 'with --dry-run of slip/ethics: days of analyses to replay', '30')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ version: string; file?: string; set?: string[]; scope: string; notes?: string; days: string }>(
          async (ctx, opts, [name]) => {
            const { publishVersion, requirePolicyName, showConfig, validatePublish } = await import(
              '../../policy/versions.ts'
            );
            const { requireScope } = await import('../../policy/scope.ts');
            const policyName = requirePolicyName(name!);
            const scope = await requireScope(await ctx.db(), opts.scope);
            if (!opts.file && !opts.set?.length)
              throw new UsageError('give the config: --file <path>, or --set key=value on the active one');
            let config: unknown = opts.file
              ? parseJson(await readInput(opts.file), opts.file === '-' ? 'stdin' : opts.file)
              : (await showConfig(await ctx.db(), policyName, 'active', scope)).config;
            if (opts.set?.length) config = await applySetFlags(config, policyName, opts.set);
            const input = {
              name: policyName,
              version: opts.version,
              scope,
              config,
              notes: opts.notes ?? null,
            };
            validatePublish(input);
            if (opts.dryRun) {
              if (input.name === 'slip' || input.name === 'ethics') {
                // What would this config have done? Replay recent analyses through the evaluator.
                const { runReplay, printReplay } = await import('../replay.ts');
                const { parseIntFlag } = await import('../input.ts');
                const result = await runReplay(
                  ctx,
                  input.name,
                  input.config,
                  parseIntFlag(opts.days, '--days', 1, 365),
                  input.scope,
                );
                await printReplay(ctx, result, `${input.name} ${input.version} (dry run, nothing written)`);
                return;
              }
              if (ctx.out.json) return ctx.out.data({ valid: true, dryRun: true });
              return ctx.out.success(
                `${input.name} ${input.version} is valid; nothing was written (--dry-run)`,
              );
            }
            const result = await publishVersion(await ctx.db(), await ctx.operation(), input);
            if (ctx.out.json) return ctx.out.data(result);
            ctx.out.success(
              `published ${input.name} ${input.version} (${input.scope}), content ${result.contentHash.slice(0, 12)}`,
            );
            if (result.identicalTo.length > 0)
              ctx.out.warn(`identical content to ${result.identicalTo.join(', ')}`);
            ctx.out.note(
              `activate it with: sumda policy activate ${input.name} ${input.version} --reason "…"`,
            );
          },
        ),
      ),
    [
      'sumda policy publish slip --version v1.1.0 --file slip.json --notes "gentler warnings"',
      'sumda policy publish slip --version v1.1.1 --set spike_tier_a=3.4 --dry-run',
      'sumda policy show slip active --json | jq ".spike_tier_a = 3.4" | sumda policy publish slip --version v1.2.0 --file -',
    ],
  );

  examples(
    policy
      .command('activate <name> <version>')
      .description(
        'point the policy at a published version, or `default` (no pointer: the built-in default; for a tenant/user scope, the global one); the previous target is remembered',
      )
      .option('--scope <scope>', 'global | tenant:<id> | user:<id>', 'global')
      .option('--reason <text>', 'why, for the audit trail (required unless --dry-run)')
      .option('--dry-run', 'show the change (slip/ethics: and its replayed impact); write nothing')
      .option('--days <n>', 'with --dry-run of slip/ethics: days of analyses to replay', '30')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ scope: string; reason?: string; days: string }>(async (ctx, opts, [name, version]) => {
          const { activateVersion, requirePolicyName, showConfig } = await import('../../policy/versions.ts');
          const { parseScope } = await import('../../policy/scope.ts');
          const policyName = requirePolicyName(name!);
          const scope = parseScope(opts.scope);
          const db = await ctx.db();
          if (opts.dryRun) {
            const current = await showConfig(db, policyName, 'active', scope);
            const next = await showConfig(db, policyName, version!, scope);
            const labels: [string, string] = [`${policyName} ${current.version}`, `${policyName} ${version}`];
            if (policyName !== 'slip' && policyName !== 'ethics')
              return printDiff(ctx, current.config, next.config, labels);
            const { runReplay, printReplay } = await import('../replay.ts');
            const { parseIntFlag } = await import('../input.ts');
            const impact = await runReplay(
              ctx,
              policyName,
              next.config,
              parseIntFlag(opts.days, '--days', 1, 365),
              scope,
            );
            if (ctx.out.json) {
              const { diffConfigs } = await import('../../policy/merge.ts');
              return ctx.out.data({
                from: labels[0],
                to: labels[1],
                changes: diffConfigs(current.config, next.config),
                impact,
              });
            }
            await printDiff(ctx, current.config, next.config, labels);
            await printReplay(ctx, impact, `impact of ${policyName} ${version} (dry run, nothing written)`);
            return;
          }
          if (!opts.reason) throw new UsageError("required option '--reason <text>' not specified");
          const move = await activateVersion(db, await ctx.operation(), {
            name: policyName,
            version: version!,
            scope,
            reason: opts.reason,
          });
          if (ctx.out.json) return ctx.out.data(move);
          const { defaultLabel } = await import('../../policy/versions.ts');
          const label = (v: string | null) => v ?? defaultLabel(scope);
          ctx.out.success(
            move.changed
              ? `${policyName} (${scope}): ${label(move.from)} → ${label(move.to)}`
              : `${policyName} (${scope}) already points at ${label(move.to)}`,
          );
        }),
      ),
    [
      'sumda policy activate slip v1.1.0 --reason "approved in #ops-1234"',
      'sumda policy activate tone v2.0.0 --dry-run',
      'sumda policy activate slip default --reason "back to the built-in thresholds"',
    ],
  );

  examples(
    policy
      .command('rollback <name>')
      .description(
        'move the pointer back to what was active before the current version (from the first activated version: back to the built-in default)',
      )
      .option('--scope <scope>', 'global | tenant:<id> | user:<id>', 'global')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ scope: string; reason: string }>(async (ctx, opts, [name]) => {
          const { rollbackPointer, requirePolicyName } = await import('../../policy/versions.ts');
          const { parseScope } = await import('../../policy/scope.ts');
          const move = await rollbackPointer(await ctx.db(), await ctx.operation(), {
            name: requirePolicyName(name!),
            scope: parseScope(opts.scope),
            reason: opts.reason,
          });
          if (ctx.out.json) return ctx.out.data(move);
          const { defaultLabel } = await import('../../policy/versions.ts');
          const label = (v: string | null) => v ?? defaultLabel(move.scope);
          ctx.out.success(
            `${move.policy} (${move.scope}): rolled back ${label(move.from)} → ${label(move.to)}`,
          );
        }),
      ),
    ['sumda policy rollback slip --reason "warnings spiked after v1.1.0"'],
  );

  examples(
    policy
      .command('list')
      .description('every policy with its active version per scope')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { listPolicies } = await import('../../policy/list.ts');
          const rows = await listPolicies(await ctx.db());
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['policy', 'scope', 'active', 'versions', 'activated', 'by'],
            rows.map((r) => [r.policy, r.scope, r.active, r.versions, r.activatedAt, r.activatedBy]),
          );
        }),
      ),
    ['sumda policy list'],
  );

  examples(
    policy
      .command('show <name> [version]')
      .description('the config of a version (default: the active one; `default` = built-in)')
      .option('--scope <scope>', 'global | tenant:<id> | user:<id>', 'global')
      .option('--json', 'only the config, as JSON, on stdout')
      .action(
        act<{ scope: string }>(async (ctx, opts, [name, version]) => {
          const { showConfig, requirePolicyName } = await import('../../policy/versions.ts');
          const { parseScope } = await import('../../policy/scope.ts');
          const shown = await showConfig(
            await ctx.db(),
            requirePolicyName(name!),
            version ?? 'active',
            parseScope(opts.scope),
          );
          if (ctx.out.json) return ctx.out.data(shown.config);
          ctx.out.note(`${name} ${shown.version} (${shown.scope})`);
          ctx.out.line(JSON.stringify(shown.config, null, 2));
        }),
      ),
    [
      'sumda policy show slip',
      'sumda policy show slip v1.0.0 --json > slip.json',
      'sumda policy show tone default',
    ],
  );

  examples(
    policy
      .command('history <name>')
      .description('published versions and every pointer move')
      .option('--scope <scope>', 'global | tenant:<id> | user:<id>', 'global')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ scope: string }>(async (ctx, opts, [name]) => {
          const { policyHistory, requirePolicyName } = await import('../../policy/versions.ts');
          const { parseScope } = await import('../../policy/scope.ts');
          const history = await policyHistory(
            await ctx.db(),
            requirePolicyName(name!),
            parseScope(opts.scope),
          );
          if (ctx.out.json) return ctx.out.data(history);
          ctx.out.line(ctx.out.style('bold', 'versions'));
          ctx.out.table(
            ['version', 'published', 'by', 'content', 'notes'],
            history.versions.map((v) => [
              v.version,
              v.created_at,
              v.created_by,
              v.content_hash.slice(0, 12),
              v.notes,
            ]),
          );
          ctx.out.line(ctx.out.style('bold', 'pointer moves'));
          ctx.out.table(
            ['at', 'move', 'from', 'to', 'by', 'reason'],
            history.moves.map((m) => [
              m.at,
              m.action,
              m.from ?? 'default',
              m.to ?? 'default',
              m.by,
              m.reason,
            ]),
          );
        }),
      ),
    ['sumda policy history slip'],
  );

  examples(
    policy
      .command('diff <name> <a> <b>')
      .description('differences between two versions by JSON path (`active` and `default` work too)')
      .option('--scope <scope>', 'global | tenant:<id> | user:<id>', 'global')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ scope: string }>(async (ctx, opts, [name, a, b]) => {
          const { showConfig, requirePolicyName } = await import('../../policy/versions.ts');
          const { parseScope } = await import('../../policy/scope.ts');
          const policyName = requirePolicyName(name!);
          const scope = parseScope(opts.scope);
          const db = await ctx.db();
          const [left, right] = await Promise.all([
            showConfig(db, policyName, a!, scope),
            showConfig(db, policyName, b!, scope),
          ]);
          await printDiff(ctx, left.config, right.config, [
            `${policyName} ${left.version}`,
            `${policyName} ${right.version}`,
          ]);
        }),
      ),
    ['sumda policy diff slip v1.0.0 v1.1.0', 'sumda policy diff tone default active --json'],
  );

  examples(
    policy
      .command('resolve')
      .description('the effective config of every policy for a user; --explain says which layer set each key')
      .requiredOption('--user <id>', 'the user id')
      .option('--tenant <id>', 'the tenant, if any')
      .option('--policy <name>', 'only this policy')
      .option('--explain', 'show the layer behind every key')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ user: string; tenant?: string; policy?: string; explain?: boolean }>(async (ctx, opts) => {
          const { loadSnapshot } = await import('../../policy/resolver.ts');
          const { resolvePolicies } = await import('../../policy/resolve.ts');
          const { flatten } = await import('../../policy/merge.ts');
          const { requirePolicyName } = await import('../../policy/versions.ts');
          const { POLICY_NAMES } = await import('../../policy/names.ts');
          const { requireUserId } = await import('../../policy/scope.ts');
          const names: PolicyName[] = opts.policy ? [requirePolicyName(opts.policy)] : [...POLICY_NAMES];
          const db = await ctx.db();
          const userId = await requireUserId(db, opts.user, '--user');
          const resolution = resolvePolicies(await loadSnapshot(db), {
            userId,
            tenantId: opts.tenant,
          });
          if (ctx.out.json) {
            return ctx.out.data({
              user: userId,
              tenant: opts.tenant ?? null,
              policies: Object.fromEntries(
                names.map((n) => [
                  n,
                  {
                    version: resolution.versions[n],
                    config: resolution.configs[n],
                    ...(opts.explain ? { sources: Object.fromEntries(resolution.sources[n]) } : {}),
                  },
                ]),
              ),
              override_ids: resolution.overrideIds,
              skipped_overrides: resolution.skipped,
            });
          }
          for (const n of names) {
            const v = resolution.versions[n];
            ctx.out.line(ctx.out.style('bold', `${n} — ${v.version} (${v.scope})`));
            const rows = flatten(resolution.configs[n]).map(([path, value]) => {
              const source = resolution.sources[n].get(path);
              return opts.explain
                ? [path, renderValue(value), source?.layer ?? '']
                : [path, renderValue(value)];
            });
            ctx.out.table(opts.explain ? ['key', 'value', 'set by'] : ['key', 'value'], rows);
          }
          for (const s of resolution.skipped)
            ctx.out.warn(`override ${s.overrideId} skipped: ${s.problems.join('; ')}`);
        }),
      ),
    ['sumda policy resolve --user 6f1c… --explain', 'sumda policy resolve --user 6f1c… --policy slip --json'],
  );

  examples(
    policy
      .command('lint')
      .description(
        `permanent overrides, unknown keys, stale or invalid versions (exit ${ExitCode.drift} when any)`,
      )
      .option('--stale-days <n>', 'versions older than this that nothing points at are stale', '30')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ staleDays: string }>(async (ctx, opts) => {
          const { lintPolicies } = await import('../../policy/overrides.ts');
          const { parseIntFlag } = await import('../input.ts');
          const problems = await lintPolicies(await ctx.db(), {
            staleDays: parseIntFlag(opts.staleDays, '--stale-days', 1),
          });
          if (ctx.out.json) ctx.out.data(problems);
          else if (problems.length === 0) ctx.out.success('no policy problems');
          else
            ctx.out.table(
              ['problem', 'subject', 'detail'],
              problems.map((p) => [p.kind, p.subject, p.detail]),
            );
          return problems.length === 0 ? ExitCode.ok : ExitCode.drift;
        }),
      ),
    ['sumda policy lint', 'sumda policy lint --json'],
  );
}
