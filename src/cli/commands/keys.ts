/** `sumda keys …`: encryption keys of diary text — generate one, see what each key seals, rotate to the active one. */
import type { Command } from 'commander';
import { ExitCode } from '../../errors.ts';
import type { KeyState, KeyStatus } from '../../keys/rotation.ts';
import { confirm } from '../confirm.ts';
import { act, type CommandContext } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

const STATE_LABEL: Record<KeyState, string> = {
  active: 'active (seals new text)',
  old: 'old (still opens)',
  unconfigured: 'NOT CONFIGURED',
};

async function keyring(ctx: CommandContext) {
  const { loadCheckedKeyring } = await import('../../keys/checks.ts');
  const { keyring, devKey } = await loadCheckedKeyring(ctx.config, ctx.log, await ctx.db());
  if (devKey)
    ctx.out.warn(`using the DEVELOPMENT key in ${devKey.path}; set SUMDA_ENCRYPTION_KEYS for real data`);
  return keyring;
}

function printStatus(ctx: CommandContext, status: KeyStatus): void {
  ctx.out.table(
    ['key', 'state', 'entries'],
    status.keys.map((k) => [k.keyId, STATE_LABEL[k.state], k.entries]),
  );
  const { jobs, rotation } = status;
  ctx.out.fields([
    ['entries', status.total],
    ['not under the active key', status.pending],
    ['skipped by the rotation', status.skipped],
    [
      'billing keys per key',
      Object.entries(status.billingKeys)
        .map(([keyId, n]) => `${keyId} ${n}`)
        .join(', ') || 'none',
    ],
    [
      'latest rotation',
      rotation
        ? `#${rotation.id} to ${rotation.target}, ${rotation.actor ?? '?'}, ${rotation.at.toISOString()}`
        : 'none',
    ],
    [
      're-encryption job',
      jobs.queued + jobs.active === 0 ? 'none queued' : `${jobs.queued} queued, ${jobs.active} running`,
    ],
  ]);
  if (status.unopenable > 0) {
    const missing = status.keys.filter((k) => k.state === 'unconfigured').map((k) => k.keyId);
    ctx.out.error(
      `${status.unopenable} entries are sealed with keys that are not configured (${missing.join(', ')}): they cannot be opened`,
    );
    ctx.out.note('hint: add those keys to SUMDA_ENCRYPTION_KEYS after the active one');
  }
  if (status.skipped > 0) {
    ctx.out.warn(
      `${status.skipped} entries failed to open in the latest rotation (admin.error_logs, service diary); ` +
        'once fixed, `sumda keys rotate` again retries them',
    );
  }
  if (jobs.deadLettered > 0) {
    ctx.out.warn(`${jobs.deadLettered} re-encryption job(s) failed past their retries (keys.reencrypt.dead)`);
  }
  const retired = status.keys.filter((k) => k.state === 'old' && k.entries === 0);
  if (retired.length > 0 && status.pending === 0 && jobs.queued + jobs.active === 0) {
    const [one, many] = ['seals no entries any more: it', 'seal no entries any more: they'];
    ctx.out.note(
      `${retired.map((k) => k.keyId).join(', ')} ${retired.length === 1 ? one : many} may be removed from SUMDA_ENCRYPTION_KEYS everywhere`,
    );
  }
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('encryption keys of diary text: generate, status, rotate (re-encrypt old entries)');

  examples(
    keys
      .command('generate')
      .description('print a new key for SUMDA_ENCRYPTION_KEYS (stdout only; nothing is stored)')
      .option('--id <id>', 'key id, 1-32 of [A-Za-z0-9_-] (default: k<YYYYMMDD>, Asia/Seoul)')
      .action(
        act<{ id?: string }>(async (ctx, opts) => {
          const { assertKeyId, defaultKeyId } = await import('../../keys/rotation.ts');
          const { generateKey } = await import('../../crypto/index.ts');
          const id = opts.id ?? defaultKeyId();
          assertKeyId(id, ctx.config.encryptionKeys?.map((k) => k.id) ?? []);
          ctx.out.line(generateKey(id));
          ctx.out.note(
            [
              `new key ${id}: keep it in your secret store; it is printed once and sumda never stores it.`,
              'to rotate: put it FIRST in SUMDA_ENCRYPTION_KEYS and keep the current keys after it',
              `  (SUMDA_ENCRYPTION_KEYS=${id}:…,<current-id>:…), on the app servers and every worker;`,
              'then run `sumda keys rotate`. Remove an old key only when `sumda keys status` shows 0 entries under it.',
            ].join('\n'),
          );
        }),
      ),
    ['sumda keys generate', 'sumda keys generate --id k2026q4 > new-key.txt'],
  );

  examples(
    keys
      .command('status')
      .description(
        'entries per key (active, old, NOT configured) and the re-encryption job; exit 4 on unopenable entries',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { keyStatus } = await import('../../keys/rotation.ts');
          const status = await keyStatus(await ctx.db(), await keyring(ctx));
          if (ctx.out.json) ctx.out.data(status);
          else printStatus(ctx, status);
          return status.unopenable > 0 ? ExitCode.drift : ExitCode.ok;
        }),
      ),
    ['sumda keys status', 'sumda keys status --json | jq .pending'],
  );

  examples(
    keys
      .command('rotate')
      .description(
        're-encrypt every entry not sealed with the active key (the first of SUMDA_ENCRYPTION_KEYS): admin, audited',
      )
      .option('--batch-size <n>', 'entries per batch (one transaction, one job)', '500')
      .option('--inline', 'run the batches in this command, with progress, instead of a background job')
      .option('--dry-run', 'count what would be re-encrypted; change nothing')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ batchSize: string; inline?: boolean }>(async (ctx, opts) => {
          const rotation = await import('../../keys/rotation.ts');
          const batchSize = parseIntFlag(opts.batchSize, '--batch-size', 1, 10_000);
          const db = await ctx.db();
          const ring = await keyring(ctx);
          // The role is checked before anything is counted or asked; a refusal is audited.
          const op = opts.dryRun ? null : await ctx.operation();
          if (op) await rotation.authorizeRotation(db, op);
          const plan = await rotation.planRotation(db, ring);
          rotation.assertRotatable(plan);
          const byKey = plan.keys
            .filter((k) => k.state !== 'active' && k.entries > 0)
            .map((k) => `${k.keyId} ${k.entries}`)
            .join(', ');
          if (plan.toReencrypt === 0 || opts.dryRun || !op) {
            if (ctx.out.json)
              return ctx.out.data({ ...plan, batchSize, dryRun: Boolean(opts.dryRun), changed: false });
            if (plan.toReencrypt === 0)
              return ctx.out.line(`nothing to re-encrypt: every entry is sealed with ${plan.activeKeyId}`);
            return ctx.out.line(
              `would re-encrypt ${plan.toReencrypt} entries (${byKey}) to ${plan.activeKeyId} in batches of ${batchSize}; nothing was changed (--dry-run)`,
            );
          }
          await confirm({
            yes: Boolean(opts.yes),
            action: `re-encrypt ${plan.toReencrypt} diary entries (${byKey}) with key ${plan.activeKeyId}`,
            typed: String(plan.toReencrypt),
          });

          if (opts.inline) {
            const started = await rotation.startRotation(db, null, op, plan, { batchSize, inline: true });
            const bar = ctx.progress('re-encrypt', plan.toReencrypt);
            const result = await rotation.reencryptAll(db, ring, {
              batchSize,
              requestId: ctx.requestId,
              signal: ctx.signal,
              onBatch: (b) => bar.tick(b.done + b.skipped),
            });
            bar.done();
            if (ctx.out.json) ctx.out.data({ ...result, rotationId: started.rotationId, mode: 'inline' });
            else {
              const rate = result.ms > 0 ? Math.round((result.done / result.ms) * 1000) : 0;
              ctx.out.success(
                `rotation #${started.rotationId}: re-encrypted ${result.done} entries to ${result.activeKeyId} ` +
                  `in ${(result.ms / 1000).toFixed(1)}s (${rate}/s)`,
              );
            }
            if (result.skipped > 0) {
              ctx.out.warn(
                `${result.skipped} entries failed to open and were skipped (admin.error_logs, service diary); ` +
                  'once fixed, `sumda keys rotate` again retries them',
              );
            }
            if (result.stopped === 'interrupted') {
              ctx.out.warn(
                `stopped with ${result.remaining} entries left; run keys rotate again to carry on`,
              );
              return ExitCode.interrupted;
            }
            if (result.stopped === 'locked') {
              ctx.out.warn(
                `${result.remaining} entries stayed locked by other writers; run keys rotate again (or without --inline)`,
              );
              return ExitCode.failure;
            }
            return ExitCode.ok;
          }

          const boss = await ctx.boss();
          const started = await rotation.startRotation(db, boss, op, plan, { batchSize, inline: false });
          if (ctx.out.json) return ctx.out.data({ ...started, batchSize, mode: 'job' });
          ctx.out.success(
            started.alreadyQueued
              ? `rotation #${started.rotationId} to ${started.activeKeyId} recorded; a re-encryption job was already queued and carries on (none added)`
              : `rotation #${started.rotationId}: ${started.toReencrypt} entries to re-encrypt to ${started.activeKeyId} in batches of ${batchSize}; job ${started.jobId} queued`,
          );
          ctx.out.note('workers on keys.reencrypt run it; follow it with `sumda keys status`');
        }),
      ),
    [
      'sumda keys rotate --dry-run',
      'sumda keys rotate --batch-size 1000 --yes',
      'sumda keys rotate --inline   # small installs: batches run here, with a progress bar',
    ],
  );
}
