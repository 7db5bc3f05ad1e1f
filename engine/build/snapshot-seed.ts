/**
 * Seeding snapshots with layers the builder has just made, so the next RUN does not extract a tar that was
 * written a moment ago from files still on disk.
 *
 * The result is exactly what engine/snapshot's `Snapshots.ensure` would extract (its contract: a
 * `snapshots/<chain hex>/diff` folder in overlay form plus `meta.json`, built in a `.tmp-*` folder and renamed
 * into place; an existing snapshot wins). Seeding is only attempted where that equivalence is simple to keep:
 * as root (owners can be set), in the per-layer layout (not the merged-copy fallback), and
 *   - from entries: a COPY/WORKDIR change set without whiteouts whose every parent folder is itself an entry,
 *     extracted by GNU tar from the very bytes the layer writer produces, while it writes them;
 *   - from an overlay upper folder: a RUN whose upper has no opaque folders (its whiteouts already are 0/0
 *     character devices, the snapshot form).
 * Anything else answers false and the caller lets `ensure` extract as usual.
 */
import {randomBytes} from 'node:crypto';
import {spawn} from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import type {Writable} from 'node:stream';
import {mkdir, rename, rm, writeFile} from 'node:fs/promises';
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

/** Whether a change set can seed a snapshot: no whiteouts or devices, every parent folder an entry. */
function seedable(entries: readonly LayerEntry[]): boolean {
  const types = new Map(entries.map(entry => [entry.path, entry.type]));
  for (const entry of entries) {
    const name = entry.path.slice(entry.path.lastIndexOf('/') + 1);
    if (name.startsWith('.wh.')) return false;
    if (entry.type === 'char' || entry.type === 'block' || entry.type === 'fifo') return false;
    const slash = entry.path.lastIndexOf('/');
    if (slash !== -1 && types.get(entry.path.slice(0, slash)) !== 'dir') return false;
  }
  return true;
}

/**
 * A snapshot being extracted while its layer is written: GNU tar reads the tar stream the layer writer
 * produces (`input`), in another process, so writing and extracting overlap. `finish` waits for it and, once
 * the layer's diffID (hence chain ID) is known, renames the folder into place; `abandon` drops it.
 */
export interface SeedInProgress {
  /** Where the layer writer should copy its tar stream; undefined when the seed needs no stream. */
  readonly input?: Writable;
  finish(layer: {chainId: string; diffId: string; parent?: string}): Promise<boolean>;
  abandon(): Promise<void>;
}

/** An earlier snapshot of the same step, whose files may be hard-linked where they are identical. */
export interface SeedReuse {
  /** The earlier snapshot's `diff` folder. */
  readonly dir: string;
  /** Identities of its files (CopyPlan.identities of the build that made it). */
  readonly previous: Readonly<Record<string, string>>;
  /** Identities of the files being written now. */
  readonly current: Readonly<Record<string, string>>;
}

/**
 * Start seeding from a whiteout-free change set (COPY, WORKDIR); undefined when it cannot be done here.
 * With `reuse` (a rebuild of a COPY after a few files changed), the snapshot is made in this process:
 * identical files are hard links into the earlier, immutable snapshot, so only changed files are written.
 */
export async function startSeed(snapshots: Snapshots, entries: readonly LayerEntry[], reuse?: SeedReuse): Promise<SeedInProgress | undefined> {
  if (!seedable(entries) || !(await usable(snapshots))) return undefined;
  await mkdir(snapshots.root, {recursive: true});
  const temporary = join(snapshots.root, `.tmp-seed-${process.pid}-${randomBytes(6).toString('hex')}`);
  const diff = join(temporary, 'diff');
  mkdirSync(diff, {recursive: true});
  if (reuse && existsSync(reuse.dir)) return seedByLinking(snapshots, temporary, diff, entries, reuse);
  // GNU tar extracts the layer (clean relative paths, no whiteouts, every parent a folder entry, nothing
  // below a symlink: checked above), keeping owners, modes and times.
  const child = spawn('tar', ['-x', '-f', '-', '-C', diff, '--numeric-owner', '--same-owner', '--same-permissions'], {stdio: ['pipe', 'ignore', 'ignore']});
  const exited = new Promise<boolean>(resolve => {
    child.once('error', () => resolve(false));
    child.once('close', code => resolve(code === 0));
  });
  // A tar that dies must not fail the build: its input errors are swallowed and the seed is dropped.
  child.stdin.on('error', () => {});
  return {
    input: child.stdin,
    async finish(layer) {
      child.stdin!.end();
      const ok = await exited;
      if (!ok || existsSync(join(snapshots.root, hex(layer.chainId)))) {
        await rm(temporary, {recursive: true, force: true});
        return ok;
      }
      await place(snapshots, temporary, layer.chainId, layer.diffId, layer.parent);
      return true;
    },
    async abandon() {
      child.kill('SIGKILL');
      await exited;
      await rm(temporary, {recursive: true, force: true});
    },
  };
}

