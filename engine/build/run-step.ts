/**
 * RUN: one command in the parent state's rootfs (engine/runtime runIsolated), its changes turned into a layer.
 *
 * - Overlay mode: the upper folder is the change set. Overlay whiteouts (0/0 character devices) become
 *   `.wh.<name>` entries, opaque directories (`trusted.`/`user.overlay.opaque=y`) a `.wh..wh..opq` marker;
 *   copied-up directories carry their own metadata, so parents of changes keep the image's mode and owner.
 * - Copy mode: the upper folder holds the whole rootfs after the run; it is compared with the merged lower
 *   stack (type, mode, owner, size, mtime, link target) and what differs, appears or disappears is the layer.
 * - In a user namespace the host owners of the upper folder are mapped back through the run's id maps.
 * - A non-zero exit stops the build with RunFailedError (exit code, last output lines); nothing is stored.
 */
import {lstat, readdir, readlink, rm, mkdir} from 'node:fs/promises';
import type {Stats} from 'node:fs';
import {join} from 'node:path';
import {randomBytes} from 'node:crypto';
import type {LayerEntry} from '../layer/index.js';
import {findXattrs} from '../layer/xattr.js';
import {runIsolated, RuntimeUnavailableError, type IdMapEntry} from '../runtime/index.js';
import type {Snapshots} from '../snapshot/snapshots.js';
import {chainOf, seedFromUpper} from './snapshot-seed.js';
import {storeLayer} from './store-layer.js';
import {isOverlayWhiteout, listInStack, lookupInStack} from '../snapshot/stack.js';
import type {Store} from '../store/store.js';
import {BuildError, RunFailedError} from './errors.js';

export interface RunStepOptions {
  readonly lowerDirs: readonly string[];
  /**
   * Diff IDs and blob digests of the parent state (for the copy-mode comparison and the snapshot's chain ID).
   * Asked for only after the command ran: the builder may start a RUN while its parent layer is still being
   * stored, on that layer's snapshot folder.
   */
  readonly parent: () => Promise<{diffIds: readonly string[]; layerDigests: readonly string[]}>;
  readonly scratchDir: string;
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: string;
  readonly network: 'host' | 'none';
  readonly signal?: AbortSignal;
  readonly store: Store;
  /** Where the layer's snapshot is seeded from the upper folder when that is possible. */
  readonly snapshots: Snapshots;
  readonly onOutput: (line: string, stream: 'stdout' | 'stderr') => void;
  /** The command as the error message shows it. */
  readonly display: string;
  readonly mode?: 'auto' | 'copy';
}

const tailLines = 20;

export async function runStep(options: RunStepOptions): Promise<{diffId: string; size: number}> {
  const dir = join(options.scratchDir, `run-${randomBytes(6).toString('hex')}`);
  const upperDir = join(dir, 'upper');
  const workDir = join(dir, 'work');
  await mkdir(upperDir, {recursive: true});
  const tail: string[] = [];
  try {
    let result;
    try {
      result = await runIsolated({
        lowerDirs: options.lowerDirs,
        upperDir,
        workDir,
        argv: options.argv,
        env: options.env,
        cwd: options.cwd,
        user: options.user || undefined,
        network: options.network,
        signal: options.signal,
        mode: options.mode ?? 'auto',
        onOutput: (line, stream) => {
          tail.push(line);
          if (tail.length > tailLines) tail.shift();
          options.onOutput(line, stream);
        },
      });
    } catch (error) {
      if (error instanceof RuntimeUnavailableError) {
        throw new BuildError('ERR_BUILD_RUN_UNAVAILABLE', `RUN needs Linux namespaces: ${error.message}`, {
          cause: error,
          hint: error.hint ?? 'every instruction but RUN works here; run the build on Linux with user namespaces enabled',
        });
      }
      throw error;
    }
    if (result.exitCode !== 0) throw new RunFailedError(options.display, result.exitCode, tail);
    const mapper = idMapper(result.uidMap, result.gidMap);
    let entries: LayerEntry[];
    let opaqueDirs = 0;
    if (result.mode === 'overlay') {
      const changes = await overlayChanges(upperDir, options.lowerDirs, mapper);
      entries = changes.entries;
      opaqueDirs = changes.opaqueDirs;
    } else {
      const {diffIds, layerDigests} = await options.parent();
      const lower = diffIds.length ? await options.snapshots.mergedCopy(diffIds, layerDigests) : undefined;
      entries = await copyChanges(lower, upperDir, mapper);
    }
    const written = await storeLayer(entries, options.store);
    if (result.mode === 'overlay' && opaqueDirs === 0) {
      await seedFromUpper(options.snapshots, chainOf((await options.parent()).diffIds, written.diffId), upperDir);
    }
    return written;
  } finally {
    await rm(dir, {recursive: true, force: true}).catch(() => {});
  }
}

