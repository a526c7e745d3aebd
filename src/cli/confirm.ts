/**
 * Confirmation of destructive actions. `--yes` skips the question; without a TTY and without
 * `--yes` we refuse with exit 2 rather than hang a CI job waiting for input that never comes.
 */
import { UsageError } from '../errors.ts';

export interface ConfirmOptions {
  yes: boolean;
  /** What will happen, e.g. "revert 2 migrations (0004_x, 0003_y)". */
  action: string;
  /** When set, the operator must type this exact text (a target name or a count). */
  typed?: string;
}

export async function confirm(options: ConfirmOptions): Promise<void> {
  if (options.yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(`refusing to ${options.action} without confirmation: no terminal to ask`, {
      hint: 'pass --yes to confirm non-interactively',
    });
  }
  const prompts = await import('@inquirer/prompts');
  let ok: boolean;
  try {
    if (options.typed !== undefined) {
      const answer = await prompts.input({ message: `To ${options.action}, type ${options.typed}:` });
      ok = answer.trim() === options.typed;
    } else {
      ok = await prompts.confirm({
        message: `${options.action[0]!.toUpperCase()}${options.action.slice(1)}?`,
        default: false,
      });
    }
  } catch (error) {
    // Ctrl-C at the prompt
    if ((error as Error).name === 'ExitPromptError') throw new UsageError('cancelled; nothing was changed');
    throw error;
  }
  if (!ok) throw new UsageError('not confirmed; nothing was changed');
}
