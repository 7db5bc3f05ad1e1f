import {Command, CommanderError} from 'commander';
import {demoStoreRoot, Engine, isUserError, resolveRoot} from '../../engine/index.js';
import type {CliContext} from './context.js';
import {registerBuildCommand} from './build.js';
import {configureDemoCommand} from './demo.js';
import {registerDockerfileCommand} from './dockerfile.js';
import {configureFsckCommand} from './fsck.js';
import {configureHistoryCommand} from './history.js';
import {configureImagesCommand} from './images.js';
import {configureImportCommand} from './import.js';
import {configureInspectCommand} from './inspect.js';
import {configureImagePruneCommand, configureRmiCommand} from './rmi.js';
import {configureTagCommand} from './tag.js';
import {openWorkbench, registerUiCommand} from './ui.js';
import {configureWatchCommand} from './watch.js';

export interface CliIo {
  readonly stdout: CliContext['stdout'];
  readonly stderr: CliContext['stderr'];
  readonly stdin: NodeJS.ReadableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now?: () => Date;
}

const defaultIo = (): CliIo => ({stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env});

/** Build the `strata` program over one context. Exported for tests, which run commands in-process. */
export function createProgram(context: CliContext): Command {
  const program = new Command('strata')
    .description('A terminal workbench for container images, over a daemonless Docker-compatible engine')
    .option('--root <dir>', 'the store root (default: $STRATA_ROOT, $XDG_DATA_HOME/strata, ~/.local/share/strata)')
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: text => context.stdout.write(text),
      writeErr: text => context.stderr.write(text),
    });

  configureImagesCommand(program.command('images'), context);
  configureHistoryCommand(program.command('history'), context);
  configureInspectCommand(program.command('inspect'), context);
  configureTagCommand(program.command('tag'), context);
  configureRmiCommand(program.command('rmi'), context);
  configureImportCommand(program.command('import'), context);
  configureFsckCommand(program.command('fsck'), context);
  registerBuildCommand(program, context);
  configureWatchCommand(program.command('watch'), context);
  const dockerfile = registerDockerfileCommand(program, context);
  configureDemoCommand(program.command('demo'), context);
  registerUiCommand(program, () => context.engine());
  program.action(async () => openWorkbench(() => context.engine(), {env: context.env}));

  const image = program.command('image').description('Manage images');
  configureImagesCommand(image.command('ls').alias('list'), context);
  configureHistoryCommand(image.command('history'), context);
  configureInspectCommand(image.command('inspect'), context);
  configureTagCommand(image.command('tag'), context);
  configureRmiCommand(image.command('rm').alias('remove'), context);
  configureImportCommand(image.command('import'), context);
  configureImagePruneCommand(image.command('prune'), context);

  for (const command of [program, ...program.commands, ...image.commands, ...dockerfile.commands]) command.exitOverride();
  return program;
}

/** docker accepts `-H=false` / `--no-trunc=true` style booleans; commander wants `--no-human`. */
function normaliseBooleanFlags(argv: readonly string[]): string[] {
  return argv.map(argument => {
    const match = /^(-H|--human)=(true|false)$/.exec(argument);
    if (match) return match[2] === 'false' ? '--no-human' : '--human';
    return argument;
  });
}

export async function runCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  let engine: Promise<Engine> | undefined;
  let root: string | undefined;
  let program: Command | undefined;
  const context: CliContext = {
    ...io,
    now: io.now ?? (() => new Date()),
    root() {
      const flag = program?.opts().root as string | undefined;
      // The demo keeps a store of its own unless --root names one.
      root ??= !flag && argv[0] === 'demo' ? demoStoreRoot() : resolveRoot({flag, env: io.env});
      return root;
    },
    engine() {
      engine ??= Engine.open({root: context.root(), env: io.env});
      return engine;
    },
  };
  program = createProgram(context);
  const previousExitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(normaliseBooleanFlags(argv), {from: 'user'});
    const code = Number(process.exitCode ?? 0);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 125;
    if (isUserError(error)) {
      const excerpt = (error as {excerpt?: string}).excerpt;
      io.stderr.write(`Error: ${error.message}\n`);
      if (excerpt) io.stderr.write(`${excerpt}\n`);
      return 1;
    }
    throw error;
  } finally {
    if (engine) await (await engine.catch(() => undefined))?.close();
    process.exitCode = previousExitCode;
  }
}