type Mapper = (stats: Stats) => {uid: number; gid: number};

function idMapper(uidMap: readonly IdMapEntry[], gidMap: readonly IdMapEntry[]): Mapper {
  const identity = (map: readonly IdMapEntry[]) => map.length === 0 || (map.length === 1 && map[0].inside === 0 && map[0].outside === 0);
  if (identity(uidMap) && identity(gidMap)) return stats => ({uid: stats.uid, gid: stats.gid});
  const back = (map: readonly IdMapEntry[], id: number) => {
    for (const entry of map) if (id >= entry.outside && id < entry.outside + entry.count) return entry.inside + (id - entry.outside);
    return 65534;
  };
  return stats => ({uid: back(uidMap, stats.uid), gid: back(gidMap, stats.gid)});
}

function entryFor(path: string, hostPath: string, stats: Stats, owner: {uid: number; gid: number}, linkname?: string): LayerEntry | undefined {
  const base = {path, mode: stats.mode & 0o7777, uid: owner.uid, gid: owner.gid, mtime: stats.mtime};
  if (stats.isDirectory()) return {...base, type: 'dir'};
  if (stats.isFile()) return {...base, type: 'file', size: stats.size, sourcePath: hostPath};
  if (stats.isSymbolicLink()) return {...base, type: 'symlink', linkname};
  if (stats.isFIFO()) return {...base, type: 'fifo'};
  const devmajor = Math.floor(stats.rdev / 256) & 0xfff;
  const devminor = (stats.rdev & 0xff) | ((stats.rdev >> 12) & 0xfff00);
  if (stats.isCharacterDevice()) return {...base, type: 'char', devmajor, devminor};
  if (stats.isBlockDevice()) return {...base, type: 'block', devmajor, devminor};
  return undefined; // sockets are not layer content
}

/** Hard links inside one layer: the first path of an inode is the file, the others link to it. */
class LinkTracker {
  private readonly seen = new Map<string, string>();
  resolve(path: string, stats: Stats): string | undefined {
    if (!stats.isFile() || stats.nlink < 2) return undefined;
    const key = `${stats.dev}:${stats.ino}`;
    const first = this.seen.get(key);
    if (first === undefined) this.seen.set(key, path);
    return first;
  }
}

/**
 * Upper directories whose opaque flag changes the merged view: those that exist below and hide names the
 * upper copy does not hold. Only these need the (slow to start) xattr helper.
 */
