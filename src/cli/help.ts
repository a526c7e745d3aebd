/** Help text conventions: every command ends its --help with two or three real examples. */
import type { Command } from 'commander';
import { EXIT_CODE_MEANINGS } from '../errors.ts';

export function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

export function exitCodeHelp(): string {
  const rows = Object.entries(EXIT_CODE_MEANINGS).map(
    ([code, meaning]) => `  ${code.padStart(3)}  ${meaning}`,
  );
  return `\nExit codes:\n${rows.join('\n')}\n`;
}
