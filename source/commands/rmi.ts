import type {Command} from 'commander';
import {humanSize} from '../format.js';
import {readAnswer, type CliContext} from './context.js';

/**
 * `strata rmi [-f] IMAGE...` (also `strata image rm`): a tag of an image with other tags is only untagged; the
 * last tag, or an ID, deletes the image. Deleting what another tag or a child image needs takes `-f`.
 */
export function configureRmiCommand(command: Command, context: CliContext): Command {
  return command
    .description('Remove one or more images')
    .argument('<image...>')
    .option('-f, --force', 'force removal of the image')
    .option('--no-prune', 'do not delete untagged parents')
    .action(async (images: string[], options: {force?: boolean}) => {
      const engine = await context.engine();
      let failed = false;
      for (const image of images) {
        try {
          const result = await engine.removeImages([image], {force: options.force});
          for (const reference of result.untagged) context.stdout.write(`Untagged: ${reference}\n`);
          for (const id of result.deleted) context.stdout.write(`Deleted: ${id}\n`);
        } catch (error) {
          if (!(error instanceof Error) || !('code' in error)) throw error;
          context.stderr.write(`Error response from daemon: ${error.message}\n`);
          failed = true;
        }
      }
      if (failed) process.exitCode = 1;
    });
}

/** `strata image prune [-a] [-f]`: remove dangling images (with -a, every image without a container). */
export function configureImagePruneCommand(command: Command, context: CliContext): Command {
  return command
    .description('Remove unused images')
    .option('-a, --all', 'remove all unused images, not just dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (options: {all?: boolean; force?: boolean}) => {
      if (!options.force) {
        const question = options.all
          ? 'WARNING! This will remove all images without at least one container associated to them.'
          : 'WARNING! This will remove all dangling images.';
        context.stdout.write(`${question}\nAre you sure you want to continue? [y/N] `);
        const answer = await readAnswer(context.stdin);
        if (!/^y(es)?$/i.test(answer.trim())) return;
      }
      const engine = await context.engine();
      const result = await engine.pruneImages({all: options.all});
      if (result.untagged.length + result.deleted.length > 0) {
        context.stdout.write('Deleted Images:\n');
        for (const reference of result.untagged) context.stdout.write(`untagged: ${reference}\n`);
        for (const id of result.deleted) context.stdout.write(`deleted: ${id}\n`);
        context.stdout.write('\n');
      }
      context.stdout.write(`Total reclaimed space: ${humanSize(result.reclaimedBytes)}\n`);
    });
}
