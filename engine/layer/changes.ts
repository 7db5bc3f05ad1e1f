import type {Stats} from 'node:fs';
import {lstat, open, readdir, readlink} from 'node:fs/promises';
import {join} from 'node:path';
import {StrataError} from '../errors.js';
import {joinPath, OPAQUE_MARKER, WHITEOUT_PREFIX, type LayerEntry} from './entry.js';
import {entryFor, inodeKeyOf, linkEntriesByInode} from './walk.js';
import {findXattrs} from './xattr.js';

export interface ChangesOptions {
  /** Compare the content of every same-size file, not only those whose mtime differs. */
  alwaysHash?: boolean;
  /** Keep a path (relative, `/`-separated)? Dropped paths are neither added nor whited out. */
  include?: (relPath: string) => boolean;
  /** Fixed mtime for every emitted entry, for reproducible layers; default the upper file's mtime. */
  mtime?: Date;
  /** Maps host owners to image owners (a rootless build's subordinate ids back to container ids). */
  mapOwner?: (uid: number, gid: number) => {uid: number; gid: number};
}

/**
 * The layer that turns `lowerDir` into `upperDir` (two full trees; a null lower means everything is added).
 *
 * - Added and changed paths become entries; a path counts as changed when its type, mode, owner, symlink
 *   target, device numbers or size differ, or, for same-size files, its content differs. Content is compared
 *   only when the mtimes differ, unless `alwaysHash`.
 * - Deleted paths become `.wh.name` whiteouts, emitted for the top-most deleted path only.
 * - A type change (file <-> folder <-> symlink) is the new entry alone: applying a non-folder over a folder
 *   removes the folder with everything below, and a folder over a non-folder replaces it; a folder that
 *   replaced a non-folder lists all its contents as added.
 * - The parent folders of every change are included, so the layer applies with the right parent modes.
 * - Files of the upper tree that share an inode become hardlinks to the first of them.
 */
export async function changesBetween(
  lowerDir: string | null,
  upperDir: string,
  options: ChangesOptions = {},
): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  const include = options.include ?? (() => true);

  /** Compares folder `rel` in both trees (both are folders); returns whether anything below changed. */
  async function compareFolder(rel: string, lowerPresent: boolean): Promise<boolean> {
    const upperNames = await readdir(join(upperDir, rel));
    const lowerNames = lowerPresent && lowerDir !== null ? await readdir(join(lowerDir, rel)) : [];
    const upperSet = new Set(upperNames);
    let changed = false;
    for (const name of lowerNames) {
      const childRel = joinPath(rel, name);
      if (upperSet.has(name) || !include(childRel)) continue;
      entries.push(whiteout(joinPath(rel, WHITEOUT_PREFIX + name), options));
      changed = true;
    }
    const lowerSet = new Set(lowerNames);
    for (const name of upperNames.sort()) {
      const childRel = joinPath(rel, name);
      if (!include(childRel)) continue;
      const upperPath = join(upperDir, childRel);
      const upper = await lstat(upperPath);
      const lower = lowerSet.has(name) ? await lstat(join(lowerDir!, childRel)) : null;
      if (lower && upper.isDirectory() && lower.isDirectory()) {
        const below = await compareFolder(childRel, true);
        if (below || !sameAttributes(upper, lower)) {
          entries.push(await entryOf(childRel, upperPath, upper));
          changed = true;
        }
        continue;
      }
      if (lower && sameType(upper, lower) && !(await differs(upperPath, upper, join(lowerDir!, childRel), lower))) continue;
      entries.push(await entryOf(childRel, upperPath, upper));
      if (upper.isDirectory()) await compareFolder(childRel, false);
      changed = true;
    }
    return changed;
  }

  async function entryOf(rel: string, hostPath: string, stats: Stats): Promise<LayerEntry> {
    const linkname = stats.isSymbolicLink() ? await readlink(hostPath) : undefined;
    return mapped(entryFor(rel, hostPath, stats, linkname, {mtime: options.mtime}), rel, options);
  }

  async function differs(upperPath: string, upper: Stats, lowerPath: string, lower: Stats): Promise<boolean> {
    if (!sameAttributes(upper, lower)) return true;
    if (upper.isSymbolicLink()) return (await readlink(upperPath)) !== (await readlink(lowerPath));
    if (upper.isCharacterDevice() || upper.isBlockDevice()) return upper.rdev !== lower.rdev;
    if (!upper.isFile()) return false;
    if (upper.size !== lower.size) return true;
    if (!options.alwaysHash && upper.mtimeMs === lower.mtimeMs) return false;
    return !(await sameContent(upperPath, lowerPath));
  }

  await compareFolder('', true);
  return linkEntriesByInode(entries, inodeKeyOf);
}

