/** `sumda admin …`: operator accounts. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { readInput } from '../input.ts';

async function readPassword(fromStdin: boolean | undefined): Promise<string | null> {
  if (!fromStdin) return null;
  const text = (await readInput('-', '--password-stdin')).replace(/\r?\n$/, '');
  if (text.length < 12) throw new UsageError('--password-stdin: use at least 12 characters');
  return text;
}

export function registerAdmin(program: Command): void {
  const admin = program
    .command('admin')
    .description('operator accounts and roles (operator < manager < admin)');

  examples(
    admin
      .command('create <email>')
      .description('create an operator account')
      .option('--role <role>', 'operator | manager | admin', 'operator')
      .option('--name <name>', 'display name')
      .option('--password-stdin', 'read a password from stdin (hashed with scrypt, never logged)')
      .option('--bootstrap', 'create the first admin of an empty installation (needs no --as)')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ role: string; name?: string; passwordStdin?: boolean; bootstrap?: boolean }>(
          async (ctx, opts, [email]) => {
            const { bootstrapAdmin, createAdmin, parseRole } = await import('../../admins/index.ts');
            const db = await ctx.db();
            const password = await readPassword(opts.passwordStdin);
            const input = { email: email!, displayName: opts.name ?? null, password };
            const row = opts.bootstrap
              ? await bootstrapAdmin(
                  db,
                  {
                    actor: null,
                    requestId: ctx.requestId,
                    command: ctx.commandLine,
                    auditKeys: ctx.config.auditKeys,
                  },
                  input,
                )
              : await createAdmin(db, await ctx.operation(), { ...input, role: parseRole(opts.role) });
            if (ctx.out.json) return ctx.out.data(row);
            ctx.out.success(`created ${row.role} ${row.email}`);
            if (opts.bootstrap) ctx.out.note(`next: export SUMDA_ACTOR=${row.email}`);
          },
        ),
      ),
    [
      'sumda admin create ops-lead@sumda.kr --bootstrap',
      'sumda admin create mina@sumda.kr --role manager --as ops-lead@sumda.kr',
      'printf %s "$PW" | sumda admin create jun@sumda.kr --password-stdin',
    ],
  );

  examples(
    admin
      .command('list')
      .description('operator accounts')
      .option('--all', 'include disabled accounts')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ all?: boolean }>(async (ctx, opts) => {
          const { listAdmins } = await import('../../admins/index.ts');
          const rows = await listAdmins(await ctx.db(), { includeDisabled: opts.all });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['email', 'role', 'name', 'password', 'created', 'by', 'disabled'],
            rows.map((r) => [
              r.email,
              r.role,
              r.display_name,
              r.has_password ? 'set' : '',
              r.created_at,
              r.created_by,
              r.disabled_at,
            ]),
          );
        }),
      ),
    ['sumda admin list', 'sumda admin list --all --json'],
  );

  examples(
    admin
      .command('grant-login <email> <pg-login>')
      .description(
        'map an operator to a database login: connected as it, the actor is that operator and --as may not say otherwise',
      )
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [email, login]) => {
          const { grantLogin } = await import('../../admins/index.ts');
          const result = await grantLogin(await ctx.db(), await ctx.operation(), email!, login!, opts.reason);
          ctx.out.success(`${result.email} (${result.role}) now acts as database login ${result.login}`);
        }),
      ),
    [
      `psql -c "create role jun login password '…' in role sumda_operator" && sumda admin grant-login jun@sumda.kr jun --reason "own login"`,
    ],
  );

  const token = admin
    .command('token')
    .description('operator tokens: proof of who you are over a database login shared with others');

  examples(
    token
      .command('issue <email>')
      .description(
        'issue a token for an operator (yourself, or anyone as an admin); shown once, stored hashed',
      )
      .option('--expires <duration>', 'lifetime, at most 366d', '90d')
      .option('--label <text>', 'what it is for, e.g. the laptop it lives on')
      .option('--reason <text>', 'why, for the audit trail')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ expires: string; label?: string; reason?: string }>(async (ctx, opts, [email]) => {
          const { parseDuration } = await import('../../time/grammar.ts');
          const { issueToken } = await import('../../admins/tokens.ts');
          const days = Math.ceil(parseDuration(opts.expires, '--expires') / 86_400_000);
          const issued = await issueToken(await ctx.db(), await ctx.operation(), {
            email: email!,
            days,
            label: opts.label ?? null,
            reason: opts.reason ?? null,
          });
          if (ctx.out.json) return ctx.out.data(issued);
          ctx.out.line(issued.token);
          ctx.out.note(
            `token ${issued.id} for ${issued.email}, expires ${issued.expiresAt.toISOString()}: shown once; give it to them as SUMDA_TOKEN`,
          );
        }),
      ),
    [
      'sumda admin token issue jun@sumda.kr --expires 30d --label "jun laptop"',
      'SUMDA_TOKEN=$(sumda admin token issue me@sumda.kr --expires 7d) sumda moderation block <id> --reason spam',
    ],
  );

  examples(
    token
      .command('list')
      .description('tokens (never their secrets): live ones unless --all')
      .option('--email <email>', "only this operator's")
      .option('--all', 'include expired and revoked tokens')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ email?: string; all?: boolean }>(async (ctx, opts) => {
          const { listTokens } = await import('../../admins/tokens.ts');
          const rows = await listTokens(await ctx.db(), { email: opts.email, all: opts.all });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['id', 'operator', 'label', 'state', 'created', 'by', 'expires', 'last used'],
            rows.map((r) => [
              r.id,
              r.email,
              r.label,
              r.state,
              r.created_at,
              r.created_by,
              r.expires_at,
              r.last_used_at,
            ]),
          );
        }),
      ),
    ['sumda admin token list', 'sumda admin token list --email jun@sumda.kr --all --json'],
  );

  examples(
    token
      .command('revoke <token-id>')
      .description("revoke a token (your own, or anyone's as an admin); it stops proving at once")
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [id]) => {
          const { revokeToken } = await import('../../admins/tokens.ts');
          const result = await revokeToken(await ctx.db(), await ctx.operation(), id!, opts.reason);
          ctx.out.line(
            result.revoked
              ? `token ${result.id} of ${result.email} revoked`
              : `token ${result.id} of ${result.email} was already revoked`,
          );
        }),
      ),
    ['sumda admin token revoke 3f1c…-…  --reason "laptop lost"'],
  );

  examples(
    admin
      .command('set-role <email> <role>')
      .description('change an operator role (the last admin cannot be demoted)')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [email, role]) => {
          const { setRole, parseRole } = await import('../../admins/index.ts');
          const result = await setRole(
            await ctx.db(),
            await ctx.operation(),
            email!,
            parseRole(role!),
            opts.reason,
          );
          ctx.out.line(
            result.changed
              ? `${result.email} is now ${result.role}`
              : `${result.email} already is ${result.role}`,
          );
        }),
      ),
    ['sumda admin set-role mina@sumda.kr admin --reason "on-call lead from December"'],
  );

  examples(
    admin
      .command('disable <email>')
      .description('disable an operator account (accounts are never deleted)')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .option('--yes', 'confirm without a prompt (scripts)')
      .action(
        act<{ reason: string; yes?: boolean }>(async (ctx, opts, [email]) => {
          const { disableAdmin } = await import('../../admins/index.ts');
          const op = await ctx.operation();
          await confirm({ yes: Boolean(opts.yes), action: `disable operator ${email}` });
          await disableAdmin(await ctx.db(), op, email!, opts.reason);
          ctx.out.line(`${email} disabled`);
        }),
      ),
    [
      'sumda admin disable jun@sumda.kr --reason "left the team"',
      'sumda admin disable jun@sumda.kr --reason "left" --yes',
    ],
  );
}