function seedByLinking(snapshots: Snapshots, temporary: string, diff: string, entries: readonly LayerEntry[], reuse: SeedReuse): SeedInProgress {
  // Started at once: the clone runs in another process while the layer writer hashes on this thread.
  const building = linkSnapshot(diff, entries, reuse).then(
    () => true,
    () => false,
  );
  return {
    input: undefined,
    async finish(layer) {
      if (!(await building)) {
        await rm(temporary, {recursive: true, force: true});
        return false;
      }
      if (existsSync(join(snapshots.root, hex(layer.chainId)))) {
        await rm(temporary, {recursive: true, force: true});
        return true;
      }
      await place(snapshots, temporary, layer.chainId, layer.diffId, layer.parent);
      return true;
    },
    async abandon() {
      await building;
      await rm(temporary, {recursive: true, force: true});
    },
  };
}

/**
 * The earlier snapshot is cloned with `cp -al` (another process, so the thousands of links cost this thread
 * nothing while it hashes the layer), then brought in line with `entries`: changed or new files are written,
 * names the entries no longer have are removed, symlinks are made again, and every folder gets its entry's
 * mode, owner and times last. Unchanged files stay hard links to the earlier snapshot's files, whose inode
 * metadata equals the entry's (the identity covers mode, owner and mtime).
 */
async function linkSnapshot(diff: string, entries: readonly LayerEntry[], reuse: SeedReuse): Promise<void> {
  await clone(reuse.dir, diff);
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const byPath = new Map(sorted.map(entry => [entry.path, entry]));
  const dirs = sorted.filter(entry => entry.type === 'dir');
  // Names that no entry has any more go first, so that a file can become a folder and the other way round.
  removeStrays(diff, '', byPath);
  for (const entry of dirs) {
    const target = join(diff, entry.path);
    if (!isDirectory(target)) {
      rmSync(target, {force: true});
      mkdirSync(target);
    }
  }
  const hardlinks: LayerEntry[] = [];
  for (const entry of sorted) {
    const target = join(diff, entry.path);
    const time = entry.mtime ?? new Date(0);
    if (entry.type === 'file') {
      const identity = reuse.current[entry.path];
      // Cloned from the earlier snapshot, which holds exactly the files of its identities.
      if (identity !== undefined && reuse.previous[entry.path] === identity) continue;
      rmSync(target, {recursive: true, force: true});
      if (entry.content) writeFileSync(target, entry.content);
      else if (entry.sourcePath) copyFileSync(entry.sourcePath, target);
      else writeFileSync(target, '');
      chmodSync(target, entry.mode & 0o7777);
      lchownSync(target, entry.uid, entry.gid);
      utimesSync(target, time, time);
    } else if (entry.type === 'symlink') {
      rmSync(target, {recursive: true, force: true});
      symlinkSync(entry.linkname ?? '', target);
      lchownSync(target, entry.uid, entry.gid);
      lutimesSync(target, time, time);
    } else if (entry.type === 'hardlink') {
      rmSync(target, {recursive: true, force: true});
      hardlinks.push(entry);
    }
  }
  for (const entry of hardlinks) linkSync(join(diff, entry.linkname ?? ''), join(diff, entry.path));
  // Folders last and deepest first: changing their children changed their times.
  for (const entry of dirs.reverse()) {
    const target = join(diff, entry.path);
    const time = entry.mtime ?? new Date(0);
    chmodSync(target, entry.mode & 0o7777);
    lchownSync(target, entry.uid, entry.gid);
    utimesSync(target, time, time);
  }
}

/** `cp -a -l`: folders copied with their metadata, files hard-linked; rejects if cp fails. */
function clone(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '-l', '--', `${from}/.`, to], {stdio: ['ignore', 'ignore', 'pipe']});
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', code => (code === 0 ? resolve() : reject(new Error(`cp -al: ${stderr.trim() || `exit ${code}`}`))));
  });
}

/** Remove what is under `dir` (relative) but is not an entry, recursing into folders that are. */
function removeStrays(root: string, dir: string, byPath: ReadonlyMap<string, LayerEntry>): void {
  for (const item of readdirSync(join(root, dir), {withFileTypes: true})) {
    const path = dir === '' ? item.name : `${dir}/${item.name}`;
    const entry = byPath.get(path);
    if (!entry) rmSync(join(root, path), {recursive: true, force: true});
    else if (item.isDirectory()) {
      if (entry.type === 'dir') removeStrays(root, path, byPath);
      else rmSync(join(root, path), {recursive: true, force: true});
    }
  }
}

function isDirectory(path: string): boolean {
  return lstatSync(path, {throwIfNoEntry: false})?.isDirectory() ?? false;
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
