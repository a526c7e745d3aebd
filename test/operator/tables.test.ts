/**
 * Tables an operator reads at a terminal: fitted to its width (long cells wrap, Hangul counts two
 * columns), UUIDs shortened to 8 characters that the slip and user commands accept back, `--wide`
 * for everything whole, an empty result said in words (and `[]` with --json), `user show` by e-mail.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOutput, displayWidth, fitColumns, renderRecords, wrapText } from '../../src/cli/output.ts';
import { checkSlips } from '../../src/slips/live.ts';
import { cliEnv, seedTeam, type Team } from '../admins/support.ts';
import { deps, openRows, risky, userWith } from '../slips/support.ts';
import { captureLogs, type TestKeys, testKeys } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const { log } = captureLogs('info');
let keys: TestKeys;
let team: Team;

beforeAll(async () => {
  keys = testKeys();
  team = await seedTeam(database.db);
});

describe('display width and wrapping', () => {
  it('Hangul and other wide characters take two columns; colour codes none', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('오늘의 장면')).toBe(11);
    expect(displayWidth('\u001b[1mbold\u001b[22m')).toBe(4);
  });

  it('wraps at spaces, breaks a word longer than a line, never exceeds the width', () => {
    const text = '오늘은 아침부터 비가 내려서 하루 종일 마음이 가라앉았다 supercalifragilisticexpialidocious';
    const lines = wrapText(text, 12).split('\n');
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(12);
    expect(lines.join('').replaceAll(' ', '')).toBe(text.replaceAll(' ', ''));
  });

  it('narrow columns keep their width; the wide ones share the rest', () => {
    expect(fitColumns([10, 10], 80)).toBeUndefined();
    const widths = fitColumns([6, 10, 200, 120], 80)!;
    expect(widths.slice(0, 2)).toEqual([6, 10]);
    expect(widths.reduce((a, b) => a + b, 0) + 5).toBeLessThanOrEqual(80);
  });
});

describe('output.table', () => {
  const written: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    delete process.env.COLUMNS;
    written.length = 0;
  });
  const capture = () =>
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });

  it('fits COLUMNS, shortens marked ids unless wide, and says when there is nothing', () => {
    capture();
    process.env.COLUMNS = '60';
    const id = '0c1d2e3f-1111-4222-8333-944455556666';
    const rows = [[id, '오늘은 비가 와서 산책 대신 집에서 책을 읽었다. 마음이 조금 차분해졌다.', 3]];
    createOutput({ json: false }).table(['id', '오늘의 장면', 'n'], rows, { shortIds: [0] });
    const table = written.join('');
    for (const line of table.trimEnd().split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(60);
    expect(table).toContain('0c1d2e3f');
    expect(table).not.toContain(id);

    written.length = 0;
    createOutput({ json: false, wide: true }).table(['id', '오늘의 장면', 'n'], rows, { shortIds: [0] });
    expect(written.join('')).toContain(id);

    written.length = 0;
    createOutput({ json: false }).table(['id'], [], { empty: 'no slips in the last 7 days' });
    expect(written.join('')).toBe('no slips in the last 7 days\n');
  });

  it('too many columns to fit even squeezed: a record per row, each line within the width', () => {
    capture();
    process.env.COLUMNS = '60';
    const head = ['id', 'user', 'state', 'plan', 'amount', 'attempts', 'next billing', 'last error', '장면'];
    const rows = [
      ['0c1d2e3f-1111-4222-8333-944455556666', 'mina@example.com', 'past_due', 'premium', 9900, 2],
      ['1c1d2e3f-1111-4222-8333-944455556666', 'jun@example.com', 'active', 'basic', 4900, 0],
    ].map((r) => [...r, '2026-12-04 09:00Z', 'card declined by the issuer (limit)', '오늘의 장면']);
    createOutput({ json: false }).table(head, rows, { shortIds: [0] });
    const text = written.join('').trimEnd();
    for (const line of text.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(60);
    expect(text.split('\n')[0]).toMatch(/^-\[ RECORD 1 \]-+$/);
    expect(text).toContain('-[ RECORD 2 ]');
    expect(text).toMatch(/^id +\| 0c1d2e3f$/m);
    expect(text).toMatch(/^장면 +\| 오늘의 장면$/m);
    expect(text.replaceAll(/\s+/g, '')).toContain('carddeclinedbytheissuer(limit)'.replaceAll(/\s+/g, ''));
    // A view redrawn in place (`sumda top`) keeps its table.
    written.length = 0;
    createOutput({ json: false }).table(head, rows, { shortIds: [0], records: false });
    expect(written.join('')).toContain('┌');
    // Wide enough, the same rows are a table again; --wide always is one.
    written.length = 0;
    process.env.COLUMNS = '200';
    createOutput({ json: false }).table(head, rows, { shortIds: [0] });
    expect(written.join('')).toContain('┌');
    expect(renderRecords(['a'], [['x'.repeat(100)]], 40).split('\n').length).toBeGreaterThan(2);
  });
});

describe('through the CLI', () => {
  it('slip list at 80 columns, then show and release by the short id; --wide; empty; user show by e-mail', {
    timeout: 120_000,
  }, async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 20, r: risky(3.9) },
      { minutesAgo: 10, r: risky(3.9) },
    ]);
    await database.db
      .updateTable('users')
      .set({ email: 'Mina.Kim@example.com' })
      .where('id', '=', userId)
      .execute();
    await checkSlips(
      deps(database.db, log),
      entries.map((e) => e.analysisId),
    );
    const [open] = await openRows(database.db, userId);
    const env = { ...cliEnv(database.url, team.manager.email), COLUMNS: '80' };

    const list = await runSumda(['slip', 'list', '--user', 'mina.kim@example.com'], { env });
    expect(list.code, list.stderr).toBe(0);
    for (const line of list.stdout.trimEnd().split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(80);
    expect(list.stdout).toContain(open!.id.slice(0, 8));
    expect(list.stdout).not.toContain(open!.id);

    const wide = await runSumda(['slip', 'list', '--user', userId, '--wide'], { env });
    expect(wide.stdout).toContain(open!.id);

    const show = await runSumda(['slip', 'show', open!.id.slice(0, 8), '--json'], { env });
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout).slip.id).toBe(open!.id);
    const release = await runSumda(['slip', 'release', open!.id.slice(0, 8), '--reason', 'reviewed'], {
      env,
    });
    expect(release.code, release.stderr).toBe(0);
    expect(release.stdout).toContain(open!.id);

    const none = await runSumda(['slip', 'list', '--user', userId], { env });
    expect(none.stdout.trim()).toBe('no open slips');
    const noneJson = await runSumda(['slip', 'list', '--user', userId, '--json'], { env });
    expect(JSON.parse(noneJson.stdout)).toEqual([]);

    const user = await runSumda(['user', 'show', 'MINA.KIM@example.com', '--json'], { env });
    expect(user.code, user.stderr).toBe(0);
    expect(JSON.parse(user.stdout).user.id).toBe(userId);
    const nobody = await runSumda(['user', 'show', 'nobody@example.com'], { env });
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain('no user with e-mail');
  });
});
