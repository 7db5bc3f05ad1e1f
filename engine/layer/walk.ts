import type {Stats} from 'node:fs';
import {lstat, readdir, readlink} from 'node:fs/promises';
import {join} from 'node:path';
import {compareKeys, isCleanPath, joinPath, layerSortKey, type LayerEntry} from './entry.js';
import {LayerEntryError} from './errors.js';

export interface DirectoryEntriesOptions {
  /** Layer path the folder maps to (e.g. `app` for `COPY . /app`); the folder itself becomes that entry. */
  prefix?: string;
  /** Owner for every entry (COPY --chown); default the host owner. */
  uid?: number;
  gid?: number;
  /** Mode for an entry (COPY --chmod); default the host mode. */
  mode?: (entry: LayerEntry) => number;
  /** Fixed mtime for every entry, for reproducible layers; default the host mtime. */
  mtime?: Date;
  /**
   * Keep a path (relative to the folder, `/`-separated)? Returning false for a folder skips it and all below,
   * so a caller with re-include rules (`.dockerignore` `!`) returns true for folders that may hold kept files.
   */
  include?: (relPath: string, isDirectory: boolean) => boolean;
}

/**
 * The entries for a host folder, sorted in layer order. Symlinks are never followed (lstat throughout, link
 * text verbatim); files that share an inode (same dev and ino) become one file and hardlinks to it; sockets
 * are skipped (a tar cannot carry them). Contents are not read: file entries carry `sourcePath` and `size`.
 */
export async function entriesFromDirectory(dir: string, options: DirectoryEntriesOptions = {}): Promise<LayerEntry[]> {
  const prefix = options.prefix ?? '';
  if (prefix !== '' && !isCleanPath(prefix)) throw new LayerEntryError(prefix, 'is not a clean prefix');
  const entries: LayerEntry[] = [];
  if (prefix !== '') {
    const rootStats = await lstat(dir);
    if (!rootStats.isDirectory()) throw new LayerEntryError(dir, 'is not a folder');
    entries.push(entryFor(prefix, dir, rootStats, undefined, options)!);
  }
  async function walk(hostDir: string, rel: string): Promise<void> {
    const names = (await readdir(hostDir)).sort();
    const stats = await Promise.all(names.map(name => lstat(join(hostDir, name))));
    for (let i = 0; i < names.length; i++) {
      const childRel = rel === '' ? names[i] : `${rel}/${names[i]}`;
      const hostPath = join(hostDir, names[i]);
      if (options.include && !options.include(childRel, stats[i].isDirectory())) continue;
      const entry = entryFor(joinPath(prefix, childRel), hostPath, stats[i], await linkTarget(hostPath, stats[i]), options);
      if (!entry) continue;
      entries.push(entry);
      if (stats[i].isDirectory()) await walk(hostPath, childRel);
    }
  }
  await walk(dir, '');
  return linkEntriesByInode(entries, inodeKeyOf);
}

/** dev:ino of host files with more than one link, remembered per entry object. */
const inodeKeys = new WeakMap<LayerEntry, string>();

async function linkTarget(path: string, stats: Stats): Promise<string | undefined> {
  return stats.isSymbolicLink() ? readlink(path) : undefined;
}

/** A host node as a layer entry, or undefined for what a tar cannot hold (sockets). */
export function entryFor(
  path: string,
  hostPath: string,
  stats: Stats,
  linkname: string | undefined,
  options: {uid?: number; gid?: number; mode?: (entry: LayerEntry) => number; mtime?: Date} = {},
): LayerEntry | undefined {
  const base = {
    path,
    mode: stats.mode & 0o7777,
    uid: options.uid ?? stats.uid,
    gid: options.gid ?? stats.gid,
    mtime: options.mtime ?? new Date(Math.floor(stats.mtimeMs / 1000) * 1000),
  };
  let entry: LayerEntry;
  if (stats.isFile()) {
    entry = {...base, type: 'file', size: stats.size, sourcePath: hostPath};
    if (stats.nlink > 1) inodeKeys.set(entry, `${stats.dev}:${stats.ino}`);
  } else if (stats.isDirectory()) entry = {...base, type: 'dir'};
  else if (stats.isSymbolicLink()) entry = {...base, type: 'symlink', linkname};
  else if (stats.isFIFO()) entry = {...base, type: 'fifo'};
  else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
    entry = {
      ...base,
      type: stats.isCharacterDevice() ? 'char' : 'block',
      devmajor: deviceMajor(stats.rdev),
      devminor: deviceMinor(stats.rdev),
    };
  } else return undefined;
  if (options.mode) entry.mode = options.mode(entry) & 0o7777;
  return entry;
}

// Linux dev_t encoding (glibc gnu_dev_major/minor).
export function deviceMajor(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}
export function deviceMinor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

export function sortEntries(entries: LayerEntry[]): LayerEntry[] {
  return entries
    .map(entry => ({key: layerSortKey(entry.path), entry}))
    .sort((a, b) => compareKeys(a.key, b.key))
    .map(item => item.entry);
}

/** The first path (in layer order) of each shared inode stays a file; the others become hardlinks to it. */
function linkSharedInodes(sorted: LayerEntry[], first: Map<string, string>, keys: Map<LayerEntry, string | undefined>): void {
  for (let i = 0; i < sorted.length; i++) {
    const key = keys.get(sorted[i]);
    if (!key) continue;
    const anchor = first.get(key);
    if (anchor === undefined) {
      first.set(key, sorted[i].path);
      continue;
    }
    const {sourcePath: _source, size: _size, ...rest} = sorted[i];
    sorted[i] = {...rest, type: 'hardlink', linkname: anchor};
  }
}

/** Hardlinks among already collected entries: files with the same inode key. Used by changeset code. */
export function linkEntriesByInode(entries: LayerEntry[], inodeOf: (entry: LayerEntry) => string | undefined): LayerEntry[] {
  const sorted = sortEntries(entries);
  const keys = new Map<LayerEntry, string | undefined>(sorted.map(entry => [entry, inodeOf(entry)]));
  linkSharedInodes(sorted, new Map(), keys);
  return sorted;
}

export function inodeKeyOf(entry: LayerEntry): string | undefined {
  return inodeKeys.get(entry);
}
