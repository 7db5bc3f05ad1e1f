import type {Command} from 'commander';
import {collect, type CliContext} from './context.js';

/** `strata import FILE|- [REPOSITORY[:TAG]]`: a root filesystem tar (plain or gzip) becomes a one-layer image. */
export function configureImportCommand(command: Command, context: CliContext): Command {
  return command
    .description('Import the contents from a tarball to create a filesystem image')
    .argument('<file>', 'a root filesystem tar (plain or gzip), or - for standard input')
    .argument('[reference]', 'REPOSITORY[:TAG]')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the created image', collect)
    .option('-m, --message <message>', 'set the commit message for the imported image')
    .action(async (file: string, reference: string | undefined, options: {change?: string[]; message?: string}) => {
      const engine = await context.engine();
      const image = await engine.importImage({
        source: file === '-' ? (context.stdin as unknown as import('node:stream').Readable) : file,
        reference,
        changes: options.change,
        message: options.message,
      });
      context.stdout.write(`${image.id}\n`);
    });
}
