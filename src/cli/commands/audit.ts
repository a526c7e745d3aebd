/** `sumda audit …`: read and verify the append-only, hash-chained audit trail. */
import type { Command } from 'commander';
import { ExitCode } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit trail: who changed what, when and why');

  examples(
    audit
      .command('list')
      .description('recent audit rows, newest first')
      .option('--actor <email>', 'only this operator')
      .option('--action <action>', 'a dotted action (policy.activate) or a prefix (policy)')
      .option('--target <type[:id]>', 'e.g. policy_pointer or override:<id>')
      .option('--since <when>', 'a date, an ISO time, or a duration ago (7d)')
      .option('--limit <n>', 'at most this many rows', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ actor?: string; action?: string; target?: string; since?: string; limit: string }>(
          async (ctx, opts) => {
            const { listAudit } = await import('../../audit/index.ts');
            const rows = await listAudit(await ctx.db(), {
              actor: opts.actor,
              action: opts.action,
              target: opts.target,
              since: opts.since ? parseInstant(opts.since, '--since') : undefined,
              limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
            });
            if (ctx.out.json) return ctx.out.data(rows);
            ctx.out.table(
              ['#', 'at', 'actor', 'action', 'target', 'outcome', 'reason'],
              rows.map((r) => [
                r.chain_seq,
                r.at,
                r.actor_email ?? '(system)',
                r.action,
                r.target_type ? `${r.target_type}${r.target_id ? `:${r.target_id}` : ''}` : '',
                r.outcome,
                r.reason,
              ]),
            );
          },
        ),
      ),
    [
      'sumda audit list --since 24h',
      'sumda audit list --action policy --json',
      'sumda audit list --actor mina@sumda.kr',
    ],
  );

  examples(
    audit
      .command('verify')
      .description(`walk the hash chain; exit ${ExitCode.drift} and name the first broken row`)
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { verifyAuditChain } = await import('../../audit/index.ts');
          const verdict = await verifyAuditChain(await ctx.db());
          if (ctx.out.json) ctx.out.data(verdict);
          else if (verdict.ok) ctx.out.success(`audit chain intact: ${verdict.rows} rows`);
          else {
            const b = verdict.firstBroken!;
            ctx.out.error(`audit chain broken at row id ${b.id} (chain_seq ${b.chainSeq}): ${b.problem}`);
          }
          return verdict.ok ? ExitCode.ok : ExitCode.drift;
        }),
      ),
    ['sumda audit verify'],
  );
}