async function ambiguousDirs(upperDir: string, lowerDirs: readonly string[]): Promise<boolean> {
  if (lowerDirs.length === 0) return false;
  const visit = async (rel: string): Promise<boolean> => {
    for (const name of await readdir(join(upperDir, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      const stats = await lstat(join(upperDir, path));
      if (!stats.isDirectory()) continue;
      const below = await lookupInStack(lowerDirs, path);
      if (below?.stats.isDirectory()) {
        const upperNames = new Set(await readdir(join(upperDir, path)));
        if ((await listInStack(lowerDirs, path)).some(lowerName => !upperNames.has(lowerName))) return true;
      }
      if (await visit(path)) return true;
    }
    return false;
  };
  return visit('');
}

async function overlayChanges(upperDir: string, lowerDirs: readonly string[], mapper: Mapper): Promise<{entries: LayerEntry[]; opaqueDirs: number}> {
  let opaque = new Map<string, Record<string, string>>();
  if (await ambiguousDirs(upperDir, lowerDirs)) {
    try {
      opaque = await findXattrs(upperDir, '^(trusted|user)\\.overlay\\.opaque$');
    } catch {
      // No xattr helper: opaque directories cannot be seen; a deleted-and-recreated folder keeps lower names.
    }
  }
  const entries: LayerEntry[] = [];
  let opaqueDirs = 0;
  const links = new LinkTracker();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(upperDir, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const hostPath = join(upperDir, path);
      const stats = await lstat(hostPath);
      if (isOverlayWhiteout(stats)) {
        entries.push({path: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', mode: 0, uid: 0, gid: 0, size: 0});
        continue;
      }
      const linkTarget = links.resolve(path, stats);
      if (linkTarget !== undefined) {
        entries.push({path, type: 'hardlink', mode: stats.mode & 0o7777, ...mapper(stats), linkname: linkTarget, mtime: stats.mtime});
        continue;
      }
      const entry = entryFor(path, hostPath, stats, mapper(stats), stats.isSymbolicLink() ? await readlink(hostPath) : undefined);
      if (!entry) continue;
      entries.push(entry);
      if (stats.isDirectory()) {
        const attributes = opaque.get(path);
        if (attributes && Object.values(attributes).some(value => value === 'y')) {
          entries.push({path: `${path}/.wh..wh..opq`, type: 'file', mode: 0, uid: 0, gid: 0, size: 0});
          opaqueDirs++;
        }
        await walk(path);
      }
    }
  };
  await walk('');
  return {entries, opaqueDirs};
}

/** Copy mode: what differs between the merged lower folder (undefined: empty) and the rootfs after the run. */
async function copyChanges(lowerDir: string | undefined, upperDir: string, mapper: Mapper): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  const links = new LinkTracker();
  const lstatOrNull = async (path: string) => lstat(path).catch(() => null);
  const walk = async (rel: string): Promise<boolean> => {
    let changed = false;
    const upperNames = (await readdir(join(upperDir, rel))).sort();
    const lowerNames = lowerDir ? await readdir(join(lowerDir, rel)).catch(() => [] as string[]) : [];
    const upperSet = new Set(upperNames);
    for (const name of lowerNames.sort()) {
      if (!upperSet.has(name)) {
        entries.push({path: rel ? `${rel}/.wh.${name}` : `.wh.${name}`, type: 'file', mode: 0, uid: 0, gid: 0, size: 0});
        changed = true;
      }
    }
    for (const name of upperNames) {
      const path = rel ? `${rel}/${name}` : name;
      const hostPath = join(upperDir, path);
      const stats = await lstat(hostPath);
      const before = lowerDir ? await lstatOrNull(join(lowerDir, path)) : null;
      const link = stats.isSymbolicLink() ? await readlink(hostPath) : undefined;
      const owner = mapper(stats);
      // Both trees were made under the same id mapping: compare owners as the image sees them.
      const beforeOwner = before ? mapper(before) : undefined;
      const same =
        before !== null &&
        before.mode === stats.mode &&
        beforeOwner!.uid === owner.uid &&
        beforeOwner!.gid === owner.gid &&
        (stats.isDirectory() || (before.size === stats.size && before.mtimeMs === stats.mtimeMs)) &&
        (!stats.isSymbolicLink() || (await readlink(join(lowerDir!, path))) === link);
      if (stats.isDirectory()) {
        const position = entries.length;
        const childChanged = await walk(path);
        if (!same || childChanged || (before !== null && !before.isDirectory())) {
          const entry = entryFor(path, hostPath, stats, owner);
          if (entry) entries.splice(position, 0, entry);
          changed = true;
        }
        continue;
      }
      if (same) continue;
      const linkTarget = links.resolve(path, stats);
      if (linkTarget !== undefined) {
        entries.push({path, type: 'hardlink', mode: stats.mode & 0o7777, ...owner, linkname: linkTarget, mtime: stats.mtime});
      } else {
        const entry = entryFor(path, hostPath, stats, owner, link);
        if (entry) entries.push(entry);
      }
      changed = true;
    }
    return changed;
  };
  await walk('');
  return entries;
}
