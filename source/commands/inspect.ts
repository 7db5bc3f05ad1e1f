import type {Command} from 'commander';
import {parseFormat, renderTemplate} from '../format.js';
import type {CliContext} from './context.js';

/**
 * `strata inspect IMAGE...` (also `strata image inspect`): a JSON array shaped like docker's, indented by four
 * spaces. Missing images are reported after the ones found, and make the exit code 1, as docker does.
 */
export function configureInspectCommand(command: Command, context: CliContext): Command {
  return command
    .description('Display detailed information on one or more images')
    .argument('<image...>')
    .option('-f, --format <format>', 'format output using a Go template')
    .action(async (images: string[], options: {format?: string}) => {
      const engine = await context.engine();
      const {found, missing} = await engine.inspectImages(images);
      const format = parseFormat(options.format);
      if (format.kind === 'template' || (format.kind === 'table' && format.template)) {
        for (const object of found) context.stdout.write(`${renderTemplate(format.template!, object)}\n`);
      } else {
        context.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
      }
      for (const name of missing) context.stderr.write(`Error: No such image: ${name}\n`);
      if (missing.length > 0) process.exitCode = 1;
    });
}
