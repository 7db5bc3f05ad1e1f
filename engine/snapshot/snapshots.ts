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
 * - Owners: as root, files keep the tar's owners. A non-root caller with subordinate ids extracts in a user
 *   namespace mapped as RUN steps are (extract-worker.ts), so a step sees the tar's owners; files then belong
 *   on the host to subordinate ids, and removal goes through a user namespace too (`removeContainerTree`).
 *   Without subordinate ids every file belongs to the caller, which steps see as root.
 */
import {spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {lstat, mkdir, readdir, readFile, rename, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import type {Readable} from 'node:stream';
import {fileURLToPath} from 'node:url';
import {StrataError} from '../errors.js';
import {BlobNotFoundError} from '../store/errors.js';
import {chainIds} from '../image/index.js';
import {hostTools, userNamespacePlan} from '../runtime/host-tools.js';
import {removeContainerTree} from '../runtime/remove-tree.js';
import {applyLayersInto, extractLayerDiff, makeWhiteouts} from './extract-diff.js';
import {mergeStackInto} from './merge.js';
import type {ExtractJob} from './extract-worker.js';
import {isOverlayWhiteout} from './stack.js';

/** What the snapshotter needs from the store: where it lives, and the layer blobs. */
export interface SnapshotSource {
  readonly root: string;
  /** `blobPath` lets a user-namespace extraction read the blob itself (see `extraction`). */
  readonly content: {openBlob(digest: string): Readable; blobPath?(digest: string): string};
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

function hex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

function temporaryName(): string {
  return `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

/**
 * Snapshots this process is still placing, by folder (`pathOf`): a seed the builder finishes in the background
 * once its layer is stored. Whoever needs one of them waits for it rather than extracting the layer again.
 */
const placing = new Map<string, Promise<unknown>>();

/** Say that the snapshot at `dir` (a `pathOf` folder) is being placed by `work` (which must not reject). */
export function placingSnapshot(dir: string, work: Promise<unknown>): void {
  placing.set(dir, work);
  void work.finally(() => {
    if (placing.get(dir) === work) placing.delete(dir);
  });
}

/** Resolves once a placement of the snapshot at `dir` by this process is over (at once when there is none). */
export async function snapshotPlaced(dir: string): Promise<void> {
  await placing.get(dir);
}

export interface SnapshotsOptions {
  /** 'merged-copy' forces the fallback (tests, or a filesystem known to refuse devices); default 'auto'. */
  readonly layout?: 'auto' | 'merged-copy';
  /**
   * Where layers are unpacked. 'user-namespace' (the default for a non-root caller with subordinate ids and a
   * store that gives blob paths) runs the extraction in a user namespace mapped as steps are, so that files
   * keep their owners as the step sees them; 'in-process' unpacks here (a non-root caller then owns every
   * file, and steps see them as root's).
   */
  readonly extraction?: 'auto' | 'in-process' | 'user-namespace';
}

/** Whether a non-root caller can run workers in a user namespace that maps subordinate ids. */
export function canUseUserNamespaceWorker(): boolean {
  return process.getuid?.() !== 0 && hostTools() !== null && userNamespacePlan().subordinateCount > 0;
}

/**
 * Copy the merged view of `lowerDirs` into `target` keeping owners: in-process as root, else in a user
 * namespace mapped as steps are (where `cp -a` may read every file and keep subordinate owners).
 */
export async function mergeStackKeepingOwners(lowerDirs: readonly string[], target: string): Promise<void> {
  if (canUseUserNamespaceWorker()) {
    await runWorker({kind: 'merge-stack', lowerDirs, target});
    return;
  }
  await mergeStackInto(lowerDirs, target);
}

/** Node flags that a worker needs to load TypeScript as this process does (tsx); test-runner flags are left out. */
function loaderFlags(): string[] {
  const flags: string[] = [];
  const argv = process.execArgv;
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index]!;
    if (/^--(import|require|loader|experimental-loader|conditions)=/.test(flag)) flags.push(flag);
    else if (/^--(import|require|loader|experimental-loader|conditions)$/.test(flag) && index + 1 < argv.length) {
      flags.push(flag, argv[++index]!);
    }
  }
  return flags;
}

const workerPath = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './extract-worker.ts' : './extract-worker.js', import.meta.url));

/** Run an extraction job in a user namespace with the steps' id mapping (non-root callers only). */
export function runWorker(job: ExtractJob): Promise<string[]> {
  const tools = hostTools();
  if (!tools) return Promise.reject(new StrataError('ERR_SNAPSHOT_EXTRACT', 'extract layer: unshare not found'));
  const args = ['--user', '--map-root-user', '--map-auto', '--', process.execPath, ...loaderFlags(), workerPath, JSON.stringify(job)];
  return new Promise((resolve, reject) => {
    const child = spawn(tools.unshare, args, {stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', code => {
      if (code === 0) {
        try {
          resolve((JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {diffIds: string[]}).diffIds);
          return;
        } catch {
          // fall through to the error below
        }
      }
      reject(new StrataError('ERR_SNAPSHOT_EXTRACT', `extract layer in a user namespace: ${stderr.trim() || `exit ${code}`}`));
    });
  });
}

/** Answers of the whiteout probe by snapshots folder, for this process. */
const whiteoutProbes = new Map<string, Promise<boolean>>();

async function probeWhiteouts(root: string): Promise<boolean> {
  const probe = join(root, `${temporaryName()}-whiteout`);
  try {
    await makeWhiteouts([probe]);
    return isOverlayWhiteout(await lstat(probe));
  } catch {
    return false;
  } finally {
    await removeContainerTree(probe);
  }
}

export class Snapshots {
  readonly root: string;
  private readonly source: SnapshotSource;
  private whiteoutSupport?: Promise<boolean>;
  private readonly inUserNamespace: boolean;

  constructor(source: SnapshotSource, options: SnapshotsOptions = {}) {
    this.source = source;
    this.root = join(source.root, 'snapshots');
    if (options.layout === 'merged-copy') this.whiteoutSupport = Promise.resolve(false);
    const extraction = options.extraction ?? 'auto';
    const possible = process.getuid?.() !== 0 && typeof source.content.blobPath === 'function' && hostTools() !== null;
    this.inUserNamespace = extraction === 'user-namespace' || (extraction === 'auto' && possible && userNamespacePlan().subordinateCount > 0);
  }

  /** The blob's file, for a worker; only called when `inUserNamespace`. */
  private blobPath(digest: string): string {
    return this.source.content.blobPath!.call(this.source.content, digest);
  }

  /** `blobPath`, checked first: a missing blob is BlobNotFoundError, as a read in this process would say. */
  private async existingBlobPath(digest: string): Promise<string> {
    const path = this.blobPath(digest);
    if (!(await exists(path))) throw new BlobNotFoundError(digest);
    return path;
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
      await snapshotPlaced(dir);
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
      const found = this.inUserNamespace
        ? (await mkdir(temporary, {recursive: true}), await runWorker({kind: 'merged', blobPaths: await Promise.all(layerDigests.map(digest => this.existingBlobPath(digest))), target: rootfs}))
        : await applyLayersInto(layerDigests.map(digest => () => this.source.content.openBlob(digest)), rootfs);
      for (let index = 0; index < diffIds.length; index++) {
        if (found[index] !== diffIds[index]) {
          throw new SnapshotDigestError(`extract layer ${layerDigests[index]}: content has diff ID ${found[index]}, expected ${diffIds[index]}`);
        }
      }
      await writeFile(join(temporary, 'meta.json'), JSON.stringify({chainId, diffIds}));
      await this.renameIntoPlace(temporary, final);
    } finally {
      await removeContainerTree(temporary);
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
      await removeContainerTree(trash);
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

  /**
   * Remove every snapshot and merged copy whose chain ID is not in `keep` (the chains of the images and cache
   * records that still exist). Returns the chain IDs removed. Snapshots are a cache: removing one costs only
   * a later extraction.
   */
  async prune(keep: Iterable<string>): Promise<string[]> {
    const kept = new Set([...keep].map(hex));
    const removed = new Set<string>();
    for (const {folder, names} of await this.folderListings()) {
      for (const name of names) {
        if (!/^[0-9a-f]{64}$/.test(name) || kept.has(name)) continue;
        const trash = join(this.root, temporaryName());
        await rename(join(folder, name), trash);
        await removeContainerTree(trash);
        removed.add(`sha256:${name}`);
      }
    }
    return [...removed].sort();
  }

  /** The names in both snapshot folders (per-layer and merged copies); a folder that does not exist yet lists nothing. */
  private async folderListings(): Promise<{folder: string; names: string[]}[]> {
    const folders = [this.root, join(this.root, 'merged')];
    return Promise.all(folders.map(async folder => ({folder, names: await readdir(folder).catch(() => [] as string[])})));
  }

  /** Remove `.tmp-[word-]<pid>-*` folders whose process is gone (left by an interrupted extraction or seed). */
  async removeLeftovers(): Promise<void> {
    for (const {folder, names} of await this.folderListings()) {
      for (const name of names) {
        const match = /^\.tmp-(?:[a-z]+-)?(\d+)-/.exec(name);
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
        if (!alive) await removeContainerTree(join(folder, name));
      }
    }
  }

  /**
   * Whether this filesystem and kernel let this user create overlay whiteouts. Each instance first clears the
   * leftovers of dead processes; the probe itself (a process that runs mknod) is asked once per folder per
   * process, since every build opens its own `Snapshots` and the answer cannot change while this user runs.
   */
  canMakeWhiteouts(): Promise<boolean> {
    this.whiteoutSupport ??= (async () => {
      await mkdir(this.root, {recursive: true});
      await this.removeLeftovers();
      let answer = whiteoutProbes.get(this.root);
      if (!answer) whiteoutProbes.set(this.root, (answer = probeWhiteouts(this.root)));
      return answer;
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
      await mkdir(temporary, {recursive: true});
      const found = this.inUserNamespace
        ? (await runWorker({kind: 'diff', blobPath: await this.existingBlobPath(layerDigest), target: diff, lowerDirs}))[0]
        : await extractLayerDiff(this.source.content.openBlob(layerDigest), diff, lowerDirs);
      if (found !== diffId) {
        throw new SnapshotDigestError(`extract layer ${layerDigest}: content has diff ID ${found}, expected ${diffId}`);
      }
      await writeFile(join(temporary, 'meta.json'), JSON.stringify({chainId, diffId, ...(parent ? {parent} : {})}));
      await this.renameIntoPlace(temporary, join(this.root, hex(chainId)));
    } finally {
      await removeContainerTree(temporary);
    }
  }

}
