/**
 * Seeding snapshots with layers the builder has just made, so the next RUN does not extract a tar that was
 * written a moment ago from files still on disk.
 *
 * The result is exactly what engine/snapshot's `Snapshots.ensure` would extract (its contract: a
 * `snapshots/<chain hex>/diff` folder in overlay form plus `meta.json`, built in a `.tmp-*` folder and renamed
 * into place; an existing snapshot wins). Seeding is only attempted where that equivalence is simple to keep:
 * as root (owners can be set), in the per-layer layout (not the merged-copy fallback), and
 *   - from entries: a COPY/WORKDIR change set without whiteouts whose every parent folder is itself an entry;
 *   - from an overlay upper folder: a RUN whose upper has no opaque folders (its whiteouts already are 0/0
 *     character devices, the snapshot form).
 * Anything else answers false and the caller lets `ensure` extract as usual.
 */
import {randomBytes} from 'node:crypto';
import {spawn} from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  constants,
  existsSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import {rename, rm, writeFile, mkdir} from 'node:fs/promises';
import {join} from 'node:path';
import {chainIds} from '../image/digest.js';
import type {LayerEntry} from '../layer/entry.js';
import type {Snapshots} from '../snapshot/snapshots.js';

function hex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

async function usable(snapshots: Snapshots): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  return snapshots.canMakeWhiteouts().catch(() => false);
}

/** The chain ID of `parentDiffIds + diffId`, and the parent chain. */
export function chainOf(parentDiffIds: readonly string[], diffId: string): {chainId: string; diffId: string; parent?: string} {
  const chains = chainIds([...parentDiffIds, diffId]);
  return {chainId: chains[chains.length - 1], diffId, parent: chains.length > 1 ? chains[chains.length - 2] : undefined};
}

async function place(snapshots: Snapshots, temporary: string, chainId: string, diffId: string, parent: string | undefined): Promise<void> {
  await writeFile(join(temporary, 'meta.json'), JSON.stringify({chainId, diffId, ...(parent ? {parent} : {})}));
  try {
    await rename(temporary, join(snapshots.root, hex(chainId)));
  } catch {
    // Another build placed it first: theirs is equivalent.
    await rm(temporary, {recursive: true, force: true});
  }
}

/** Materialise a whiteout-free change set as the snapshot of `chainId`. */
export async function seedFromEntries(
  snapshots: Snapshots,
  layer: {chainId: string; diffId: string; parent?: string; blobPath?: string},
  entries: readonly LayerEntry[],
): Promise<boolean> {
  if (!(await usable(snapshots))) return false;
  if (existsSync(join(snapshots.root, hex(layer.chainId)))) return true;
  const paths = new Map(entries.map(entry => [entry.path, entry.type]));
  for (const entry of entries) {
    const name = entry.path.slice(entry.path.lastIndexOf('/') + 1);
    if (name.startsWith('.wh.')) return false;
    const slash = entry.path.lastIndexOf('/');
    if (slash !== -1 && paths.get(entry.path.slice(0, slash)) !== 'dir') return false;
    if (entry.type === 'char' || entry.type === 'block' || entry.type === 'fifo') return false;
  }
  await mkdir(snapshots.root, {recursive: true});
  const temporary = join(snapshots.root, `.tmp-seed-${process.pid}-${randomBytes(6).toString('hex')}`);
  const diff = join(temporary, 'diff');
  if (layer.blobPath && (await extractWithTar(layer.blobPath, diff))) {
    await place(snapshots, temporary, layer.chainId, layer.diffId, layer.parent);
    return true;
  }
  await rm(temporary, {recursive: true, force: true});
  try {
    mkdirSync(diff, {recursive: true});
    const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const hardlinks: LayerEntry[] = [];
    for (const entry of sorted) {
      const target = join(diff, entry.path);
      const time = entry.mtime ?? new Date(0);
      switch (entry.type) {
        case 'dir':
          mkdirSync(target);
          break;
        case 'file':
          if (entry.content) writeFileSync(target, entry.content);
          else if (entry.sourcePath) copyFileSync(entry.sourcePath, target, constants.COPYFILE_FICLONE);
          else writeFileSync(target, '');
          chmodSync(target, entry.mode & 0o7777);
          lchownSync(target, entry.uid, entry.gid);
          utimesSync(target, time, time);
          continue;
        case 'symlink':
          symlinkSync(entry.linkname ?? '', target);
          lchownSync(target, entry.uid, entry.gid);
          lutimesSync(target, time, time);
          continue;
        case 'hardlink':
          hardlinks.push(entry);
          continue;
      }
    }
    for (const entry of hardlinks) linkSync(join(diff, entry.linkname ?? ''), join(diff, entry.path));
    // Folders last and deepest first: creating their children changed their times.
    for (const entry of sorted.filter(candidate => candidate.type === 'dir').reverse()) {
      const target = join(diff, entry.path);
      const time = entry.mtime ?? new Date(0);
      chmodSync(target, entry.mode & 0o7777);
      lchownSync(target, entry.uid, entry.gid);
      utimesSync(target, time, time);
    }
    await place(snapshots, temporary, layer.chainId, layer.diffId, layer.parent);
    return true;
  } catch {
    await rm(temporary, {recursive: true, force: true});
    return false;
  }
}

/**
 * GNU tar extracts the layer just written (clean relative paths, no whiteouts, every parent a folder entry,
 * nothing below a symlink: checked above), keeping owners, modes and times, in one process.
 */
function extractWithTar(blobPath: string, target: string): Promise<boolean> {
  return new Promise(resolve => {
    try {
      mkdirSync(target, {recursive: true});
    } catch {
      resolve(false);
      return;
    }
    const child = spawn('tar', ['-x', '-f', blobPath, '-C', target, '--numeric-owner', '--same-owner', '--same-permissions', '--no-overwrite-dir'], {stdio: 'ignore'});
    child.on('error', () => resolve(false));
    child.on('close', code => resolve(code === 0));
  });
}

/** Move a RUN's overlay upper folder (no opaque folders) into place as the snapshot of `chainId`. */
export async function seedFromUpper(
  snapshots: Snapshots,
  layer: {chainId: string; diffId: string; parent?: string},
  upperDir: string,
): Promise<boolean> {
  if (!(await usable(snapshots))) return false;
  if (existsSync(join(snapshots.root, hex(layer.chainId)))) return true;
  await mkdir(snapshots.root, {recursive: true});
  const temporary = join(snapshots.root, `.tmp-seed-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(temporary);
    await rename(upperDir, join(temporary, 'diff'));
    await place(snapshots, temporary, layer.chainId, layer.diffId, layer.parent);
    return true;
  } catch {
    await rm(temporary, {recursive: true, force: true});
    return false;
  }
}
