/**
 * The build cache under `<store root>/cache/`:
 *
 *   records/<key hex>.json   cache key -> the layer the step made (diffId, size, creation time)
 *   records/<key hex>.files.json, .map.json   for a COPY: its files' identities and where each lies in the tar
 *   steps/<id hex>.json      per (Dockerfile path, stage, step index): the inputs of the last build of that
 *                            step, so a miss can say what changed
 *   context/<dir hex>.json   content hashes of context files by (path, size, mtime, inode)
 *
 * Contract: records are written atomically (temporary file + rename) and are only trusted when the store still
 * holds their layer blob; a damaged or missing record is a miss, never an error. `cacheRoots` lists the blobs
 * records refer to, so `store.gc({keep})` keeps them alive; `pruneCache` forgets everything.
 *
 * A COPY's companions (`.files.json`, `.map.json`) and the step inputs that this process wrote or read are
 * remembered (bounded, see `Remembered`), so a watch rebuild does not parse what the last rebuild just wrote. A
 * remembered companion is served only while its file is the very one it came from (same inode, size, mtime and
 * ctime), so a record rewritten by another build or process is read again. The objects given to and returned by
 * the companion methods are shared with this memory: treat them as immutable.
 */
import {createHash} from 'node:crypto';
import {closeSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync, type Stats} from 'node:fs';
import {mkdir, readdir, readFile, rename, rm, writeFile} from 'node:fs/promises';
import {join, sep} from 'node:path';
import type {LayerMapEntry} from '../layer/index.js';

export interface CacheRecord {
  readonly key: string;
  /** DiffID (= blob digest: layers are stored uncompressed) of the layer the step made. */
  readonly diffId: string;
  readonly size: number;
  /** ISO time the layer was first made; becomes the history entry's `created`, so rebuilds are stable. */
  readonly created: string;
}

/** The inputs of one step, recorded to explain the next miss. */
export interface StepInputs {
  readonly key: string;
  readonly instruction: string;
  /** State the step starts from: the ChainID of the layers below ('' for scratch). */
  readonly parent: string;
  /** True for the first step of a stage (its parent is the base image). */
  readonly first: boolean;
  /** ARG values the step sees (declared ARGs with a value). */
  readonly args: Readonly<Record<string, string>>;
  /** ENV values the step sees (RUN only; ARG names left out). */
  readonly env?: Readonly<Record<string, string>>;
  /** User, workdir, shell and network of a RUN. */
  readonly settings?: Readonly<Record<string, string>>;
  /** For COPY/ADD from the context: path (relative to the context) -> checksum of type, mode and content. */
  readonly files?: Readonly<Record<string, string>>;
  /** For COPY --from: the source state. */
  readonly source?: string;
}

export function cacheDir(root: string): string {
  return join(root, 'cache');
}

export function hexOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function hexPart(digest: string): string {
  return digest.startsWith('sha256:') ? digest.slice(7) : hexOf(digest);
}

async function writeAtomic(path: string, data: string): Promise<void> {
  await mkdir(join(path, '..'), {recursive: true});
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}

/**
 * A companion file's parsed content, remembered by path with the identity of the file it came from. Bounded
 * by the JSON characters it stands for (least recently used first out).
 */
interface Remembered {
  readonly value: unknown;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly chars: number;
}

const remembered = new Map<string, Remembered>();
let rememberedChars = 0;
/** About 20 MB of JSON text (a 2,000-file COPY's two companions take about 0.8 MB). */
const MAX_REMEMBERED_CHARS = 20_000_000;

function remember(path: string, value: unknown, stats: Stats, chars: number): void {
  forget(path);
  if (chars > MAX_REMEMBERED_CHARS) return;
  remembered.set(path, {value, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, chars});
  rememberedChars += chars;
  for (const [oldest, item] of remembered) {
    if (rememberedChars <= MAX_REMEMBERED_CHARS) break;
    remembered.delete(oldest);
    rememberedChars -= item.chars;
  }
}

