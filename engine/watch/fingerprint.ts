/**
 * Content fingerprints of watched paths: what a path holds as far as a build can tell (type, permission bits,
 * content digest of a file, target of a symlink), without times. Two fingerprints are equal exactly when a
 * COPY of the path would produce the same bytes, so a `touch`, an atime update or an editor's save of the same
 * bytes compares equal and triggers nothing.
 */
import {createHash} from 'node:crypto';
import {createReadStream, type Stats} from 'node:fs';
import {lstat, readFile, readlink} from 'node:fs/promises';

export interface Fingerprint {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  /** sha256 hex of a file's bytes; link target of a symlink; '' otherwise. */
  readonly content: string;
  readonly mtimeMs: number;
}

/** Small files are read in one call; larger ones streamed so a big asset does not sit in memory. */
const wholeReadLimit = 1 << 20;

/** The path's fingerprint now, or null when it does not exist. */
export async function fingerprintOf(path: string, known?: Stats): Promise<Fingerprint | null> {
  let stats = known;
  try {
    stats ??= await lstat(path);
    if (stats.isFile()) {
      return {type: 'file', mode: stats.mode & 0o7777, content: await digestOf(path, stats.size), mtimeMs: stats.mtimeMs};
    }
    if (stats.isSymbolicLink()) return {type: 'symlink', mode: 0o777, content: await readlink(path), mtimeMs: stats.mtimeMs};
    return {type: stats.isDirectory() ? 'dir' : 'other', mode: stats.mode & 0o7777, content: '', mtimeMs: stats.mtimeMs};
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}

export function sameContent(a: Fingerprint | null | undefined, b: Fingerprint | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.type === b.type && a.mode === b.mode && a.content === b.content;
}

async function digestOf(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  if (size <= wholeReadLimit) return hash.update(await readFile(path)).digest('hex');
  for await (const chunk of createReadStream(path, {highWaterMark: wholeReadLimit})) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Run `work` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({length: Math.min(limit, items.length)}, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(workers);
}
