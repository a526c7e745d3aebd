/** `sumda audit …`: read and verify the append-only, hash-chained audit trail. */
import type { Command } from 'commander';
import { ExitCode, UsageError } from '../../errors.ts';
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
      .description(
        `walk the hash chain (and, with SUMDA_AUDIT_KEY, every MAC); print the head; exit ${ExitCode.drift} naming the first broken row`,
      )
      .option(
        '--anchor <seq:hash>',
        'a head printed earlier by `sumda audit anchor`: prove nothing up to it changed or vanished',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ anchor?: string }>(async (ctx, opts) => {
          const { verifyAuditChain, parseAnchor, formatAnchor } = await import('../../audit/index.ts');
          const anchor = opts.anchor === undefined ? undefined : parseAnchor(opts.anchor);
          if (anchor === null) {
            throw new UsageError(`--anchor ${opts.anchor}: expected <chain_seq>:<64 hex digits>`, {
              hint: 'use the line `sumda audit anchor` printed',
            });
          }
          const verdict = await verifyAuditChain(await ctx.db(), { keys: ctx.config.auditKeys, anchor });
          if (ctx.out.json) {
            ctx.out.data({ ...verdict, head: verdict.head ? formatAnchor(verdict.head) : null });
          } else if (verdict.ok) {
            ctx.out.success(
              `audit chain intact: ${verdict.rows} rows` +
                (verdict.macsChecked ? `, ${verdict.keyed} signed (MACs checked)` : '') +
                (anchor ? `; anchor ${formatAnchor(anchor)} holds` : ''),
            );
            ctx.out.line(`head ${verdict.head ? formatAnchor(verdict.head) : '(empty)'}`);
            if (!verdict.macsChecked)
              ctx.out.warn(
                'SUMDA_AUDIT_KEY is not set: the MACs were not checked, so the database owner could have rewritten the chain',
              );
            else if (verdict.unkeyed > 0)
              ctx.out.warn(
                `${verdict.unkeyed} older row(s) were written before an audit key was set: hash-chained only`,
              );
          } else {
            const b = verdict.firstBroken!;
            ctx.out.error(
              b.id === 0
                ? `audit chain broken at chain_seq ${b.chainSeq}: ${b.problem}`
                : `audit chain broken at row id ${b.id} (chain_seq ${b.chainSeq}): ${b.problem}`,
            );
          }
          return verdict.ok ? ExitCode.ok : ExitCode.drift;
        }),
      ),
    [
      'sumda audit verify',
      'sumda audit verify --anchor 1234:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'SUMDA_AUDIT_KEY=a1:… sumda audit verify --json',
    ],
  );

  examples(
    audit
      .command('anchor')
      .description(
        'verify the chain, then print its head as <seq>:<hash> for write-once storage outside the database',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { verifyAuditChain, formatAnchor } = await import('../../audit/index.ts');
          const verdict = await verifyAuditChain(await ctx.db(), { keys: ctx.config.auditKeys });
          if (!verdict.ok) {
            const b = verdict.firstBroken!;
            ctx.out.error(`audit chain broken at chain_seq ${b.chainSeq}: ${b.problem}; not anchoring it`);
            return ExitCode.drift;
          }
          const head = verdict.head ? formatAnchor(verdict.head) : null;
          if (ctx.out.json) return ctx.out.data({ anchor: head, rows: verdict.rows });
          if (!head) {
            ctx.out.warn('the audit trail is empty: nothing to anchor');
            return;
          }
          ctx.out.line(head);
        }),
      ),
    ['sumda audit anchor >> /mnt/worm/sumda-audit-anchors.txt', 'sumda audit anchor --json | jq -r .anchor'],
  );
}
