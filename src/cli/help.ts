/** Help text conventions: every command ends its --help with two or three real examples. */
import type { Command } from 'commander';

export function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}

export const EXIT_CODES: [number, string][] = [
  [0, 'ok'],
  [1, 'failure (unexpected error, database unreachable)'],
  [2, 'usage or bad input (unknown id, invalid flag, refused confirmation, no TTY without --yes)'],
  [3, 'schema not migrated or migrations pending (any command; db status --check)'],
  [4, 'drift or validation failure (db validate, db status --check, audit verify, policy lint, keys status)'],
  [5, 'lock busy (another runner holds the lock)'],
  [6, 'permission denied (the actor lacks the role)'],
  [130, 'interrupted (Ctrl-C / SIGTERM)'],
];

export function exitCodeHelp(): string {
  return `\nExit codes:\n${EXIT_CODES.map(([c, d]) => `  ${String(c).padStart(3)}  ${d}`).join('\n')}\n`;
}
