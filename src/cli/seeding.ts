/** `sumda seed` and `sumda demo` seed the same way: the domain seeder with the CLI's progress bars and key warning. */
import type { CommandContext } from './context.ts';

export async function runSeed(
  ctx: CommandContext,
  options: { users: number; days: number; seed: number; endDate?: string },
  operation?: import('../audit/index.ts').Operation,
): Promise<import('../seed/index.ts').SeedResult> {
  const { seed } = await import('../seed/index.ts');
  const { loadCheckedKeyring } = await import('../keys/checks.ts');
  const { authorize } = await import('../admins/permissions.ts');
  const db = await ctx.db();
  // Seeding writes users and diaries: only an admin, named and checked (the demo passes its own).
  const op = operation ?? (await ctx.operation());
  await authorize(db, op, 'seed.run');
  const { keyring, devKey } = await loadCheckedKeyring(ctx.config, ctx.log, db);
  if (devKey?.generated) {
    ctx.out.warn(
      `generated a DEVELOPMENT encryption key in ${devKey.path}; set SUMDA_ENCRYPTION_KEYS for real data`,
    );
  }
  const bars = new Map<string, ReturnType<CommandContext['progress']>>();
  const result = await seed(db, keyring, op, options, (phase, done, total) => {
    let bar = bars.get(phase);
    if (!bar) {
      bar = ctx.progress(phase, total);
      bars.set(phase, bar);
    }
    bar.setTotal(Math.max(total, done));
    bar.set(done);
  });
  for (const bar of bars.values()) bar.done();
  return result;
}
