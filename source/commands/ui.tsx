/**
 * `strata ui`: the workbench. Ink, React and yoga are loaded here, lazily, and nowhere else in the command
 * line, so that `strata images` and every other command start without them.
 */
import type {Command} from 'commander';
import {UserError, watchableContext, type Engine} from '../../engine/index.js';

export interface OpenWorkbenchOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** The context `b` and `w` offer first (the demo offers its project). */
  readonly buildContext?: string;
  /** Watch this context from the start (`--watch`), tagging each rebuild with `tags`. */
  readonly watch?: {readonly contextDir: string; readonly tags: readonly string[]; readonly dockerfile?: string};
}

/** Opens the workbench over the engine `getEngine` gives, until the user quits. */
export async function openWorkbench(getEngine: () => Promise<Engine>, options: OpenWorkbenchOptions = {}): Promise<void> {
  // React's development build checks every render and is several times slower: a user never wants it.
  process.env.NODE_ENV ??= 'production';
  // A context that cannot be watched is said on one line before the screen is taken.
  if (options.watch) await watchableContext(options.watch.contextDir);
  const [{runWorkbench}, engine] = await Promise.all([import('../app/run.js'), getEngine()]);
  await runWorkbench({engine, root: engine.root, env: options.env ?? process.env, cwd: options.cwd ?? process.cwd(), buildContext: options.buildContext, watch: options.watch});
}

interface UiOptions {
  watch?: string;
  tag: string[];
  file?: string;
}

export function registerUiCommand(program: Command, getEngine: () => Promise<Engine>): void {
  program
    .command('ui')
    .description('Open the workbench: images, layers, the files each layer changed, waste and builds')
    .option('--watch <context>', 'watch this build context and rebuild on every save (w in the workbench stops and starts)')
    .option('-t, --tag <name:tag>', 'with --watch: tag each rebuilt image (repeatable)', (value: string, all: string[]) => [...all, value], [])
    .option('-f, --file <Dockerfile>', 'with --watch: the Dockerfile (default: CONTEXT/Dockerfile)')
    .action(async (options: UiOptions) => {
      if (options.watch === undefined && (options.tag.length > 0 || options.file !== undefined)) {
        throw new UserError('ERR_UI_FLAGS', `strata ui: ${options.tag.length > 0 ? '-t' : '-f'} names what --watch builds, and there is no --watch`, {
          hint: 'strata ui --watch CONTEXT -t NAME:TAG',
        });
      }
      await openWorkbench(getEngine, {watch: options.watch === undefined ? undefined : {contextDir: options.watch, tags: options.tag, dockerfile: options.file}});
    });
}
