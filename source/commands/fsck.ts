import type {Command} from 'commander';
import type {CliContext} from './context.js';

/** `strata fsck`: verify every blob and reference; print problems; change nothing; exit 1 when any. */
export function configureFsckCommand(command: Command, context: CliContext): Command {
  return command
    .description('Verify every blob and reference in the store; changes nothing')
    .option('-q, --quiet', 'print problems only')
    .action(async (options: {quiet?: boolean}) => {
      const engine = await context.engine();
      const report = await engine.fsck();
      for (const problem of report.problems) {
        context.stdout.write(`${problem.kind}: ${problem.message}\n`);
      }
      if (report.problems.length > 0) {
        context.stderr.write(`fsck: ${report.problems.length} problem(s) in ${context.root()}\n`);
        process.exitCode = 1;
      } else if (!options.quiet) {
        context.stdout.write(`fsck: ok (${report.blobs} blobs, ${report.images} images) in ${context.root()}\n`);
      }
    });
}
