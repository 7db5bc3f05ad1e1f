/**
 * `strata ui`: the workbench. Ink, React and yoga are loaded here, lazily, and nowhere else in the command
 * line, so that `strata images` and every other command start without them.
 */
import type {Command} from 'commander';
import type {Engine} from '../../engine/index.js';

export interface OpenWorkbenchOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

/** Opens the workbench over the engine `getEngine` gives, until the user quits. */
export async function openWorkbench(getEngine: () => Promise<Engine>, options: OpenWorkbenchOptions = {}): Promise<void> {
  // React's development build checks every render and is several times slower: a user never wants it.
  process.env.NODE_ENV ??= 'production';
  const [{runWorkbench}, engine] = await Promise.all([import('../app/run.js'), getEngine()]);
  await runWorkbench({engine, root: engine.root, env: options.env ?? process.env, cwd: options.cwd ?? process.cwd()});
}

export function registerUiCommand(program: Command, getEngine: () => Promise<Engine>): void {
  program
    .command('ui')
    .description('Open the workbench: images, layers, the files each layer changed, waste and builds')
    .action(async () => {
      await openWorkbench(getEngine);
    });
}
