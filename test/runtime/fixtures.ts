/**
 * Shared pieces of the runtime and snapshot tests: a temp store holding the base image with its snapshots,
 * layers made from declarative entry lists, and a fingerprint of a folder tree to prove it did not change.
 */
import {createHash} from 'node:crypto';
import {lstat, mkdtemp, readdir, readFile, readlink} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {PassThrough} from 'node:stream';
import {writeLayer} from '../../engine/layer/index.js';
import type {LayerEntry} from '../../engine/layer/index.js';
import {Snapshots} from '../../engine/snapshot/index.js';
import {removeContainerTree} from '../../engine/runtime/index.js';
import {Store} from '../../engine/store/index.js';
import {baseImage} from '../helpers/base-image.js';

export interface BaseRootfs {
  readonly root: string;
  readonly store: Store;
  readonly snapshots: Snapshots;
  readonly diffIds: string[];
  readonly lowerDirs: string[];
  /** A fresh folder for one run: {upperDir, workDir} inside it. */
  scratch(): Promise<{upperDir: string; workDir: string}>;
  cleanup(): Promise<void>;
}

/** A temp store with the base image imported and its snapshot extracted. */
export async function openBaseRootfs(): Promise<BaseRootfs> {
  const root = await mkdtemp(join(tmpdir(), 'strata-runtime-'));
  const store = await Store.open(join(root, 'store'));
  const image = await baseImage(store);
  const snapshots = new Snapshots(store);
  const diffIds = image.config.rootfs.diff_ids;
  const lowerDirs = await snapshots.ensure(diffIds, image.manifest.layers.map(layer => layer.digest));
  let runs = 0;
  return {
    root,
    store,
    snapshots,
    diffIds,
    lowerDirs,
    async scratch() {
      const run = join(root, `run-${++runs}`);
      return {upperDir: join(run, 'upper'), workDir: join(run, 'work')};
    },
    async cleanup() {
      // Without root, what steps wrote as other users belongs to subordinate ids: remove it from a user namespace.
      await removeContainerTree(root);
    },
  };
}

/** Store a layer made of `entries` (whiteouts as `.wh.` entries); returns its diff ID (= blob digest). */
export async function putLayer(store: Store, entries: LayerEntry[]): Promise<string> {
  const out = new PassThrough();
  const stored = store.content.putBlob(out);
  await writeLayer(entries, out);
  const blob = await stored;
  return blob.digest;
}

export function fileEntry(path: string, content: string, mode = 0o644, uid = 0, gid = 0): LayerEntry {
  return {path, type: 'file', mode, uid, gid, content: Buffer.from(content), size: Buffer.byteLength(content)};
}

export function dirEntry(path: string, mode = 0o755, uid = 0, gid = 0): LayerEntry {
  return {path, type: 'dir', mode, uid, gid};
}

/**
 * One line per entry under `dir` (path, type, mode, owner, size, mtime, link target or content hash): equal
 * fingerprints mean nothing in the tree was added, removed or changed, times included.
 */
export async function treeFingerprint(dir: string): Promise<string[]> {
  const lines: string[] = [];
  async function walk(relative: string): Promise<void> {
    const path = relative === '' ? dir : join(dir, relative);
    const stats = await lstat(path);
    let detail = '';
    if (stats.isSymbolicLink()) detail = await readlink(path);
    else if (stats.isFile()) detail = createHash('sha256').update(await readFile(path)).digest('hex');
    else if (stats.isCharacterDevice() || stats.isBlockDevice()) detail = `rdev=${stats.rdev}`;
    lines.push([relative || '.', stats.mode.toString(8), stats.uid, stats.gid, stats.size, stats.mtimeMs, stats.nlink, detail].join(' '));
    if (stats.isDirectory()) {
      for (const name of (await readdir(path)).sort()) await walk(relative === '' ? name : `${relative}/${name}`);
    }
  }
  await walk('');
  return lines;
}

/** Relative paths under `dir` with a one-letter type (d, f, l, c for whiteouts...), sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(relative: string): Promise<void> {
    for (const name of (await readdir(join(dir, relative))).sort()) {
      const rel = relative === '' ? name : `${relative}/${name}`;
      const stats = await lstat(join(dir, rel));
      const type = stats.isDirectory() ? 'd' : stats.isSymbolicLink() ? 'l' : stats.isCharacterDevice() ? `c${stats.rdev}` : stats.isFile() ? 'f' : '?';
      found.push(`${type} ${rel}`);
      if (stats.isDirectory()) await walk(rel);
    }
  }
  await walk('');
  return found;
}

/** Whether this test process is the unprivileged re-run (see run-isolated-rootless.test.ts). */
export const unprivilegedRun = process.env.STRATA_TEST_UNPRIVILEGED === '1';

/** Whether this test process runs the RUN tests with steps started by the launcher (run-isolated-launcher.test.ts). */
export const launcherRun = process.env.STRATA_TEST_LAUNCHER === '1';
