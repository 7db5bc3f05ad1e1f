import {Command, CommanderError} from 'commander';
import {isUserError} from '../../engine/index.js';

export async function runCli(argv: string[]): Promise<number> {
  const program = new Command('strata');
  program.exitOverride();
  try {
    await program.parseAsync(argv, {from: 'user'});
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (isUserError(error)) {
      process.stderr.write(`Error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