function forget(path: string): void {
  const item = remembered.get(path);
  if (!item) return;
  remembered.delete(path);
  rememberedChars -= item.chars;
}

/**
 * Companions a deferring cache (see `BuildCache`) has not written yet, by path: served from here, written by
 * `flushCacheWrites`. The newest write of a path wins.
 */
const unwritten = new Map<string, unknown>();
let flushScheduled = false;

/** Write every companion a deferring cache holds back (synchronously; a failed write only loses reuse). */
export function flushCacheWrites(): void {
  flushScheduled = false;
  for (const [path, value] of unwritten) {
    unwritten.delete(path);
    try {
      writeCompanion(path, value);
    } catch {
      // A record without its companions only means no reuse next time.
    }
  }
}

/** `flushCacheWrites` once this turn of the event loop is over (idempotent). */
export function scheduleCacheFlush(): void {
  if (flushScheduled || unwritten.size === 0) return;
  flushScheduled = true;
  setImmediate(flushCacheWrites);
}

/** The remembered content of `path` when the file there is still the one it came from. */
function recall(path: string): {value: unknown} | undefined {
  if (unwritten.has(path)) return {value: unwritten.get(path)};
  const item = remembered.get(path);
  if (!item) return undefined;
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch {
    forget(path);
    return undefined;
  }
  if (stats.ino !== item.ino || stats.size !== item.size || stats.mtimeMs !== item.mtimeMs || stats.ctimeMs !== item.ctimeMs) {
    forget(path);
    return undefined;
  }
  // Most recently used last.
  remembered.delete(path);
  remembered.set(path, item);
  return {value: item.value};
}

/**
 * `readJson` for a companion: from memory when the file is unchanged, else read (synchronously: one open,
 * stat and read instead of three thread-pool round trips) and remembered.
 */