/**
 * The layer an overlayfs upper folder stands for. Whiteouts (character devices 0/0, or files carrying an
 * `overlay.whiteout` xattr) become `.wh.name` entries; folders marked opaque (`trusted.overlay.opaque=y`, or
 * `user.overlay.opaque=y` in a user-namespace mount) become the folder plus a `.wh..wh..opq` marker; every
 * other node is an entry (folders in an upper dir exist because something in them changed). Xattrs are read
 * with python3 or getfattr; with neither this throws rather than guess. Mount without `redirect_dir` and
 * `metacopy`: an upper dir using them is refused (`ERR_LAYER_OVERLAY`), since it does not hold full files.
 */
export async function changesFromOverlayUpper(upperDir: string, options: ChangesOptions = {}): Promise<LayerEntry[]> {
  const include = options.include ?? (() => true);
  let marks: Map<string, Record<string, string>>;
  try {
    marks = await findXattrs(upperDir, '^(trusted|user)\\.overlay\\.(opaque|redirect|metacopy|whiteout)$');
  } catch (error) {
    throw new StrataError('ERR_LAYER_OVERLAY', `read overlay upper ${upperDir}: ${(error as Error).message}`, {cause: error});
  }
  const entries: LayerEntry[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(join(upperDir, rel))).sort()) {
      const childRel = joinPath(rel, name);
      if (!include(childRel)) continue;
      const hostPath = join(upperDir, childRel);
      const stats = await lstat(hostPath);
      const xattrs = marks.get(childRel) ?? {};
      const mark = (key: string) => xattrs[`trusted.overlay.${key}`] ?? xattrs[`user.overlay.${key}`];
      if (mark('redirect') !== undefined || mark('metacopy') !== undefined) {
        throw new StrataError(
          'ERR_LAYER_OVERLAY',
          `read overlay upper ${upperDir}: ${childRel} uses redirect_dir or metacopy; mount with redirect_dir=off,metacopy=off`,
        );
      }
      const isWhiteout = (stats.isCharacterDevice() && stats.rdev === 0) || (stats.isFile() && mark('whiteout') !== undefined);
      if (isWhiteout) {
        entries.push(whiteout(joinPath(rel, WHITEOUT_PREFIX + name), options));
        continue;
      }
      const linkname = stats.isSymbolicLink() ? await readlink(hostPath) : undefined;
      const entry = entryFor(childRel, hostPath, stats, linkname, {mtime: options.mtime});
      if (!entry) continue;
      entries.push(mapped(entry, childRel, options));
      if (stats.isDirectory()) {
        if (mark('opaque') === 'y') entries.push(whiteout(joinPath(childRel, OPAQUE_MARKER), options));
        await walk(childRel);
      }
    }
  }
  const rootMarks = marks.get('.') ?? {};
  if ((rootMarks['trusted.overlay.opaque'] ?? rootMarks['user.overlay.opaque']) === 'y') {
    entries.push(whiteout(OPAQUE_MARKER, options));
  }
  await walk('');
  return linkEntriesByInode(entries, inodeKeyOf);
}

function whiteout(path: string, options: ChangesOptions): LayerEntry {
  return {path, type: 'file', mode: 0, uid: 0, gid: 0, mtime: options.mtime ?? new Date(0)};
}

function mapped(entry: LayerEntry | undefined, rel: string, options: ChangesOptions): LayerEntry {
  if (!entry) throw new StrataError('ERR_LAYER_SOURCE', `read ${rel}: sockets cannot go in a layer`);
  if (options.mapOwner) {
    const owner = options.mapOwner(entry.uid, entry.gid);
    entry.uid = owner.uid;
    entry.gid = owner.gid;
  }
  return entry;
}

function sameType(a: Stats, b: Stats): boolean {
  return (a.mode & 0o170000) === (b.mode & 0o170000);
}

function sameAttributes(a: Stats, b: Stats): boolean {
  return sameType(a, b) && (a.mode & 0o7777) === (b.mode & 0o7777) && a.uid === b.uid && a.gid === b.gid;
}

async function sameContent(pathA: string, pathB: string): Promise<boolean> {
  const [a, b] = await Promise.all([open(pathA, 'r'), open(pathB, 'r')]);
  try {
    const bufferA = Buffer.allocUnsafe(1 << 16);
    const bufferB = Buffer.allocUnsafe(1 << 16);
    for (;;) {
      const [readA, readB] = await Promise.all([a.read(bufferA, 0, bufferA.length), b.read(bufferB, 0, bufferB.length)]);
      if (readA.bytesRead !== readB.bytesRead) return false;
      if (readA.bytesRead === 0) return true;
      if (!bufferA.subarray(0, readA.bytesRead).equals(bufferB.subarray(0, readB.bytesRead))) return false;
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}
