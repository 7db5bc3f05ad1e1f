import {Option, type Command} from 'commander';
import {createWatchPrinter, UserError, watchBuild, type WatchProgressMode} from '../../engine/index.js';
import {addBuildFlags, buildRequest, type BuildFlagValues} from './build.js';
import type {CliContext} from './context.js';

interface WatchCommandOptions extends BuildFlagValues {
  debounce?: string;
  prune: boolean;
}

/**
 * `strata watch [build flags] [--debounce MS] CONTEXT`: build, then rebuild on every real change to the context
 * or the Dockerfile, tagging each good image with the `-t` references. Plain or JSON progress on stdout, no UI;
 * Ctrl-C (or SIGTERM) stops after the build in flight is cancelled, with exit code 0.
 */
export function configureWatchCommand(command: Command, context: CliContext): Command {
  return addBuildFlags(command.description('Build an image and rebuild it whenever the context or the Dockerfile changes'), {
    tag: 'name and optionally a tag (name:tag) for each rebuilt image',
    noCache: 'do not use the cache for the first build (rebuilds use what it made)',
  })
    .addOption(new Option('--progress <type>', 'progress output').choices(['auto', 'plain', 'json']).default('plain'))
    .option('--no-prune', 'keep the images that rebuilds replace (default: remove them once no tag names them)')
    .option('--debounce <ms>', 'quiet period after the last change before rebuilding, in milliseconds (default 50)')
    .action(async (contextDir: string, options: WatchCommandOptions) => watch(context, contextDir, options));
}

async function watch(context: CliContext, contextDir: string, options: WatchCommandOptions): Promise<void> {
  const debounceMs = parseDebounce(options.debounce);
  const request = buildRequest(contextDir, options, context.env);
  const mode: WatchProgressMode = options.progress === 'json' ? 'json' : 'plain';
  const print = createWatchPrinter(mode, {write: text => context.stdout.write(text)});
  const engine = await context.engine();
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await watchBuild(
      {
        engine,
        ...request,
        debounceMs,
        prune: options.prune,
        signal: controller.signal,
      },
      print,
    );
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function parseDebounce(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value.replace(/ms$/, ''));
  if (!Number.isFinite(ms) || ms < 0 || ms > 60_000) {
    throw new UserError('ERR_WATCH_DEBOUNCE', `invalid --debounce ${JSON.stringify(value)}: give milliseconds between 0 and 60000`);
  }
  return ms;
}
