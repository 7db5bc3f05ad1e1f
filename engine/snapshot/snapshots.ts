/**
 * Snapshots: layers extracted once and kept, keyed by chain ID, as the lower folders of overlay mounts.
 *
 * Contract:
 * - `<store root>/snapshots/<chain ID hex>/diff` holds exactly one layer's diff in overlayfs form: the layer's
 *   files as applyLayer writes them, each OCI whiteout `.wh.x` as an overlay whiteout (character device 0/0)
 *   named `x`, and each opaque marker as one whiteout per name the lower layers hold in that folder (recursively
 *   for sub-folders this layer also has), so no `trusted.overlay.opaque` xattr is ever needed (Node cannot set
 *   xattrs, unprivileged users cannot set `trusted.*`, and the same folders then work for root and user
 *   namespace mounts). `meta.json` beside it records the chain ID, diff ID and parent.
 * - A snapshot is built in a `.tmp-*` folder and renamed into place: a snapshot folder that exists is complete.
 *   An interrupted extraction leaves only a `.tmp-*` folder, removed by the next `ensure`. Two processes
 *   ensuring the same chain both extract; the first rename wins, the other discards its copy.
 * - Where overlay whiteouts cannot be created (kernels before 5.8 refuse unprivileged 0/0 devices, some
 *   filesystems refuse devices at all), `ensure` falls back to one merged copy of the whole stack
 *   (`merged/<chain ID hex>/rootfs`, built the same atomic way) and returns that single folder: a valid lower
 *   stack of one, without whiteouts.
 * - The layer blob's uncompressed digest must equal its diff ID, else nothing is kept and
 *   `SnapshotDigestError` is thrown.
 */
