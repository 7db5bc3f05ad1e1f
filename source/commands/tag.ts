import type {Command} from 'commander';
import type {CliContext} from './context.js';

/** `strata tag SOURCE TARGET` (also `strata image tag`). */
export function configureTagCommand(command: Command, context: CliContext): Command {
  return command
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .argument('<source>', 'SOURCE_IMAGE[:TAG]')
    .argument('<target>', 'TARGET_IMAGE[:TAG]')
    .action(async (source: string, target: string) => {
      const engine = await context.engine();
      await engine.tag(source, target);
    });
}
