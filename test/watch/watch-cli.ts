/**
 * A stand-in for `strata` with only the watch command, so its tests can run it as a real process (and stop it
 * with a real SIGINT) whether or not source/commands/index.ts registers it yet.
 * Usage: node --import tsx test/watch/watch-cli.ts --root DIR watch [flags] CONTEXT
 */
import {Command} from 'commander';
import {Engine, isUserError} from '../../engine/index.js';
import type {CliContext} from '../../source/commands/context.js';
import {configureWatchCommand} from '../../source/commands/watch.js';

const program = new Command('strata').option('--root <dir>').exitOverride();
let engine: Promise<Engine> | undefined;
const context: CliContext = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  now: () => new Date(),
  root: () => program.opts().root as string,
  engine: () => (engine ??= Engine.open({root: context.root(), env: process.env})),
};
configureWatchCommand(program.command('watch'), context);
try {
  await program.parseAsync(process.argv.slice(2), {from: 'user'});
  process.exitCode = 0;
} catch (error) {
  if (isUserError(error)) {
    process.stderr.write(`Error: ${error.message}\n`);
    process.exitCode = 1;
  } else if ((error as {exitCode?: number}).exitCode !== undefined) {
    process.exitCode = 125;
  } else throw error;
}
