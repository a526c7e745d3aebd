/**
 * The sumda command line: global options, the one list of commands, and commander's own errors
 * (unknown command or option, missing argument) mapped to exit 2 with a "did you mean".
 */
import { Command, CommanderError, Help, Option } from 'commander';
import { ExitCode } from '../errors.ts';
import { shortenArguments } from '../util/quote.ts';
import { COMMANDS } from './commands/index.ts';
import { MANIFEST } from './commands/manifest.ts';
import { registerCompletion } from './completion.ts';
import { exitCodeHelp } from './help.ts';
import { recordStart, type StartInfo } from './started.ts';

export interface BuildOptions {
  /** Load every command module (completion scripts, the manifest check); default: only those named in argv. */
  all?: boolean;
  /** false: build every subcommand of the named group, not only the one argv names. */
  narrow?: boolean;
}

/** A word that can name a subcommand (not an option, not `help`, which lists them all). */
const SUBCOMMAND = /^(?!help$)[a-z][a-z0-9-]*$/;

/**
 * What a subcommand that is not needed is built as: every call on it (`.option(…)`,
 * `.description(…)`, `.action(…)`, `.command(…)`) returns it again and builds nothing.
 */
const UNBUILT: Command = new Proxy(() => {}, {
  get: (_target, key) => (key === 'then' || typeof key === 'symbol' ? undefined : () => UNBUILT),
}) as unknown as Command;

/**
 * Registers a command module with only one subcommand of `group` built, the one the command line
 * names: a group's other subcommands (their options, help texts and examples) cost every command
 * a few milliseconds of start-up for nothing. The module's own code runs unchanged; only `group`'s
 * `.command()` hands back UNBUILT for the other names. Returns false when no subcommand of `group`
 * is called `sub`, and the caller builds the group whole.
 */
function onlySubcommand(program: Command, register: (program: Command) => void, group: string, sub: string) {
  let found = false;
  const programCommand = program.command;
  program.command = function (this: Command, ...args: Parameters<Command['command']>) {
    const created = programCommand.apply(this, args) as Command;
    if (created.name() !== group) return created;
    const groupCommand = created.command;
    created.command = function (this: Command, ...inner: Parameters<Command['command']>) {
      if (inner[0].split(' ')[0] !== sub) return UNBUILT;
      found = true;
      return groupCommand.apply(this, inner) as Command;
    } as Command['command'];
    return created;
  } as Command['command'];
  try {
    register(program);
  } finally {
    program.command = programCommand;
    const built = program.commands.find((c) => c.name() === group);
    if (built && Object.hasOwn(built, 'command')) delete (built as Partial<Command>).command;
  }
  return found;
}

/**
 * The program. Only the command modules this command line names are loaded; every other top-level
 * command is listed from the manifest (name, description, usage term), which is all `sumda --help`
 * and "did you mean" need; naming it on the command line loads its real module. A module missing from the manifest is loaded, so a stale manifest costs
 * time, never a command.
 */
export async function buildProgram(
  argv: readonly string[] = process.argv.slice(2),
  options: BuildOptions = {},
): Promise<Command> {
  const named = new Set(argv);
  const listedTerms = new Map<Command, string>();
  const program = new Command('sumda')
    .description(
      'Operations CLI and job runner for 숨다 (Sumda): migrations, policies, workers, slips, reports',
    )
    .addOption(
      new Option('--database-url <url>', 'PostgreSQL URL (default: the embedded server)').env('DATABASE_URL'),
    )
    .addOption(
      new Option('--data-dir <dir>', 'data folder of the embedded server and dev key').env('SUMDA_DATA_DIR'),
    )
    .addOption(
      new Option('--as <email>', 'operator identity for changes (an admin.admins e-mail)').env('SUMDA_ACTOR'),
    )
    .addOption(new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').env('LOG_LEVEL'))
    .option('--verbose', 'debug logs and stack traces on errors')
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .option(
      '--wide',
      'tables as wide as they need, with full ids (default: fitted to the terminal, ids shortened; a record per row when too many columns)',
    )
    // Commander's own errors repeat what was typed: keep them to one readable line too.
    .configureOutput({ outputError: (text, write) => write(`${shortenArguments(text.trimEnd(), argv)}\n`) })
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .configureHelp({
      sortSubcommands: false,
      showGlobalOptions: true,
      subcommandTerm(this: Help, cmd: Command) {
        return listedTerms.get(cmd) ?? Help.prototype.subcommandTerm.call(this, cmd);
      },
    })
    .addHelpText('after', `${exitCodeHelp()}\nsumda --version prints the version.\n`)
    .hook('preAction', (_thisCommand, actionCommand) => {
      if (actionCommand.optsWithGlobals().color === false) process.env.NO_COLOR = '1';
    });
  // A command line that starts with a command needs only that command's module: commander
  // dispatches to it, and its help and "did you mean" are its own. The other top-level commands are
  // listed only for `sumda --help`, `sumda help` and a mistyped first word.
  const first = argv[0];
  const listOthers = options.all || !COMMANDS.some((m) => MANIFEST[m.file]?.some((e) => e.name === first));
  // `sumda policy list …`: of policy's subcommands only `list` is built (see onlySubcommand).
  const second = argv[1];
  const narrow =
    !options.all && !listOthers && options.narrow !== false && second !== undefined && SUBCOMMAND.test(second)
      ? { group: first!, sub: second }
      : undefined;
  for (const module of COMMANDS) {
    const entries = MANIFEST[module.file];
    if (options.all || !entries || entries.some((e) => named.has(e.name))) {
      const register = await module.load();
      if (narrow && entries?.some((e) => e.name === narrow.group)) {
        // Not one of the group's subcommands (a typo, or not a group at all): build it whole, so
        // commander's own errors and "did you mean" see every subcommand.
        if (!onlySubcommand(program, register, narrow.group, narrow.sub)) {
          return buildProgram(argv, { ...options, narrow: false });
        }
      } else {
        register(program);
      }
      continue;
    }
    if (!listOthers) continue;
    for (const entry of entries) {
      listedTerms.set(program.command(entry.name).description(entry.description), entry.term);
    }
  }
  // `sumda completion …` and the full listings only: a named command never needs it.
  if (listOthers) registerCompletion(program, () => buildProgram([], { all: true }));
  program.commands.forEach(applyExitOverride);
  program.exitOverride();
  return program;
}

function applyExitOverride(command: Command): void {
  command.exitOverride();
  command.commands.forEach(applyExitOverride);
}

export const VERSION = '0.1.0';

export async function main(argv: string[], start: StartInfo = {}): Promise<void> {
  recordStart(start);
  // `--version` is only the program's version as the first argument: subcommands such as
  // `policy publish --version v1.2.0` use the flag for their own meaning.
  if (argv[2] === '--version' || argv[2] === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  endQuietlyOnClosedStdout();
  const program = await buildProgram(argv.slice(2));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; every other commander error is bad usage.
      const ok = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
      process.exitCode = ok ? ExitCode.ok : ExitCode.usage;
      return;
    }
    throw error;
  }
}

/**
 * `sumda config | head -2`: the reader closing the pipe early is a normal end, not a crash. The rest
 * of the output is dropped, the command finishes (its cleanups run) and exits with its own code.
 */
function endQuietlyOnClosedStdout(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
    throw error;
  });
}
