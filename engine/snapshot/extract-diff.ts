/**
 * Extracting one layer blob as an overlay lower folder (its diff, with OCI whiteouts made overlay whiteouts
 * against the layers below), and applying a stack of blobs into one merged folder. Used in-process, and by
 * extract-worker.ts inside a user namespace when a non-root user needs the layers' owners kept.
 */
import {spawn} from 'node:child_process';
import {chmod, chown, lstat, mkdir, utimes} from 'node:fs/promises';
import {join} from 'node:path';
import {PassThrough} from 'node:stream';
import type {Readable} from 'node:stream';
import {StrataError} from '../errors.js';
import {applyLayer, readLayerMembers} from '../layer/index.js';
import {listInStack, lookupInStack} from './stack.js';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

interface LayerWhiteouts {
  /** `dir/name` paths that the layer deletes. */
  readonly removed: string[];
  /** Folders the layer marks opaque ('' for the root). */
  readonly opaque: string[];
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function joinRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/** Create 0/0 character devices at each absolute path, in one helper process. */
export function makeWhiteouts(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn('xargs', ['-0', 'sh', '-c', 'for p; do mknod "$p" c 0 0 || exit 255; done', 'sh'], {stdio: ['pipe', 'ignore', 'pipe']});
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', code => (code === 0 ? resolve() : reject(new StrataError('ERR_SNAPSHOT_WHITEOUT', `create overlay whiteout: ${stderr.trim() || `exit ${code}`}`))));
    child.stdin.end(paths.map(path => `${path}\0`).join(''));
  });
}

export interface ExtractOptions {
  /** Apply the layer's owners (root, or a user namespace with subordinate ids); default applyLayer's choice. */
  readonly chown?: boolean;
}

/**
 * Extract `blob` into the empty folder `diff` as an overlay lower folder above `lowerDirs`. Resolves with the
 * diff ID of the tar read (the caller compares it with the expected one).
 */
export async function extractLayerDiff(blob: Readable, diff: string, lowerDirs: readonly string[], options: ExtractOptions = {}): Promise<string> {
  // One read of the blob feeds both the extraction and the whiteout scan. Its errors are listened for before
  // anything is awaited (a missing blob fails at once) and reach this call's caller through both consumers.
  const forApply = new PassThrough({highWaterMark: 1 << 20});
  const forScan = new PassThrough({highWaterMark: 1 << 20});
  blob.on('error', error => {
    forApply.destroy(error);
    forScan.destroy(error);
  });
  for (const branch of [forApply, forScan]) branch.on('error', () => {});
  blob.pipe(forApply);
  blob.pipe(forScan);
  await mkdir(diff, {recursive: true});
  const whiteouts: LayerWhiteouts = {removed: [], opaque: []};
  const [applied] = await Promise.all([
    applyLayer(forApply, diff, options.chown === undefined ? {} : {chown: options.chown}),
    readLayerMembers(forScan, member => {
      const name = nameOf(member.path);
      if (name === OPAQUE_MARKER) whiteouts.opaque.push(parentOf(member.path));
      else if (name.startsWith(WHITEOUT_PREFIX) && !name.startsWith('.wh..wh.')) {
        whiteouts.removed.push(joinRel(parentOf(member.path), name.slice(WHITEOUT_PREFIX.length)));
      }
    }),
  ]);
  await materialiseWhiteouts(diff, whiteouts, lowerDirs);
  return applied.diffId;
}

/** Apply `blobs` in order onto `target` (the merged copy). Resolves with each tar's diff ID. */
export async function applyLayersInto(blobs: ReadonlyArray<() => Readable>, target: string, options: ExtractOptions = {}): Promise<string[]> {
  const diffIds: string[] = [];
  for (const open of blobs) {
    const result = await applyLayer(open(), target, options.chown === undefined ? {} : {chown: options.chown});
    diffIds.push(result.diffId);
  }
  return diffIds;
}

/** Turn the layer's OCI whiteouts into overlay whiteouts in `diff`, against the lower stack. */
async function materialiseWhiteouts(diff: string, whiteouts: LayerWhiteouts, lowerDirs: readonly string[]): Promise<void> {
  const devices = new Set<string>();
  for (const removed of whiteouts.removed) {
    // Only what a lower layer has needs hiding; a whiteout for a name this layer also wrote hides the lower one,
    // which this layer's own entry already does.
    if (!(await lookupInStack(lowerDirs, removed))) continue;
    if (!(await ensureRealParent(diff, parentOf(removed), lowerDirs))) continue;
    if (await exists(join(diff, removed))) continue;
    devices.add(join(diff, removed));
  }
  for (const folder of whiteouts.opaque) await hideLowerChildren(diff, folder, lowerDirs, devices);
  // Creating the devices touches their folders: put back the times the layer gave them.
  const restore = await saveFolderTimes(diff, [...devices].map(device => parentOf(device.slice(diff.length + 1))));
  await makeWhiteouts([...devices]);
  await restore();
}

/** Opaque folder `folder`: whiteout every lower child this layer lacks, and recurse into shared folders. */
async function hideLowerChildren(diff: string, folder: string, lowerDirs: readonly string[], devices: Set<string>): Promise<void> {
  const here = await lstat(join(diff, folder)).catch(() => null);
  if (!here || !here.isDirectory()) return;
  for (const name of await listInStack(lowerDirs, folder)) {
    const relPath = joinRel(folder, name);
    const own = await lstat(join(diff, relPath)).catch(() => null);
    if (!own) devices.add(join(diff, relPath));
    else if (own.isDirectory()) await hideLowerChildren(diff, relPath, lowerDirs, devices);
  }
}

/**
 * Make `relDir` a real folder in `diff` (never through a symlink). A folder the layer did not carry copies
 * the metadata of the lower one, since overlayfs shows the topmost folder's mode and owner.
 * Returns false when the path cannot hold a whiteout (a non-folder on the way).
 */
async function ensureRealParent(diff: string, relDir: string, lowerDirs: readonly string[]): Promise<boolean> {
  let current = '';
  for (const part of relDir.split('/').filter(Boolean)) {
    current = joinRel(current, part);
    const path = join(diff, current);
    const stats = await lstat(path).catch(() => null);
    if (stats) {
      if (!stats.isDirectory()) return false;
      continue;
    }
    const lower = await lookupInStack(lowerDirs, current);
    if (!lower || !lower.stats.isDirectory()) return false;
    await mkdir(path);
    // Owner before mode: chown clears the setgid bit.
    await chown(path, lower.stats.uid, lower.stats.gid).catch(() => {});
    await chmod(path, lower.stats.mode & 0o7777);
    await utimes(path, lower.stats.atime, lower.stats.mtime);
  }
  return true;
}

/** Read the times of `folders` (relative to `diff`) now, and return a function that puts them back. */
async function saveFolderTimes(diff: string, folders: readonly string[]): Promise<() => Promise<void>> {
  const saved: Array<[string, Date, Date]> = [];
  for (const folder of new Set(folders)) {
    const stats = await lstat(join(diff, folder)).catch(() => null);
    if (stats?.isDirectory()) saved.push([join(diff, folder), stats.atime, stats.mtime]);
  }
  return async () => {
    for (const [path, atime, mtime] of saved) await utimes(path, atime, mtime);
  };
}