function readCompanion(path: string): unknown {
  const known = recall(path);
  if (known) return known.value;
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const stats = fstatSync(fd);
    const text = readFileSync(fd, 'utf8');
    const value: unknown = JSON.parse(text);
    remember(path, value, stats, text.length);
    return value;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Folders known to exist, so that a companion write skips the mkdir. */
const madeDirs = new Set<string>();

/** `writeAtomic` for a companion, synchronously (small files: the round trips cost more than the writes); remembers `value`. */
function writeCompanion(path: string, value: unknown): void {
  const data = JSON.stringify(value);
  const dir = join(path, '..');
  if (!madeDirs.has(dir)) {
    mkdirSync(dir, {recursive: true});
    madeDirs.add(dir);
  }
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  let fd: number;
  try {
    fd = openSync(temporary, 'w');
  } catch (error) {
    // The folder was removed meanwhile (a prune): make it again.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dir, {recursive: true});
    fd = openSync(temporary, 'w');
  }
  try {
    const bytes = Buffer.from(data);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    forget(path);
    renameSync(temporary, path);
    // The inode just written, whatever is at the path by now: a later read checks it is still that one.
    remember(path, value, fstatSync(fd), data.length);
  } finally {
    closeSync(fd);
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export class BuildCache {
  readonly dir: string;
  private readonly deferWrites: boolean;
  /**
   * With `deferWrites`, companions and step inputs are kept in this process's memory (served to every cache of
   * the process) until `flushCacheWrites`; records themselves are always written at once. Watch mode defers,
   * so that a rebuild does not spend its time writing what only the next rebuild reads.
   */
  constructor(root: string, options: {deferWrites?: boolean} = {}) {
    this.dir = cacheDir(root);
    this.deferWrites = options.deferWrites ?? false;
  }

  private putCompanion(path: string, value: unknown): void {
    if (!this.deferWrites) return writeCompanion(path, value);
    forget(path);
    unwritten.set(path, value);
  }

  async getRecord(key: string): Promise<CacheRecord | undefined> {
    const record = await readJson<CacheRecord>(join(this.dir, 'records', hexPart(key) + '.json'));
    if (!record || record.key !== key || typeof record.diffId !== 'string') return undefined;
    return record;
  }

  async putRecord(record: CacheRecord): Promise<void> {
    await writeAtomic(join(this.dir, 'records', hexPart(record.key) + '.json'), JSON.stringify(record));
  }

  /** File identities of the layer a COPY record made (see CopyPlan.identities), for snapshot reuse. */
  async getRecordFiles(key: string): Promise<Record<string, string> | undefined> {
    return readCompanion(join(this.dir, 'records', hexPart(key) + '.files.json')) as Record<string, string> | undefined;
  }

  async putRecordFiles(key: string, files: Record<string, string>): Promise<void> {
    this.putCompanion(join(this.dir, 'records', hexPart(key) + '.files.json'), files);
  }

  /**
   * Where each member of the layer a COPY record made lies in its tar, so a rebuild can copy unchanged ones.
   * Only a map written for that very layer (same diffID, same map format) is returned.
   */
  async getRecordMap(key: string, diffId: string): Promise<LayerMapEntry[] | undefined> {
    const stored = readCompanion(join(this.dir, 'records', hexPart(key) + '.map.json')) as {format?: number; diffId?: string; members?: LayerMapEntry[]} | undefined;
    if (stored?.format !== MAP_FORMAT || stored.diffId !== diffId || !Array.isArray(stored.members)) return undefined;
    return stored.members;
  }

  async putRecordMap(key: string, diffId: string, members: readonly LayerMapEntry[]): Promise<void> {
    this.putCompanion(join(this.dir, 'records', hexPart(key) + '.map.json'), {format: MAP_FORMAT, diffId, members});
  }

  /** The inputs of the last build of a step (a companion too: a COPY's list every file's checksum). */
  async getStepInputs(stepId: string): Promise<StepInputs | undefined> {
    return readCompanion(join(this.dir, 'steps', hexOf(stepId) + '.json')) as StepInputs | undefined;
  }

  async putStepInputs(stepId: string, inputs: StepInputs): Promise<void> {
    this.putCompanion(join(this.dir, 'steps', hexOf(stepId) + '.json'), inputs);
  }

  contextHashFile(contextDir: string): string {
    return join(this.dir, 'context', hexOf(contextDir).slice(0, 32) + '.json');
  }
}

/** Identifies one Dockerfile step across builds, for miss reasons. */
export function stepIdentity(dockerfile: string, stage: string, index: number): string {
  return `${dockerfile}\0${stage}\0${index}`;
}

/** The cache key of a step: a digest over its parent state and its resolved definition. */
export function cacheKeyFor(parent: string, definition: unknown): string {
  return 'sha256:' + hexOf(JSON.stringify({v: 1, parent, definition}));
}

/** Version of `.map.json`: a map from another layer writer could frame the bytes differently. */
const MAP_FORMAT = 1;

/** A record's own file, not one of its companions (`.files.json`, `.map.json`). */
function isRecordFile(name: string): boolean {
  return name.endsWith('.json') && !name.endsWith('.files.json') && !name.endsWith('.map.json');
}

/** Blob digests that cache records keep alive (pass to `store.gc({keep})`). */
export async function cacheRoots(root: string): Promise<string[]> {
  const dir = join(cacheDir(root), 'records');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const roots = new Set<string>();
  await Promise.all(
    names
      .filter(isRecordFile)
      .map(async name => {
        const record = await readJson<CacheRecord>(join(dir, name));
        if (record && typeof record.diffId === 'string') roots.add(record.diffId);
      }),
  );
  return [...roots].sort();
}

export interface PruneResult {
  /** Cache records removed. */
  readonly records: number;
  /** Layer blobs those records referred to (they become collectable when no image uses them). */
  readonly layers: readonly string[];
}

/** Empty the build cache. Layers stay in the store until its gc finds nothing referencing them. */
export async function pruneCache(root: string): Promise<PruneResult> {
  const layers = await cacheRoots(root);
  let records = 0;
  try {
    records = (await readdir(join(cacheDir(root), 'records'))).filter(isRecordFile).length;
  } catch {
    // No cache yet.
  }
  const dir = cacheDir(root);
  // What a deferring cache of this process still holds back goes too, or a flush would bring it back.
  for (const path of unwritten.keys()) if (path.startsWith(dir + sep)) unwritten.delete(path);
  await rm(dir, {recursive: true, force: true});
  madeDirs.clear();
  return {records, layers};
}

/**
 * Why a step missed, comparing its inputs with those of the last build of the same Dockerfile step.
 * The first difference found, in the order a user thinks about them.
 */
export function explainMiss(previous: StepInputs | undefined, current: StepInputs, options: {noCache: boolean}): string {
  if (options.noCache) return '--no-cache';
  if (!previous) return 'no cache record';
  if (previous.parent !== current.parent) return current.first ? 'base image changed' : 'previous step changed';
  // An ARG's new value shows in the instruction text when the instruction uses it: name the ARG, it is the cause.
  const argNames = [...new Set([...Object.keys(previous.args), ...Object.keys(current.args)])].sort();
  const changedArgs = argNames.filter(name => previous.args[name] !== current.args[name]);
  if (previous.instruction !== current.instruction) {
    const cause = changedArgs.find(name => (current.args[name] ?? '') !== '' && current.instruction.includes(current.args[name]));
    return cause ? `ARG ${cause} changed` : 'instruction changed';
  }
  // Only RUN sees ARG values it does not name (through its environment).
  if (changedArgs.length > 0 && current.env !== undefined) return `ARG ${changedArgs[0]} changed`;
  if (previous.env || current.env) {
    const envNames = [...new Set([...Object.keys(previous.env ?? {}), ...Object.keys(current.env ?? {})])].sort();
    for (const name of envNames) if (previous.env?.[name] !== current.env?.[name]) return `ENV ${name} changed`;
  }
  if (previous.settings || current.settings) {
    const names = [...new Set([...Object.keys(previous.settings ?? {}), ...Object.keys(current.settings ?? {})])].sort();
    for (const name of names) if (previous.settings?.[name] !== current.settings?.[name]) return `${name} changed`;
  }
  if (previous.source !== current.source) return 'source stage changed';
  if (previous.files || current.files) {
    const reason = describeFileChanges(previous.files ?? {}, current.files ?? {});
    if (reason) return reason;
  }
  return 'no cache record';
}

/** `src/app.js changed`, `src/new.js added`, `2 files changed under src/`, or undefined when equal. */
export function describeFileChanges(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): string | undefined {
  const changed: {path: string; how: 'changed' | 'added' | 'removed'}[] = [];
  for (const [path, checksum] of Object.entries(after)) {
    if (!(path in before)) changed.push({path, how: 'added'});
    else if (before[path] !== checksum) changed.push({path, how: 'changed'});
  }
  for (const path of Object.keys(before)) if (!(path in after)) changed.push({path, how: 'removed'});
  if (changed.length === 0) return undefined;
  if (changed.length === 1) return `${changed[0].path} ${changed[0].how}`;
  const how = changed.every(change => change.how === changed[0].how) ? changed[0].how : 'changed';
  const common = commonDirectory(changed.map(change => change.path));
  return common ? `${changed.length} files ${how} under ${common}/` : `${changed.length} files ${how}`;
}

function commonDirectory(paths: readonly string[]): string {
  let prefix = paths[0].split('/').slice(0, -1);
  for (const path of paths.slice(1)) {
    const parts = path.split('/').slice(0, -1);
    let length = 0;
    while (length < prefix.length && length < parts.length && prefix[length] === parts[length]) length++;
    prefix = prefix.slice(0, length);
  }
  return prefix.join('/');
}
