/**
 * The build context as COPY/ADD see it: a folder filtered by .dockerignore, read lazily one directory at a
 * time, with content hashes remembered by (path, size, mtime, inode) in a file under `<root>/cache/` so an
 * unchanged context is never read twice.
 *
 * Contract:
 * - Paths are relative to the context root, `/`-separated, never `..`; `lookup` clamps what it is given.
 * - An excluded path is invisible: `lookup` says it does not exist and `list` leaves it out (the walk rule of
 *   .dockerignore: an excluded directory is still entered when an exception pattern may re-include below it).
 * - `fileDigest` returns the sha256 of a regular file's bytes; a hash is reused only when size, mtime and inode
 *   match and the file was not modified within the clock tick of its hashing ("racy" entries are re-read).
 * - A `Context` object can be kept across builds (watch mode): `invalidate(paths)` forgets what it knew about
 *   those paths so only they are stat'ed and read again.
 */
import {createHash} from 'node:crypto';
import {closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats} from 'node:fs';
import {lstat, mkdir, readFile, readlink, rename, rm, writeFile} from 'node:fs/promises';
import {join} from 'node:path';

export type ContextEntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface ContextEntry {
  /** Relative path ('' is the root). */
  readonly path: string;
  readonly type: ContextEntryType;
  /** Permission bits and setuid/setgid/sticky (07777). */
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
  readonly linkname?: string;
  readonly hostPath: string;
}

/** What .dockerignore says about a path. */
export interface ContextFilter {
  /** True when the path (file or directory) is excluded. */
  excludes(path: string): boolean;
  /** For an excluded directory: may an exception pattern re-include something below it? */
  mayIncludeBelow(dir: string): boolean;
}

export const includeEverything: ContextFilter = {excludes: () => false, mayIncludeBelow: () => false};

interface HashRecord {
  size: number;
  mtimeMs: number;
  ino: number;
  digest: string;
  /** Modified within the tick it was hashed in: do not trust next time. */
  racy: boolean;
}

const racyWindowMs = 2000;

/** One context folder with its filter and hash memory. */
export class Context {
  readonly dir: string;
  private filter: ContextFilter;
  private readonly listings = new Map<string, ContextEntry[]>();
  private readonly entries = new Map<string, ContextEntry | null>();
  private hashes = new Map<string, HashRecord>();
  private hashesDirty = false;
  private hashGeneration = 0;
  private saving: Promise<void> = Promise.resolve();
  private readonly hashFile?: string;
  private loaded = false;
  /** Files whose bytes were read during the current build (for tests and stats). */
  readBytes = 0;
  filesHashed = 0;

  constructor(dir: string, options: {filter?: ContextFilter; hashFile?: string} = {}) {
    this.dir = dir;
    this.filter = options.filter ?? includeEverything;
    this.hashFile = options.hashFile;
  }

  /** Replace the .dockerignore filter (it changed): everything known about listings is dropped. */
  setFilter(filter: ContextFilter): void {
    this.filter = filter;
    this.listings.clear();
    this.entries.clear();
  }

  /** Forget what is known about these paths (and their parents' listings); undefined forgets everything. */
  invalidate(paths?: readonly string[]): void {
    if (!paths) {
      this.listings.clear();
      this.entries.clear();
      return;
    }
    for (const raw of paths) {
      const path = cleanContextPath(raw);
      const prefix = path === '' ? '' : path + '/';
      for (const key of [...this.listings.keys()]) if (key === path || key.startsWith(prefix) || path === '') this.listings.delete(key);
      for (const key of [...this.entries.keys()]) if (key === path || key.startsWith(prefix) || path === '') this.entries.delete(key);
      // The parent's listing may gain or lose the name.
      let parent = parentOf(path);
      for (;;) {
        this.listings.delete(parent);
        this.entries.delete(parent);
        if (parent === '') break;
        parent = parentOf(parent);
      }
    }
  }

  /** The entry at `path` (no symlink following), or null when absent or excluded. */
  async lookup(raw: string): Promise<ContextEntry | null> {
    const path = cleanContextPath(raw);
    if (this.entries.has(path)) return this.entries.get(path)!;
    let entry: ContextEntry | null = null;
    if (path === '') {
      entry = toEntry('', this.dir, await lstat(this.dir));
    } else if (!this.isHidden(path)) {
      entry = await this.lookupFresh(path, join(this.dir, path));
    }
    this.entries.set(path, entry);
    return entry;
  }

