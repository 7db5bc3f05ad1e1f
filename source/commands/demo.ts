import type {Command} from 'commander';
import {relative} from 'node:path';
import {createPrinter, demoContext, demoImage, prepareDemo} from '../../engine/index.js';
import type {CliContext} from './context.js';
import {openWorkbench} from './ui.js';

/**
 * `strata demo` (what `npm start` runs): builds the demo project into its own store, showing the build as
 * BuildKit's plain progress, then opens the workbench on it. Without a terminal it prints what the image
 * commands show instead, so the demo also works in a pipe.
 */
export function configureDemoCommand(command: Command, context: CliContext): Command {
  return command
    .description('Build the demo project into a demo store and open the workbench on it')
    .option('--no-ui', 'print the image commands instead of opening the workbench')
    .action(async (options: {ui: boolean}) => {
      const engine = await context.engine();
      context.stderr.write(`demo store: ${engine.root}\n`);
      const printer = createPrinter('plain', {write: text => context.stderr.write(text)});
      await prepareDemo(engine, {onEvent: printer, onStatus: line => context.stderr.write(`${line}\n`)});
      if (options.ui && context.stdout.isTTY) {
        // b and w offer the demo project (with the selected demo:latest), so that a save in it is one key away.
        await openWorkbench(() => context.engine(), {env: context.env, buildContext: relative(process.cwd(), demoContext()) || '.'});
        return;
      }
      const {runCli} = await import('./index.js');
      const io = {stdout: context.stdout, stderr: context.stderr, stdin: context.stdin, env: context.env, now: context.now};
      for (const args of [['images'], ['history', demoImage], ['history', '--waste', demoImage]]) {
        context.stdout.write(`\n$ strata ${args.join(' ')}\n`);
        await runCli(['--root', engine.root, ...args], io);
      }
    });
}
