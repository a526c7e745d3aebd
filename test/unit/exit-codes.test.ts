import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { exitCodeHelp } from '../../src/cli/help.ts';
import { EXIT_CODE_MEANINGS, ExitCode } from '../../src/errors.ts';

/** The rows of README's "Exit codes" table as [code, meaning], backticks dropped. */
async function readmeExitCodes(): Promise<[number, string][]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('\n## Exit codes\n')[1]!.split('\n## ')[0]!;
  return [...section.matchAll(/^\| (\d+) \| (.+) \|$/gm)].map((m) => [
    Number(m[1]),
    m[2]!.replaceAll('`', ''),
  ]);
}

describe('exit codes are listed once', () => {
  it('every ExitCode has a meaning, and every meaning a code', () => {
    expect(Object.keys(EXIT_CODE_MEANINGS).map(Number)).toEqual(
      Object.values(ExitCode).sort((a, b) => a - b),
    );
  });

  it('--help prints the table from the source', () => {
    const help = exitCodeHelp();
    for (const [code, meaning] of Object.entries(EXIT_CODE_MEANINGS)) {
      expect(help).toContain(`${code.padStart(3)}  ${meaning}`);
    }
  });

  it("README's table has the same codes in order, each row starting with the source's meaning", async () => {
    const rows = await readmeExitCodes();
    expect(rows.map(([code]) => code)).toEqual(Object.keys(EXIT_CODE_MEANINGS).map(Number));
    for (const [code, meaning] of rows) {
      expect(meaning.startsWith(EXIT_CODE_MEANINGS[code as ExitCode]), `README row ${code}: ${meaning}`).toBe(
        true,
      );
    }
  });
});
