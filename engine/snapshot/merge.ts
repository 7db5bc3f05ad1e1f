/**
 * The copy fallback: flatten a stack of overlay lower directories (lowest first) into one plain folder, the way
 * overlayfs would show them merged. Used where overlayfs cannot be mounted.
 */
import {lstat, mkdir, readdir, rm} from 'node:fs/promises';
import {join} from 'node:path';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {isOverlayWhiteout} from './stack.js';

const run = promisify(execFile);

/**
 * Make room in `target` for one layer: remove what the layer's whiteouts delete, and entries whose type
 * conflicts with the layer's (a directory replacing a file or the other way round), which `cp` cannot overwrite.
 * Returns the whiteouts' relative paths, so that the copies `cp` makes of them can be removed afterwards.
 */
async function clearForLayer(layerDir: string, target: string, rel = ''): Promise<string[]> {
  const whiteouts: string[] = [];
  for (const name of await readdir(join(layerDir, rel))) {
    const relPath = rel === '' ? name : `${rel}/${name}`;
    const source = await lstat(join(layerDir, relPath));
    const existing = await lstat(join(target, relPath)).catch(() => null);
    if (isOverlayWhiteout(source)) {
      whiteouts.push(relPath);
      if (existing) await rm(join(target, relPath), {recursive: true, force: true});
      continue;
    }
    if (source.isDirectory()) {
      if (existing && !existing.isDirectory()) await rm(join(target, relPath), {force: true});
      if (existing?.isDirectory()) whiteouts.push(...(await clearForLayer(layerDir, target, relPath)));
      else whiteouts.push(...(await whiteoutsUnder(layerDir, relPath)));
    } else if (existing?.isDirectory()) {
      await rm(join(target, relPath), {recursive: true, force: true});
    }
  }
  return whiteouts;
}

async function whiteoutsUnder(layerDir: string, rel: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(join(layerDir, rel))) {
    const relPath = `${rel}/${name}`;
    const stats = await lstat(join(layerDir, relPath));
    if (isOverlayWhiteout(stats)) found.push(relPath);
    else if (stats.isDirectory()) found.push(...(await whiteoutsUnder(layerDir, relPath)));
  }
  return found;
}

/**
 * Copy the merged view of `lowers` (lowest first) into `target` (created when missing; expected empty).
 * Ownership, modes, times, hard links and xattrs are kept as far as this user may (`cp -a`).
 */
export async function mergeStackInto(lowers: readonly string[], target: string): Promise<void> {
  await mkdir(target, {recursive: true});
  for (const layerDir of lowers) {
    const whiteouts = await clearForLayer(layerDir, target);
    await run('cp', ['-a', '--reflink=auto', '--remove-destination', '-T', layerDir, target], {maxBuffer: 16 << 20});
    for (const relPath of whiteouts) await rm(join(target, relPath), {recursive: true, force: true});
  }
}
