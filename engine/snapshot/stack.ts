/**
 * Reading a stack of overlay lower directories as the merged root filesystem they stand for, without mounting.
 *
 * A stack is a list of directories, lowest first, each holding one layer's diff in overlayfs form: a deleted
 * path is a character device 0/0 (an overlay whiteout). Strata's snapshots never use the opaque-directory xattr
 * (Node cannot set it, and unprivileged users cannot set `trusted.*`): an OCI opaque marker is stored as one
 * whiteout per name the lower layers held, which overlayfs reads the same way.
 */
import {lstat, readdir, readlink} from 'node:fs/promises';
import type {Stats} from 'node:fs';
import {join} from 'node:path';

export function isOverlayWhiteout(stats: Stats): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0;
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return null;
    }
    throw error;
  }
}

/** Where a path of the merged view lives: the host path in the topmost layer that holds it, and its stats. */
export interface StackEntry {
  readonly hostPath: string;
  readonly stats: Stats;
  /** For a directory: every layer directory (topmost first) whose copy of it merges into the view. */
  readonly mergedFrom: readonly string[];
}

function components(relPath: string): string[] {
  return relPath.split('/').filter(part => part !== '' && part !== '.');
}

/**
 * Look a path up in the merged view of `lowers` (lowest first). Symlinks are not followed (the path is taken
 * literally, as overlayfs does below a chroot). Returns null when the path does not exist in the merged view.
 */
export async function lookupInStack(lowers: readonly string[], relPath: string): Promise<StackEntry | null> {
  // Directories of the current path in each layer that still contributes to it, topmost first.
  let layers: string[] = [...lowers].reverse();
  const parts = components(relPath);
  if (parts.length === 0) {
    const stats = await lstatOrNull(layers[0] ?? '/nonexistent');
    return stats ? {hostPath: layers[0]!, stats, mergedFrom: layers} : null;
  }
  for (let index = 0; index < parts.length; index++) {
    const last = index === parts.length - 1;
    const next: string[] = [];
    let top: {hostPath: string; stats: Stats} | null = null;
    for (const layer of layers) {
      const candidate = join(layer, parts[index]!);
      const stats = await lstatOrNull(candidate);
      if (!stats) continue;
      if (isOverlayWhiteout(stats)) break;
      if (!top) top = {hostPath: candidate, stats};
      if (!stats.isDirectory()) break;
      next.push(candidate);
    }
    if (!top) return null;
    if (last) return {...top, mergedFrom: top.stats.isDirectory() ? next : []};
    if (!top.stats.isDirectory()) return null;
    layers = next;
  }
  return null;
}

/** Names in a directory of the merged view (whiteouts applied), or [] when it is not a directory. */
export async function listInStack(lowers: readonly string[], relDir: string): Promise<string[]> {
  const entry = await lookupInStack(lowers, relDir);
  if (!entry || !entry.stats.isDirectory()) return [];
  const seen = new Map<string, boolean>();
  for (const layerDir of entry.mergedFrom) {
    for (const name of await readdir(layerDir)) {
      if (seen.has(name)) continue;
      const stats = await lstat(join(layerDir, name));
      seen.set(name, !isOverlayWhiteout(stats));
    }
  }
  return [...seen].filter(([, present]) => present).map(([name]) => name).sort();
}

/**
 * Resolve a path of the merged view the way the kernel would inside a chroot: symlinks in existing components
 * are followed, but never above the root. Returns a path (leading '/') made of real directories followed by
 * the components that do not exist yet, so that creating it from the host cannot leave the rootfs.
 */
export async function resolveInStack(lowers: readonly string[], path: string): Promise<string> {
  const pending = components(path);
  const resolved: string[] = [];
  let hops = 0;
  let missing = false;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    if (missing) {
      resolved.push(part);
      continue;
    }
    const entry = await lookupInStack(lowers, [...resolved, part].join('/'));
    if (!entry) {
      missing = true;
      resolved.push(part);
      continue;
    }
    if (entry.stats.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`resolve ${path}: too many levels of symbolic links`);
      const target = await readlink(entry.hostPath);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...components(target));
      continue;
    }
    resolved.push(part);
  }
  return '/' + resolved.join('/');
}
