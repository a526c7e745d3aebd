/**
 * `sumda completion bash|zsh|fish`: a shell completion script for every command, subcommand and
 * option, generated from the same command tree `--help` prints, so it cannot fall behind.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { act } from './context.ts';
import { examples } from './help.ts';

interface Node {
  path: string;
  description: string;
  options: string[];
  children: Node[];
}

const SHELLS = ['bash', 'zsh', 'fish'] as const;

function tree(command: Command, path = ''): Node {
  const options = command.options.map((o) => o.long).filter((o): o is string => Boolean(o));
  return {
    path,
    description: command.description(),
    options: [...new Set([...options, '--help'])],
    children: command.commands
      .filter((c) => c.name() !== 'help')
      .map((c) => tree(c, path ? `${path} ${c.name()}` : c.name())),
  };
}

function walk(node: Node, visit: (n: Node) => void): void {
  visit(node);
  for (const c of node.children) walk(c, visit);
}

const name = (n: Node) => n.path.split(' ').at(-1)!;

export function bashScript(root: Node): string {
  const children: string[] = [];
  const options: string[] = [];
  walk(root, (n) => {
    children.push(`    "${n.path}") echo "${n.children.map(name).join(' ')}" ;;`);
    options.push(`    "${n.path}") echo "${[...new Set([...n.options, ...root.options])].join(' ')}" ;;`);
  });
  return `# sumda completion for bash: eval "$(sumda completion bash)" (e.g. in ~/.bashrc)
_sumda_children() {
  case "$1" in
${children.join('\n')}
  esac
}
_sumda_options() {
  case "$1" in
${options.join('\n')}
  esac
}
_sumda() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word i
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == -* ]] && continue
    case " $(_sumda_children "$path") " in
      *" $word "*) path="\${path:+$path }$word" ;;
    esac
  done
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_sumda_options "$path")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_sumda_children "$path")" -- "$cur"))
  fi
}
complete -F _sumda sumda
`;
}

export function zshScript(root: Node): string {
  return `# sumda completion for zsh: eval "$(sumda completion zsh)" (e.g. in ~/.zshrc)
autoload -U +X bashcompinit && bashcompinit
${bashScript(root).split('\n').slice(1).join('\n')}`;
}

const fishQuote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function fishScript(root: Node): string {
  const lines = [
    '# sumda completion for fish: sumda completion fish > ~/.config/fish/completions/sumda.fish',
  ];
  lines.push('complete -c sumda -f');
  walk(root, (n) => {
    const words = n.path ? n.path.split(' ') : [];
    // At this node: every word of its path seen, and none of its children yet.
    const seen = words.map((w) => `__fish_seen_subcommand_from ${w}`);
    const notChild = n.children.length
      ? [`not __fish_seen_subcommand_from ${n.children.map(name).join(' ')}`]
      : [];
    const condition = words.length === 0 ? '__fish_use_subcommand' : [...seen, ...notChild].join('; and ');
    for (const c of n.children) {
      lines.push(
        `complete -c sumda -n ${fishQuote(condition)} -a ${fishQuote(name(c))} -d ${fishQuote(c.description.slice(0, 80))}`,
      );
    }
    for (const o of n.options) {
      lines.push(`complete -c sumda -n ${fishQuote(condition)} -l ${o.replace(/^--/, '')}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

/** Registers `sumda completion`; `full` builds the program with every command module loaded. */
export function registerCompletion(program: Command, full: () => Promise<Command>): void {
  examples(
    program
      .command('completion <shell>')
      .description('print a shell completion script (bash, zsh or fish)')
      .action(
        act(async (ctx, _opts, [shell]) => {
          if (!(SHELLS as readonly string[]).includes(shell!)) {
            throw new UsageError(`completion ${shell}: use ${SHELLS.join(', ')}`);
          }
          const root = tree(await full());
          const script =
            shell === 'bash' ? bashScript(root) : shell === 'zsh' ? zshScript(root) : fishScript(root);
          ctx.out.line(script.trimEnd());
        }),
      ),
    [
      'eval "$(sumda completion bash)"     # in ~/.bashrc',
      'eval "$(sumda completion zsh)"      # in ~/.zshrc',
      'sumda completion fish > ~/.config/fish/completions/sumda.fish',
    ],
  );
}
