import {Option, type Command} from 'commander';
import {createPrinter, UserError, writeImageIdFile, type BuildEvent, type EngineBuildOptions, type ProgressMode} from '../../engine/index.js';
import {collect, readAnswer, type CliContext} from './context.js';
import {humanSize} from '../format.js';

/** What `addBuildFlags` gives a command's action. */
export interface BuildFlagValues {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  label?: string[];
  target?: string;
  cache: boolean;
  network?: string;
  progress: string;
}

interface BuildCommandOptions extends BuildFlagValues {
  quiet?: boolean;
  iidfile?: string;
}

/**
 * Adds `strata build` and `strata builder prune` to the program. Progress goes to stderr (as docker's does),
 * `-q` prints only the image ID on stdout; a failed build prints its error (with the Dockerfile excerpt) in the
 * progress stream and exits 1.
 */
export function registerBuildCommand(program: Command, context: CliContext): void {
  configureBuildCommand(program.command('build'), context);
  const builder = program.command('builder').description('Manage builds');
  configureBuilderPruneCommand(builder.command('prune'), context);
  builder.commands.forEach(command => command.exitOverride());
}

/**
 * The flags `strata build` and `strata watch` share, with docker's names: -t, -f, --build-arg, --label, --target,
 * --no-cache and --network.
 */
export function addBuildFlags(command: Command, words: {tag: string; noCache: string}): Command {
  return command
    .argument('<context>', 'the build context folder')
    .addOption(new Option('-t, --tag <name>', words.tag).argParser(collect))
    .option('-f, --file <path>', "name of the Dockerfile (default: 'CONTEXT/Dockerfile')")
    .addOption(new Option('--build-arg <arg>', 'set a build-time variable (KEY=VALUE, or KEY to take it from the environment)').argParser(collect))
    .addOption(new Option('--label <label>', 'set metadata for the image (KEY=VALUE)').argParser(collect))
    .option('--target <stage>', 'set the target build stage to build')
    .option('--no-cache', words.noCache)
    .addOption(new Option('--network <mode>', 'networking mode for the RUN instructions during build').choices(['host', 'none', 'default']));
}

/** `strata build [OPTIONS] CONTEXT` with docker's flags. */
export function configureBuildCommand(command: Command, context: CliContext): Command {
  return addBuildFlags(command.description('Build an image from a Dockerfile'), {
    tag: 'name and optionally a tag (name:tag)',
    noCache: 'do not use cache when building the image',
  })
    .addOption(new Option('--progress <type>', 'type of progress output').choices(['auto', 'plain', 'json', 'quiet']).default('auto'))
    .option('-q, --quiet', 'suppress the build output and print image ID on success')
    .option('--iidfile <file>', 'write the image ID to the file')
    .action(async (contextDir: string, options: BuildCommandOptions) => runBuild(context, contextDir, options));
}

/** The build that `addBuildFlags`' values ask for (shared by `build` and `watch`); bad values throw UserError. */
export function buildRequest(contextDir: string, options: BuildFlagValues, env: Readonly<Record<string, string | undefined>>): EngineBuildOptions {
  return {
    contextDir,
    dockerfile: options.file,
    tags: options.tag ?? [],
    buildArgs: parseBuildArgs(options.buildArg ?? [], env),
    labels: parseKeyValues(options.label ?? [], 'label'),
    target: options.target,
    noCache: !options.cache,
    network: options.network === 'none' ? 'none' : 'host',
  };
}

async function runBuild(context: CliContext, contextDir: string, options: BuildCommandOptions): Promise<void> {
  const request = buildRequest(contextDir, options, context.env);
  const mode: ProgressMode = options.quiet || options.progress === 'quiet' ? 'quiet' : options.progress === 'json' ? 'json' : 'plain';
  const printer = createPrinter(mode, {write: text => context.stderr.write(text)});
  const engine = await context.engine();
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let failure: BuildEvent | undefined;
  try {
    const result = await engine.build(
      request,
      {
        signal: controller.signal,
        onEvent: event => {
          if (event.type === 'build-failed') failure = event;
          printer(event);
        },
      },
    );
    if (options.iidfile) await writeImageIdFile(options.iidfile, result.imageId);
    if (mode === 'quiet') context.stdout.write(`${result.imageId}\n`);
  } catch (error) {
    // The progress stream already showed the error (plain/json); quiet mode shows it here.
    if (failure && mode !== 'quiet') {
      process.exitCode = 1;
      return;
    }
    throw error;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** `strata builder prune [-f]`: empty the build cache; gc then reclaims the layers no image uses. */
export function configureBuilderPruneCommand(command: Command, context: CliContext): Command {
  return command
    .description('Remove build cache')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('-a, --all', 'remove all unused build cache (the same here: the cache has no other kind)')
    .action(async (options: {force?: boolean}) => {
      if (!options.force) {
        context.stdout.write('WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ');
        const answer = await readAnswer(context.stdin);
        if (!/^y(es)?$/i.test(answer.trim())) return;
      }
      const engine = await context.engine();
      const result = await engine.pruneBuildCache();
      if (result.layers.length > 0) {
        context.stdout.write('Deleted build cache objects:\n');
        for (const layer of result.layers) context.stdout.write(`${layer.slice(7, 32)}\n`);
        context.stdout.write('\n');
      }
      context.stdout.write(`Total:\t${humanSize(result.reclaimedBytes)}\n`);
    });
}

/** docker's --build-arg: `K=V`, or `K` alone takes the value from the environment (skipped when unset). */
export function parseBuildArgs(values: readonly string[], env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf('=');
    if (equals === 0) throw new UserError('ERR_BAD_BUILD_ARG', `invalid --build-arg ${JSON.stringify(value)}: the name is empty`);
    if (equals === -1) {
      const fromEnv = env[value];
      if (fromEnv !== undefined) args[value] = fromEnv;
      continue;
    }
    args[value.slice(0, equals)] = value.slice(equals + 1);
  }
  return args;
}

/** `--label K=V` style pairs; a bare `K` gets an empty value. */
export function parseKeyValues(values: readonly string[], what: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const equals = value.indexOf('=');
    if (equals === 0) throw new UserError('ERR_BAD_LABEL', `invalid --${what} ${JSON.stringify(value)}: the name is empty`);
    if (equals === -1) result[value] = '';
    else result[value.slice(0, equals)] = value.slice(equals + 1);
  }
  return result;
}
