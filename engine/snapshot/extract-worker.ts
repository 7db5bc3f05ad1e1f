/**
 * Extraction as a separate process, run by Snapshots inside a user namespace (`unshare --user --map-root-user
 * --map-auto`) when the caller is not root but has subordinate ids: there it is root over the mapped ids, so
 * the layer's owners are kept (a file of uid 1000 in the tar belongs to the subordinate id that the step's
 * user namespace shows as 1000), and it can create whiteouts in folders those ids own.
 *
 * Input: one JSON job as argv[2]. Output: one JSON line `{"diffIds": [...]}` on stdout; errors on stderr and a
 * non-zero exit.
 */
import {createReadStream} from 'node:fs';
import {applyLayersInto, extractLayerDiff} from './extract-diff.js';
import {mergeStackInto} from './merge.js';

export type ExtractJob =
  | {readonly kind: 'diff'; readonly blobPath: string; readonly target: string; readonly lowerDirs: readonly string[]}
  | {readonly kind: 'merged'; readonly blobPaths: readonly string[]; readonly target: string}
  | {readonly kind: 'merge-stack'; readonly lowerDirs: readonly string[]; readonly target: string};

async function main(job: ExtractJob): Promise<string[]> {
  if (job.kind === 'merge-stack') {
    await mergeStackInto(job.lowerDirs, job.target);
    return [];
  }
  if (job.kind === 'diff') return [await extractLayerDiff(createReadStream(job.blobPath), job.target, job.lowerDirs, {chown: true})];
  return applyLayersInto(job.blobPaths.map(path => () => createReadStream(path)), job.target, {chown: true});
}

main(JSON.parse(process.argv[2] ?? '{}') as ExtractJob).then(
  diffIds => {
    process.stdout.write(`${JSON.stringify({diffIds})}\n`);
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
