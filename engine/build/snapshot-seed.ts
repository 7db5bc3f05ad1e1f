/**
 * Seeding snapshots with layers the builder has just made, so the next RUN does not extract a tar that was
 * written a moment ago from files still on disk.
 *
 * The result is exactly what engine/snapshot's `Snapshots.ensure` would extract (its contract: a
 * `snapshots/<chain hex>/diff` folder in overlay form plus `meta.json`, built in a `.tmp-*` folder and renamed
 * into place; an existing snapshot wins). Seeding is only attempted where that equivalence is simple to keep:
 * as root (owners can be set), in the per-layer layout (not the merged-copy fallback), and
 *   - from entries: a COPY/WORKDIR change set without whiteouts whose every parent folder is itself an entry,
 *     extracted by GNU tar from the very bytes the layer writer produces, while it writes them; or, when the
 *     step's earlier snapshot is known (a rebuild), made from the entries on a seeding thread, its unchanged
 *     files hard links into that earlier snapshot (see `linkSnapshot`);
 *   - from an overlay upper folder: a RUN whose upper has no opaque folders (its whiteouts already are 0/0
 *     character devices, the snapshot form).
 * Anything else answers false and the caller lets `ensure` extract as usual.
 */
import {randomBytes} from 'node:crypto';
import {spawn} from 'node:child_process';
import {existsSync, mkdirSync} from 'node:fs';
import type {Writable} from 'node:stream';
import {mkdir, rename, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {Worker} from 'node:worker_threads';
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
  /**
   * The snapshot's `diff` folder once it is complete, before it is placed (linking seeds only; undefined when
   * linking failed). A RUN may use it as its top lower folder while the layer is still being stored, as long
   * as it is done before `finish` or `abandon` is called.
   */
  readonly ready?: Promise<string | undefined>;
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
 * With `reuse` (a rebuild of a COPY after a few files changed), the snapshot is made on a long-lived worker
 * thread, not from the tar: identical files are hard links into the earlier, immutable snapshot, so only
 * changed files are written, and this thread only posts the entries.
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
  // Started at once: the folder is built on the seeding thread while the layer writer hashes on this one.
  const building = linkSnapshot(diff, entries, reuse).then(
    () => true,
    () => false,
  );
  return {
    input: undefined,
    ready: building.then(ok => (ok ? diff : undefined)),
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
 * An entry the seeding thread makes afresh: kind (`d` folder, `f` file copied from `extra`, a host path, `c`
 * file of `extra` bytes, `s` symlink and `h` hard link to `extra`), path, mode, uid, gid, mtime in ms.
 */
type SeedItem = [kind: 'd' | 'f' | 'c' | 's' | 'h', path: string, mode: number, uid: number, gid: number, mtimeMs: number, extra?: string | Uint8Array];

/** A seed as posted to the seeding thread: made entries, and the files to link joined with NULs (one cheap copy). */
interface SeedJob {
  readonly diff: string;
  readonly earlier: string;
  readonly items: SeedItem[];
  readonly links: string;
}

/**
 * Builds `diff` (an empty folder) from `entries` exactly as extracting their layer would, on the seeding
 * thread: folders are made, files identical to the earlier snapshot's (same identity before and now) are hard
 * links to them, whose inode metadata equals the entry's (the identity covers content, mode, owner and mtime),
 * other files are copied or written with the entry's owner, mode and time, symlinks and hard links made again,
 * and folders get their mode, owner and times last, deepest first. The earlier snapshot is only linked to:
 * nothing walks or clones it, and no name in it is written. Rejects when anything fails, an identical file
 * missing from the earlier snapshot included (the seed is then dropped and `ensure` extracts).
 */
export async function linkSnapshot(diff: string, entries: readonly LayerEntry[], reuse: SeedReuse): Promise<void> {
  const items: SeedItem[] = [];
  const links: string[] = [];
  for (const entry of entries) {
    const {path, type} = entry;
    if (type === 'file') {
      const identity = reuse.current[path];
      if (identity !== undefined && reuse.previous[path] === identity) {
        links.push(path);
        continue;
      }
    }
    const item: SeedItem = [type === 'file' ? 'f' : 'd', path, entry.mode & 0o7777, entry.uid, entry.gid, entry.mtime?.getTime() ?? 0];
    if (type === 'file') {
      if (entry.sourcePath && !entry.content) item[6] = entry.sourcePath;
      else [item[0], item[6]] = ['c', entry.content && new Uint8Array(entry.content)];
    } else if (type === 'symlink' || type === 'hardlink') [item[0], item[6]] = [type === 'symlink' ? 's' : 'h', entry.linkname ?? ''];
    else if (type !== 'dir') throw new Error(`seed snapshot: ${type} entries are not seeded`);
    items.push(item);
  }
  return runOnSeeder({diff, earlier: reuse.dir, items, links: links.join('\0')});
}

/** What the seeding thread runs: plain JavaScript, so it needs no TypeScript loader whatever runs this module. */
const seederSource = `
const {parentPort} = require('node:worker_threads');
const fs = require('node:fs');
const {join} = require('node:path');
function metadata(target, item) {
  // Owner before mode: a chown clears setuid and setgid bits.
  fs.lchownSync(target, item[3], item[4]);
  if (item[0] !== 's') fs.chmodSync(target, item[2]);
  fs.lutimesSync(target, item[5] / 1000, item[5] / 1000);
}
function build(job) {
  // Sorted, a folder comes before everything below it.
  const dirs = job.items.filter(item => item[0] === 'd').sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  for (const item of dirs) fs.mkdirSync(join(job.diff, item[1]));
  if (job.links !== '') for (const path of job.links.split('\\0')) fs.linkSync(join(job.earlier, path), join(job.diff, path));
  const hardlinks = [];
  for (const item of job.items) {
    const target = join(job.diff, item[1]);
    // Fresh names in a fresh folder: nothing is written through a link into the earlier snapshot.
    if (item[0] === 'f') fs.copyFileSync(item[6], target, fs.constants.COPYFILE_EXCL);
    else if (item[0] === 'c') fs.writeFileSync(target, item[6] ?? '', {flag: 'wx'});
    else if (item[0] === 's') fs.symlinkSync(item[6], target);
    else if (item[0] === 'h') hardlinks.push(item);
    if (item[0] === 'f' || item[0] === 'c' || item[0] === 's') metadata(target, item);
  }
  for (const item of hardlinks) fs.linkSync(join(job.diff, item[6]), join(job.diff, item[1]));
  // Folders last and deepest first: making their children changed their times.
  for (const item of dirs.reverse()) metadata(join(job.diff, item[1]), item);
}
parentPort.on('message', job => {
  try {
    build(job);
    parentPort.postMessage({id: job.id});
  } catch (error) {
    parentPort.postMessage({id: job.id, error: error instanceof Error ? error.message : String(error)});
  }
});
`;

let seeder: Worker | undefined;
let nextJob = 0;
const pending = new Map<number, {resolve: () => void; reject: (error: Error) => void}>();

/**
 * Start the seeding thread now rather than at the first rebuilt COPY (idempotent): it takes some 50 ms of CPU
 * to boot, which a watch session had better pay before the first edit. False when workers cannot start (each
 * linking seed then fails and `ensure` extracts).
 */
export function startBackgroundSeeding(): boolean {
  try {
    seeder ??= startSeeder();
    return true;
  } catch {
    return false;
  }
}

/**
 * Run a job on the seeding thread, started on first use and kept (unreferenced while idle, so it never keeps
 * the process alive): starting a process for each seed costs this thread a fork of the whole process.
 */
function runOnSeeder(job: SeedJob): Promise<void> {
  const thread = (seeder ??= startSeeder());
  const id = nextJob++;
  thread.ref();
  return new Promise<void>((resolve, reject) => {
    pending.set(id, {resolve, reject});
    thread.postMessage({id, ...job});
  });
}

function startSeeder(): Worker {
  // Plain JavaScript: no loader the parent was started with (tsx in tests) is needed, so none is booted.
  const thread = new Worker(seederSource, {eval: true, execArgv: []});
  thread.unref();
  thread.on('message', (reply: {id: number; error?: string}) => {
    const job = pending.get(reply.id);
    pending.delete(reply.id);
    if (pending.size === 0) thread.unref();
    if (reply.error === undefined) job?.resolve();
    else job?.reject(new Error(`seed snapshot: ${reply.error}`));
  });
  const fail = (error?: Error) => {
    if (seeder === thread) seeder = undefined;
    // Whoever waits gets no folder from a dead thread; the next seed starts another.
    for (const job of pending.values()) job.reject(new Error(`seed snapshot: ${error?.message ?? 'the seeding thread stopped'}`));
    pending.clear();
  };
  thread.once('error', fail);
  thread.once('exit', () => fail());
  return thread;
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