import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {chmod, chown, lstat, mkdir, readdir, readFile, rename, rm, utimes, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {PassThrough} from 'node:stream';
import type {Readable} from 'node:stream';
import {StrataError} from '../errors.js';
import {chainIds} from '../image/index.js';
import {applyLayer, readLayerMembers} from '../layer/index.js';
import {isOverlayWhiteout, listInStack, lookupInStack} from './stack.js';

/** What the snapshotter needs from the store: where it lives, and the layer blobs. */
export interface SnapshotSource {
  readonly root: string;
  readonly content: {openBlob(digest: string): Readable};
}

export interface SnapshotInfo {
  readonly chainId: string;
  readonly diffId: string;
  readonly parent?: string;
  readonly path: string;
}

/** A layer's bytes did not match its diff ID while extracting. */
export class SnapshotDigestError extends StrataError {
  constructor(message: string) {
    super('ERR_SNAPSHOT_DIGEST', message);
  }
}

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

function hex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

function temporaryName(): string {
  return `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/** Create 0/0 character devices at each absolute path, in one helper process. */
function makeWhiteouts(paths: readonly string[]): Promise<void> {
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

export interface SnapshotsOptions {
  /** 'merged-copy' forces the fallback (tests, or a filesystem known to refuse devices); default 'auto'. */
  readonly layout?: 'auto' | 'merged-copy';
}

export class Snapshots {
  readonly root: string;
  private readonly source: SnapshotSource;
  private whiteoutSupport?: Promise<boolean>;

  constructor(source: SnapshotSource, options: SnapshotsOptions = {}) {
    this.source = source;
    this.root = join(source.root, 'snapshots');
    if (options.layout === 'merged-copy') this.whiteoutSupport = Promise.resolve(false);
  }

  /** The folder of the snapshot of `chainId` (whether or not it exists yet). */
  pathOf(chainId: string): string {
    return join(this.root, hex(chainId), 'diff');
  }

  /**
   * Make sure every layer of the stack is extracted; returns the overlay lower folders, lowest first: one per
   * layer, or (where overlay whiteouts cannot be made) a single merged copy of the whole stack.
   * `layerDigests[i]` is the stored blob of the layer whose diff ID is `diffIds[i]` (equal for local layers).
   */
  async ensure(diffIds: readonly string[], layerDigests: readonly string[] = diffIds): Promise<string[]> {
    if (diffIds.length !== layerDigests.length) throw new StrataError('ERR_SNAPSHOT_ARGS', 'ensure snapshots: diff IDs and layer digests differ in number');
    if (diffIds.length === 0) return [];
    if (!(await this.canMakeWhiteouts())) return [await this.mergedCopy(diffIds, layerDigests)];
    await mkdir(this.root, {recursive: true});
    const chains = chainIds(diffIds);
    const dirs: string[] = [];
    for (let index = 0; index < chains.length; index++) {
      const chainId = chains[index]!;
      const dir = this.pathOf(chainId);
      if (!(await exists(dir))) {
        await this.extract(chainId, diffIds[index]!, layerDigests[index]!, index > 0 ? chains[index - 1] : undefined, dirs);
      }
      dirs.push(dir);
    }
    return dirs;
  }

  /**
   * One folder holding the whole stack applied in order (the copy fallback, and the "before" side of a
   * copy-mode diff). Cached under `snapshots/merged/<chain ID hex>/rootfs`; callers must not write into it.
   */
  async mergedCopy(diffIds: readonly string[], layerDigests: readonly string[] = diffIds): Promise<string> {
    const chainId = chainIds(diffIds).at(-1)!;
    const mergedRoot = join(this.root, 'merged');
    const final = join(mergedRoot, hex(chainId));
    if (await exists(final)) return join(final, 'rootfs');
    await mkdir(mergedRoot, {recursive: true});
    const temporary = join(mergedRoot, temporaryName());
    try {
      const rootfs = join(temporary, 'rootfs');
      for (let index = 0; index < diffIds.length; index++) {
        const result = await applyLayer(this.source.content.openBlob(layerDigests[index]!), rootfs);
        if (result.diffId !== diffIds[index]) {
          throw new SnapshotDigestError(`extract layer ${layerDigests[index]}: content has diff ID ${result.diffId}, expected ${diffIds[index]}`);
        }
      }
      await writeFile(join(temporary, 'meta.json'), JSON.stringify({chainId, diffIds}));
      await this.renameIntoPlace(temporary, final);
    } finally {
      await rm(temporary, {recursive: true, force: true});
    }
    return join(final, 'rootfs');
  }

  /** Remove a snapshot (and any merged copy of the chain it ends). Safe while nothing mounts it. */
  async remove(chainId: string): Promise<void> {
    for (const folder of [join(this.root, hex(chainId)), join(this.root, 'merged', hex(chainId))]) {
      if (!(await exists(folder))) continue;
      // Renamed away first, so that a half-removed snapshot is never taken for a complete one.
      const trash = join(this.root, temporaryName());
      await rename(folder, trash);
      await rm(trash, {recursive: true, force: true});
    }
  }

  /** Complete snapshots, in no particular order. */
  async list(): Promise<SnapshotInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const infos: SnapshotInfo[] = [];
    for (const name of names) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      try {
        const meta = JSON.parse(await readFile(join(this.root, name, 'meta.json'), 'utf8')) as {chainId: string; diffId: string; parent?: string};
        infos.push({chainId: meta.chainId, diffId: meta.diffId, ...(meta.parent ? {parent: meta.parent} : {}), path: join(this.root, name, 'diff')});
      } catch {
        // not a snapshot
      }
    }
    return infos;
  }

  /** Remove `.tmp-*` folders that no live extraction owns (left by an interrupted process). */
  async removeLeftovers(): Promise<void> {
    for (const folder of [this.root, join(this.root, 'merged')]) {
      let names: string[] = [];
      try {
        names = await readdir(folder);
      } catch {
        continue;
      }
      for (const name of names) {
        const match = /^\.tmp-(\d+)-/.exec(name);
        if (!match) continue;
        const pid = Number(match[1]);
        let alive = pid === process.pid;
        if (!alive) {
          try {
            process.kill(pid, 0);
            alive = true;
          } catch (error) {
            alive = (error as NodeJS.ErrnoException).code === 'EPERM';
          }
        }
        if (!alive) await rm(join(folder, name), {recursive: true, force: true});
      }
    }
  }

  /** Whether this filesystem and kernel let this user create overlay whiteouts (asked once). */
  canMakeWhiteouts(): Promise<boolean> {
    this.whiteoutSupport ??= (async () => {
      await mkdir(this.root, {recursive: true});
      await this.removeLeftovers();
      const probe = join(this.root, `${temporaryName()}-whiteout`);
      try {
        await makeWhiteouts([probe]);
        return isOverlayWhiteout(await lstat(probe));
      } catch {
        return false;
      } finally {
        await rm(probe, {force: true});
      }
    })();
    return this.whiteoutSupport;
  }

  private async renameIntoPlace(temporary: string, final: string): Promise<void> {
    try {
      await rename(temporary, final);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Another process finished the same snapshot first: theirs is as good as ours.
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await exists(final))) return;
      throw error;
    }
  }

  private async extract(chainId: string, diffId: string, layerDigest: string, parent: string | undefined, lowerDirs: readonly string[]): Promise<void> {
    const temporary = join(this.root, temporaryName());
    const diff = join(temporary, 'diff');
    try {
      await mkdir(diff, {recursive: true});
      const blob = this.source.content.openBlob(layerDigest);
      // One read of the blob feeds both the extraction and the whiteout scan.
      const forApply = new PassThrough({highWaterMark: 1 << 20});
      const forScan = new PassThrough({highWaterMark: 1 << 20});
      blob.on('error', error => {
        forApply.destroy(error);
        forScan.destroy(error);
      });
      blob.pipe(forApply);
      blob.pipe(forScan);
      const whiteouts: LayerWhiteouts = {removed: [], opaque: []};
      const [applied] = await Promise.all([
        applyLayer(forApply, diff),
        readLayerMembers(forScan, member => {
          const name = nameOf(member.path);
          if (name === OPAQUE_MARKER) whiteouts.opaque.push(parentOf(member.path));
          else if (name.startsWith(WHITEOUT_PREFIX) && !name.startsWith('.wh..wh.')) {
            whiteouts.removed.push(joinRel(parentOf(member.path), name.slice(WHITEOUT_PREFIX.length)));
          }
        }),
      ]);
      if (applied.diffId !== diffId) {
        throw new SnapshotDigestError(`extract layer ${layerDigest}: content has diff ID ${applied.diffId}, expected ${diffId}`);
      }
      await this.materialiseWhiteouts(diff, whiteouts, lowerDirs);
      await writeFile(join(temporary, 'meta.json'), JSON.stringify({chainId, diffId, ...(parent ? {parent} : {})}));
      await this.renameIntoPlace(temporary, join(this.root, hex(chainId)));
    } finally {
      await rm(temporary, {recursive: true, force: true});
    }
  }

  /** Turn the layer's OCI whiteouts into overlay whiteouts in `diff`, against the lower stack. */
  private async materialiseWhiteouts(diff: string, whiteouts: LayerWhiteouts, lowerDirs: readonly string[]): Promise<void> {
    const devices = new Set<string>();
    for (const removed of whiteouts.removed) {
      // Only what a lower layer has needs hiding; a whiteout for a name this layer also wrote hides the lower one,
      // which this layer's own entry already does.
      if (!(await lookupInStack(lowerDirs, removed))) continue;
      if (!(await this.ensureRealParent(diff, parentOf(removed), lowerDirs))) continue;
      if (await exists(join(diff, removed))) continue;
      devices.add(join(diff, removed));
    }
    for (const folder of whiteouts.opaque) await this.hideLowerChildren(diff, folder, lowerDirs, devices);
    // Creating the devices touches their folders: put back the times the layer gave them.
    const restore = await this.saveFolderTimes(diff, [...devices].map(device => parentOf(device.slice(diff.length + 1))));
    await makeWhiteouts([...devices]);
    await restore();
  }

  /** Opaque folder `folder`: whiteout every lower child this layer lacks, and recurse into shared folders. */
  private async hideLowerChildren(diff: string, folder: string, lowerDirs: readonly string[], devices: Set<string>): Promise<void> {
    const here = await lstat(join(diff, folder)).catch(() => null);
    if (!here || !here.isDirectory()) return;
    for (const name of await listInStack(lowerDirs, folder)) {
      const relPath = joinRel(folder, name);
      const own = await lstat(join(diff, relPath)).catch(() => null);
      if (!own) devices.add(join(diff, relPath));
      else if (own.isDirectory()) await this.hideLowerChildren(diff, relPath, lowerDirs, devices);
    }
  }

  /**
   * Make `relDir` a real folder in `diff` (never through a symlink). A folder the layer did not carry copies
   * the metadata of the lower one, since overlayfs shows the topmost folder's mode and owner.
   * Returns false when the path cannot hold a whiteout (a non-folder on the way).
   */
  private async ensureRealParent(diff: string, relDir: string, lowerDirs: readonly string[]): Promise<boolean> {
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
      await chmod(path, lower.stats.mode & 0o7777);
      await chown(path, lower.stats.uid, lower.stats.gid).catch(() => {});
      await utimes(path, lower.stats.atime, lower.stats.mtime);
    }
    return true;
  }

  /** Read the times of `folders` (relative to `diff`) now, and return a function that puts them back. */
  private async saveFolderTimes(diff: string, folders: readonly string[]): Promise<() => Promise<void>> {
    const saved: Array<[string, Date, Date]> = [];
    for (const folder of new Set(folders)) {
      const stats = await lstat(join(diff, folder)).catch(() => null);
      if (stats?.isDirectory()) saved.push([join(diff, folder), stats.atime, stats.mtime]);
    }
    return async () => {
      for (const [path, atime, mtime] of saved) await utimes(path, atime, mtime);
    };
  }

}
