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
import {snapshotPlaced, type Snapshots} from '../snapshot/snapshots.js';

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
 * A snapshot being made while its layer is written: GNU tar reads the tar stream the layer writer produces
 * (`input`), in another process, or (a rebuild) the seeding thread links and writes it from the entries, so
 * writing and extracting overlap. `finish` waits for it and, once the layer's diffID (hence chain ID) is
 * known, renames the folder into place; `abandon` drops it.
 */
export interface SeedInProgress {
  /** Where the layer writer should copy its tar stream; undefined when the seed needs no stream. */
  readonly input?: Writable;
  /**
   * The snapshot's `diff` folder once it is complete, before it is placed (linking seeds only; undefined when
   * linking failed). A RUN may use it as its top lower folder while the layer is still being stored, as long
   * as it is done before `finish` or `abandon` is called. Where a view is offered, the links are only made
   * once `finish` asks for them, so `ready` settles no earlier than that: use the view.
   */
  readonly ready?: Promise<string | undefined>;
  /**
   * Lower folders, lowest first, whose overlay shows exactly what `ready`'s folder will hold: the earlier
   * snapshot, then a small folder of the changed files and symlinks and of the folders above them or changed.
   * Linking seeds only, and only when the entries keep every name the earlier snapshot has (else undefined: a
   * whiteout would also hide the parent layers' copy); ready long before `ready` (no links to make). Valid on
   * the same terms: until `finish` or `abandon` is called.
   */
  readonly view?: Promise<string[] | undefined>;
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
  if (reuse) await snapshotPlaced(reuse.dir);
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
  // Started at once: the view is made on the seeding thread while the layer writer hashes on this one. With a
  // view, the links wait for `finish`: until then the view serves, and thousands of links made meanwhile would
  // only slow what runs on it.
  const viewDir = `${temporary}-view`;
  const linking = startLinking(diff, entries, reuse, viewDir, {deferLinks: true});
  const building = linking.built.then(
    () => true,
    () => false,
  );
  const viewing = linking.view.catch(() => false);
  // The view goes once the snapshot is placed or dropped (the caller is done with both by then).
  const dropView = async () => {
    if (await viewing) await removeOnSeeder(viewDir).catch(() => rm(viewDir, {recursive: true, force: true}));
  };
  return {
    input: undefined,
    ready: building.then(ok => (ok ? diff : undefined)),
    view: viewing.then(ok => (ok ? [reuse.dir, viewDir] : undefined)),
    async finish(layer) {
      linking.link();
      const ok = await building;
      await dropView();
      if (!ok) {
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
      linking.drop();
      await building;
      await dropView();
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
  /** Where to make the view folder first (see `SeedInProgress.view`), if wanted. */
  readonly view?: string;
  /** With a view made, the links wait until they are asked for (`link`) or the job is dropped (`drop`). */
  readonly deferLinks?: boolean;
}

/** A job on the seeding thread: its view, its whole result, and (deferred links) the calls that end the wait. */
interface SeederRun {
  readonly view: Promise<boolean>;
  readonly built: Promise<void>;
  link(): void;
  drop(): void;
}

/**
 * Builds `diff` (an empty folder) from `entries` exactly as extracting their layer would, on the seeding
 * thread: folders are made, files identical to the earlier snapshot's (same identity before and now) are hard
 * links to them, whose inode metadata equals the entry's (the identity covers content, mode, owner and mtime),
 * other files are copied or written with the entry's owner, mode and time, symlinks and hard links made again,
 * and folders get their mode, owner and times last, deepest first. The earlier snapshot is only read and
 * linked to: nothing clones it, and no name in it is written. Rejects when anything fails, an identical file
 * missing from the earlier snapshot included (the seed is then dropped and `ensure` extracts).
 */
export function linkSnapshot(diff: string, entries: readonly LayerEntry[], reuse: SeedReuse): Promise<void> {
  return startLinking(diff, entries, reuse).built;
}

/**
 * `linkSnapshot`, and with `viewDir` (a name that does not exist yet) first the view folder: `view` resolves
 * true once `[reuse.dir, viewDir]` overlaid show what `diff` will hold, false when that cannot be (a name of
 * the earlier snapshot is not an entry any more, or a hard link entry), before `built` settles.
 */
export function startLinking(
  diff: string,
  entries: readonly LayerEntry[],
  reuse: SeedReuse,
  viewDir?: string,
  options: {deferLinks?: boolean} = {},
): SeederRun {
  try {
    return runOnSeeder({diff, earlier: reuse.dir, ...seedItems(entries, reuse), ...(viewDir ? {view: viewDir, deferLinks: options.deferLinks} : {})});
  } catch (error) {
    const failed = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    failed.catch(() => {});
    return {view: Promise.resolve(false), built: failed, link: () => {}, drop: () => {}};
  }
}

function seedItems(entries: readonly LayerEntry[], reuse: SeedReuse): {items: SeedItem[]; links: string} {
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
  return {items, links: links.join('\0')};
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
/** Make the folders, then the files and symlinks of items, under root; hard links are returned for later. */
function make(root, dirs, items, view) {
  for (const item of dirs) fs.mkdirSync(join(root, item[1]));
  const hardlinks = [];
  for (const item of items) {
    const target = join(root, item[1]);
    // The view's copy is the same file, metadata set: linked, not copied twice.
    if (view && (item[0] === 'f' || item[0] === 'c')) {
      fs.linkSync(join(view, item[1]), target);
      continue;
    }
    // Fresh names in a fresh folder: nothing is written through a link into the earlier snapshot.
    if (item[0] === 'f') fs.copyFileSync(item[6], target, fs.constants.COPYFILE_EXCL);
    else if (item[0] === 'c') fs.writeFileSync(target, item[6] ?? '', {flag: 'wx'});
    else if (item[0] === 's') fs.symlinkSync(item[6], target);
    else if (item[0] === 'h') hardlinks.push(item);
    if (item[0] === 'f' || item[0] === 'c' || item[0] === 's') metadata(target, item);
  }
  return hardlinks;
}
/** Folders last and deepest first: making their children changed their times. */
function finishFolders(root, dirs) {
  for (let index = dirs.length - 1; index >= 0; index--) metadata(join(root, dirs[index][1]), dirs[index]);
}
/**
 * The view: what changed, under job.view, to lie over the earlier snapshot. Only if every name the earlier
 * snapshot has is still an entry: then no whiteout is needed, and a folder or file over one of another type
 * hides it in an overlay, as the snapshot has it replaced. Folders go in where the earlier one differs (another
 * type, mode, owner or time: the topmost copy's are shown) and where something below them is made.
 */
function makeView(job, dirs, links) {
  if (job.items.some(item => item[0] === 'h')) return false;
  const names = new Set(links);
  for (const item of job.items) names.add(item[1]);
  const earlierDirs = new Set();
  const earlierFiles = new Set();
  const pending = [''];
  while (pending.length > 0) {
    const dir = pending.pop();
    for (const found of fs.readdirSync(dir === '' ? job.earlier : join(job.earlier, dir), {withFileTypes: true})) {
      const path = dir === '' ? found.name : dir + '/' + found.name;
      if (!names.has(path)) return false;
      if (found.isDirectory()) pending.push(path), earlierDirs.add(path);
      else if (found.isFile()) earlierFiles.add(path);
    }
  }
  // The view shows the earlier snapshot's copy of each identical file: it must have one.
  for (const path of links) if (!earlierFiles.has(path)) return false;
  const wanted = new Set();
  const want = path => {
    for (let dir = path; dir !== '' && !wanted.has(dir); dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/')))) wanted.add(dir);
  };
  for (const item of job.items) {
    const path = item[1];
    if (item[0] !== 'd') want(path.slice(0, Math.max(0, path.lastIndexOf('/'))));
    else if (!earlierDirs.has(path)) want(path);
    else {
      const stats = fs.lstatSync(join(job.earlier, path));
      if ((stats.mode & 0o7777) !== item[2] || stats.uid !== item[3] || stats.gid !== item[4] || stats.mtimeMs !== item[5]) want(path);
    }
  }
  const viewDirs = dirs.filter(item => wanted.has(item[1]));
  fs.mkdirSync(job.view);
  make(job.view, viewDirs, job.items);
  finishFolders(job.view, viewDirs);
  return true;
}
/** Jobs whose view is made and whose links wait to be asked for (\`link\`), by id. */
const waiting = new Map();
/** Make the view, if asked; true when the links are to wait (a view was made and the job defers them). */
function build(job) {
  // Sorted, a folder comes before everything below it.
  const dirs = job.items.filter(item => item[0] === 'd').sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const links = job.links === '' ? [] : job.links.split('\\0');
  let view = false;
  if (job.view) {
    try {
      view = makeView(job, dirs, links);
    } catch {
      fs.rmSync(job.view, {recursive: true, force: true});
    }
    parentPort.postMessage({id: job.id, view});
  }
  if (view && job.deferLinks) {
    waiting.set(job.id, () => link(job, dirs, links, view));
    return true;
  }
  link(job, dirs, links, view);
  return false;
}
function link(job, dirs, links, view) {
  make(job.diff, dirs, []);
  for (const path of links) fs.linkSync(join(job.earlier, path), join(job.diff, path));
  const hardlinks = make(job.diff, [], job.items, view ? job.view : undefined);
  for (const item of hardlinks) fs.linkSync(join(job.diff, item[6]), join(job.diff, item[1]));
  finishFolders(job.diff, dirs);
}
parentPort.on('message', job => {
  try {
    if (job.remove) fs.rmSync(job.remove, {recursive: true, force: true});
    else if (job.link !== undefined || job.drop !== undefined) {
      const id = job.link ?? job.drop;
      const rest = waiting.get(id);
      waiting.delete(id);
      if (!rest) return;
      try {
        if (job.link !== undefined) rest();
        parentPort.postMessage({id});
      } catch (error) {
        parentPort.postMessage({id, error: error instanceof Error ? error.message : String(error)});
      }
      return;
    } else if (build(job)) return;
    parentPort.postMessage({id: job.id});
  } catch (error) {
    parentPort.postMessage({id: job.id, error: error instanceof Error ? error.message : String(error)});
  }
});
`;

let seeder: Worker | undefined;
let nextJob = 0;
interface PendingJob {
  view(made: boolean): void;
  resolve(): void;
  reject(error: Error): void;
  /** Its links wait, once its view is made (see `SeedJob.deferLinks`). */
  readonly deferred: boolean;
}
const pending = new Map<number, PendingJob>();

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
function runOnSeeder(job: SeedJob | {remove: string}): SeederRun {
  const thread = (seeder ??= startSeeder());
  const id = nextJob++;
  let view!: (made: boolean) => void;
  const viewing = new Promise<boolean>(resolve => (view = resolve));
  const deferred = 'deferLinks' in job && job.deferLinks === true;
  const built = new Promise<void>((resolve, reject) => {
    pending.set(id, {view, resolve, reject, deferred});
    holdSeeder(thread);
    thread.postMessage({id, ...job});
  });
  // Settled in any case, so that a view nobody asked for is never left waiting.
  built.then(
    () => view(false),
    () => view(false),
  );
  const resume = (how: 'link' | 'drop') => {
    if (parked.delete(id)) {
      holdSeeder(thread);
      thread.postMessage({[how]: id});
    } else if (pending.has(id) && deferred) {
      // Asked before the view is made: the thread is told as soon as it says the links wait.
      requested.set(id, how);
    }
  };
  return {view: viewing, built, link: () => resume('link'), drop: () => resume('drop')};
}

/** Jobs whose links wait to be asked for: they do not keep the process alive. */
const parked = new Set<number>();
/** What was asked of a deferring job before its links were waiting. */
const requested = new Map<number, 'link' | 'drop'>();

/** Keep the process alive while the seeding thread has work that someone waits for. */
function holdSeeder(thread: Worker): void {
  if (pending.size > parked.size) thread.ref();
  else thread.unref();
}

async function removeOnSeeder(path: string): Promise<void> {
  return runOnSeeder({remove: path}).built;
}

function startSeeder(): Worker {
  // Plain JavaScript: no loader the parent was started with (tsx in tests) is needed, so none is booted.
  const thread = new Worker(seederSource, {eval: true, execArgv: []});
  thread.on('message', (reply: {id: number; view?: boolean; error?: string}) => {
    const job = pending.get(reply.id);
    if (reply.view !== undefined) {
      if (reply.view && job?.deferred) {
        const how = requested.get(reply.id);
        requested.delete(reply.id);
        if (how) thread.postMessage({[how]: reply.id});
        else parked.add(reply.id);
      }
      holdSeeder(thread);
      job?.view(reply.view);
      return;
    }
    pending.delete(reply.id);
    parked.delete(reply.id);
    requested.delete(reply.id);
    holdSeeder(thread);
    if (reply.error === undefined) job?.resolve();
    else job?.reject(new Error(`seed snapshot: ${reply.error}`));
  });
  const fail = (error?: Error) => {
    if (seeder === thread) seeder = undefined;
    // Whoever waits gets no folder from a dead thread; the next seed starts another.
    for (const job of pending.values()) job.reject(new Error(`seed snapshot: ${error?.message ?? 'the seeding thread stopped'}`));
    pending.clear();
    parked.clear();
    requested.clear();
  };
  thread.once('error', fail);
  thread.once('exit', () => fail());
  // After the 'message' listener, which refs the worker's port again: idle, it keeps nothing alive.
  thread.unref();
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
