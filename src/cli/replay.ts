/**
 * Impact replays as the CLI shows them (`slip replay`, `policy publish|activate --dry-run`): the
 * domain's replayCandidate with a progress bar, and the counts side by side.
 */
import type { CommandContext } from './context.ts';

/** Replays a candidate slip or ethics config against the active ones, with a progress bar. */
export async function runReplay(
  ctx: CommandContext,
  policy: 'slip' | 'ethics',
  candidateConfig: unknown,
  days: number,
  scope = 'global',
) {
  const { PolicyResolver } = await import('../policy/resolver.ts');
  const { replayCandidate } = await import('../slips/replay.ts');
  const db = await ctx.db();
  let bar: ReturnType<CommandContext['progress']> | undefined;
  const result = await replayCandidate(db, new PolicyResolver(db), policy, candidateConfig, {
    days,
    scope,
    onTotal: (entries) => {
      bar = ctx.progress('replay', entries);
    },
    onProgress: (n) => bar?.set(n),
  });
  bar?.done();
  return result;
}

/** Prints a replay: the counts side by side and a few anonymised examples (ids and scores only). */
export async function printReplay(
  ctx: CommandContext,
  result: import('../slips/replay.ts').ReplayResult,
  label: string,
) {
  if (ctx.out.json) return ctx.out.data(result);
  ctx.out.line(`${label}: ${result.entries} entries of ${result.users} users over ${result.days} days`);
  ctx.out.table(
    ['', 'active', 'candidate', 'change'],
    [
      [
        'entries normal',
        result.baseline.entries.normal,
        result.candidate.entries.normal,
        result.newly.normal ? `+${result.newly.normal} newly` : '',
      ],
      [
        'entries warning',
        result.baseline.entries.warning,
        result.candidate.entries.warning,
        result.newly.warning ? `+${result.newly.warning} newly` : '',
      ],
      [
        'entries slipped',
        result.baseline.entries.slipped,
        result.candidate.entries.slipped,
        result.newly.slipped ? `+${result.newly.slipped} newly` : '',
      ],
      [
        'users warned',
        result.baseline.users.warning,
        result.candidate.users.warning,
        result.newlyUsers.warning ? `${result.newlyUsers.warning} newly` : '',
      ],
      [
        'users slipped',
        result.baseline.users.slipped,
        result.candidate.users.slipped,
        result.newlyUsers.slipped ? `${result.newlyUsers.slipped} newly` : '',
      ],
      ['users back to normal', '', '', result.newlyUsers.normal || ''],
      ['crisis flow', result.baseline.crisis, result.candidate.crisis, ''],
      ['moderation queue', result.baseline.moderation, result.candidate.moderation, ''],
    ],
  );
  if (result.examples.length > 0) {
    ctx.out.line('examples (anonymised):');
    ctx.out.table(
      ['user', 'analysis', 'tier_a', 'valence', 'active', 'candidate', 'rule'],
      result.examples.map((e) => [e.user, e.analysisId, e.tierA, e.valence, e.baseline, e.candidate, e.rule]),
    );
  }
}