  /** Children of a directory, sorted by name (byte order), excluded entries left out. */
  async list(raw: string): Promise<ContextEntry[]> {
    const dir = cleanContextPath(raw);
    const known = this.listings.get(dir);
    if (known) return known;
    const hostDir = dir === '' ? this.dir : join(this.dir, dir);
    let names: string[];
    try {
      // Synchronous on purpose: for thousands of entries, lstat without the thread-pool round trip is
      // several times faster, and a no-op rebuild is mostly this walk.
      names = readdirSync(hostDir);
    } catch (error) {
      if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw error;
    }
    names.sort(compareBytes);
    const result: ContextEntry[] = [];
    for (const name of names) {
      const path = dir === '' ? name : `${dir}/${name}`;
      if (this.isHidden(path)) continue;
      const entry = this.lookupFreshSync(path, join(hostDir, name));
      if (entry) this.entries.set(path, entry);
      else this.entries.delete(path);
    }
    for (const name of names) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const entry = this.entries.get(path);
      if (entry) result.push(entry);
    }
    this.listings.set(dir, result);
    return result;
  }

  /** Every entry below `dir` (not `dir` itself), depth first, parents before children, sorted. */
  async *walk(dir: string): AsyncGenerator<ContextEntry> {
    for (const entry of await this.list(dir)) {
      yield entry;
      if (entry.type === 'dir') yield* this.walk(entry.path);
    }
  }

  /** sha256 (`sha256:<hex>`) of a regular file's content, from memory when size, mtime and inode match. */
  async fileDigest(entry: ContextEntry): Promise<string> {
    if (!this.loaded) await this.loadHashes();
    const known = this.knownDigest(entry);
    if (known !== undefined) return known;
    const hashedAt = Date.now();
    const digest = await hashFile(entry.hostPath);
    this.readBytes += entry.size;
    this.filesHashed++;
    const racy = hashedAt - entry.mtimeMs < racyWindowMs;
    this.hashes.set(entry.path, {size: entry.size, mtimeMs: entry.mtimeMs, ino: entry.ino, digest, racy});
    this.hashesDirty = true;
    return digest;
  }

  /**
   * What `fileDigest` would answer without reading the file, when it can (the remembered hashes are loaded
   * and size, mtime and inode match a record that is not racy); undefined otherwise. Synchronous, so that a
   * COPY of thousands of unchanged files does not wait a turn per file.
   */
  knownDigest(entry: ContextEntry): string | undefined {
    if (!this.loaded) return undefined;
    const known = this.hashes.get(entry.path);
    if (known && !known.racy && known.size === entry.size && known.mtimeMs === entry.mtimeMs && known.ino === entry.ino) {
      return known.digest;
    }
    return undefined;
  }

  /**
   * Of the context files at `paths`, those whose content is no longer what the plan used: gone, or of another
   * digest than the one remembered for the file as listed. Asked after a COPY wrote its layer: a file saved
   * meanwhile may have given the layer other bytes than the ones its cache key was computed from. A file that
   * was only touched (new times, same bytes) is no change. Paths that are not files of the current listing are
   * left out.
   */
  changedSinceListed(paths: Iterable<string>): string[] {
    const changed: string[] = [];
    for (const path of paths) {
      const entry = this.entries.get(path);
      if (!entry || entry.type !== 'file') continue;
      let stats: Stats;
      try {
        stats = lstatSync(entry.hostPath);
      } catch {
        changed.push(path);
        continue;
      }
      if (stats.size === entry.size && stats.mtimeMs === entry.mtimeMs && stats.ino === entry.ino) continue;
      // Other times or another inode: what matters is whether the bytes are the ones hashed.
      const planned = this.hashes.get(path)?.digest;
      let now: string | undefined;
      try {
        now = hashFileSync(entry.hostPath);
      } catch {
        // Gone meanwhile.
      }
      if (planned === undefined || now !== planned) changed.push(path);
    }
    return changed;
  }

  /**
   * Write the remembered hashes back (atomic rename), one save at a time, in order: an older snapshot of the
   * hashes never lands after a newer one. Entries for paths that vanished are dropped.
   */
  saveHashes(): Promise<void> {
    const next = this.saving.then(() => this.saveHashesNow());
    this.saving = next.catch(() => {});
    return next;
  }

  private async saveHashesNow(): Promise<void> {
    if (!this.hashFile || !this.hashesDirty) return;
    // Digests taken while this writes make the hashes dirty again (a build may run meanwhile).
    const generation = ++this.hashGeneration;
    this.hashesDirty = false;
    const files: Record<string, [number, number, number, string, number]> = {};
    for (const [path, record] of [...this.hashes].sort(([a], [b]) => compareBytes(a, b))) {
      if (this.entries.get(path) === null) continue;
      files[path] = [record.size, record.mtimeMs, record.ino, record.digest, record.racy ? 1 : 0];
    }
    const temporary = `${this.hashFile}.${process.pid}.${generation}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await mkdir(join(this.hashFile, '..'), {recursive: true});
      await writeFile(temporary, JSON.stringify({version: 1, dir: this.dir, files}));
      await rename(temporary, this.hashFile);
    } catch (error) {
      this.hashesDirty = true;
      await rm(temporary, {force: true}).catch(() => {});
      throw error;
    }
  }

  private async loadHashes(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    if (!this.hashFile) return;
    try {
      const data = JSON.parse(await readFile(this.hashFile, 'utf8')) as {version: number; files: Record<string, [number, number, number, string, number]>};
      if (data.version !== 1) return;
      for (const [path, [size, mtimeMs, ino, digest, racy]] of Object.entries(data.files)) {
        this.hashes.set(path, {size, mtimeMs, ino, digest, racy: racy === 1});
      }
    } catch {
      // A missing or unreadable hash file only costs re-reading the context.
    }
  }

  private lookupFreshSync(path: string, hostPath: string): ContextEntry | null {
    try {
      const stats = lstatSync(hostPath);
      return this.visible(path, stats, () => readlinkSync(hostPath), hostPath);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  private async lookupFresh(path: string, hostPath: string): Promise<ContextEntry | null> {
    try {
      const stats = await lstat(hostPath);
      const linkname = stats.isSymbolicLink() ? await readlink(hostPath) : undefined;
      return this.visible(path, stats, () => linkname!, hostPath);
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** The entry for a freshly stat'ed path, or null when .dockerignore hides it (a folder stays while an exception may reach inside). */
  private visible(path: string, stats: Stats, linkname: () => string, hostPath: string): ContextEntry | null {
    let entry = toEntry(path, hostPath, stats);
    if (entry.type !== 'dir' && this.filter.excludes(path)) return null;
    if (entry.type === 'dir' && this.filter.excludes(path) && !this.filter.mayIncludeBelow(path)) return null;
    if (entry.type === 'symlink') entry = {...entry, linkname: linkname()};
    return entry;
  }

  /** Hidden: excluded, or below an excluded directory that no exception reaches into. */
  private isHidden(path: string): boolean {
    let parent = parentOf(path);
    while (parent !== '') {
      if (this.filter.excludes(parent) && !this.filter.mayIncludeBelow(parent)) return true;
      parent = parentOf(parent);
    }
    return false;
  }
}

/** Clamp a user-given source path to the context: leading `/`, `.` and `..` components are dropped. */
export function cleanContextPath(raw: string): string {
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toEntry(path: string, hostPath: string, stats: Stats): ContextEntry {
  const type: ContextEntryType = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
  return {path, type, mode: stats.mode & 0o7777, size: type === 'file' ? stats.size : 0, mtimeMs: stats.mtimeMs, ino: stats.ino, hostPath};
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

const readBuffer = Buffer.allocUnsafe(1 << 20);

/**
 * sha256 of a file, read synchronously through one shared buffer: for thousands of small context files this
 * is several times faster than promise-based reads (no thread-pool round trip and no buffer per file).
 */
async function hashFile(path: string): Promise<string> {
  return hashFileSync(path);
}

/** `hashFile`, as it is: synchronous. */
function hashFileSync(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const read = readSync(fd, readBuffer, 0, readBuffer.length, null);
      if (read === 0) break;
      hash.update(readBuffer.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  return 'sha256:' + hash.digest('hex');
}
