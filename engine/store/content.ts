/**
 * Content-addressed blob storage.
 */
import {createHash, randomBytes, type Hash} from 'node:crypto';
import {createReadStream, promises as fs} from 'node:fs';
import {join} from 'node:path';
import {Readable, Transform, Writable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {hashableAlgorithms, parseDigest} from '../image/digest.js';
import {BlobNotFoundError, DigestMismatchError, SizeMismatchError, UnsupportedDigestError} from './errors.js';

export interface BlobInfo {
  readonly digest: string;
  readonly size: number;
}

/** What a caller already knows about a blob; every given field is checked. */
export interface ExpectedBlob {
  readonly digest?: string;
  readonly size?: number;
}

/**
 * A Writable that a layer tar (or any blob) is piped into. Nothing is visible in the store until `commit`.
 * `commit` ends the stream if the caller has not, waits for the bytes, verifies them against `expected`
 * and moves the blob into place; `abort` drops it. Calling either a second time is a no-op that returns the
 * first answer.
 */
export interface BlobWriter extends Writable {
  /** Bytes written so far. */
  readonly written: number;
  commit(expected?: ExpectedBlob): Promise<BlobInfo>;
  abort(): Promise<void>;
}

/** A blob writer starts flushing to disk in the background every this many bytes. */
const BACKGROUND_FLUSH_BYTES = 4 << 20;

export interface BlobWriterOptions {
  readonly algorithm?: string;
  readonly precomputed?: boolean;
}

/**
 * A content store: blobs named by the digest of their bytes.
 *
 * The contract every implementation keeps (proved by test/store/content-suite.ts):
 * - **A name always holds exactly its digest's bytes.** A blob becomes visible only complete and verified; an
 *   interrupted, failed or mismatching write leaves nothing under the blob's name.
 * - **Puts are idempotent.** Putting bytes that are already stored succeeds and returns the same digest and
 *   size; concurrent puts of the same bytes both succeed.
 * - **Expectations are checked.** A put with an expected digest or size that the bytes do not have rejects
 *   with DigestMismatchError / SizeMismatchError and stores nothing.
 * - **Reads verify.** `readBlob` checks size (when a descriptor is given, before hashing) and digest and
 *   rejects on mismatch; `openBlob` streams and errors at the end of a mismatching blob, so a consumer that
 *   reads to the end never silently accepts wrong bytes. Missing blobs give BlobNotFoundError.
 * - **Delete is idempotent** and answers whether something was removed; `statBlob` answers undefined and
 *   `hasBlob` false for absent blobs. `listBlobs` lists every complete blob, never an in-flight write.
 * - Digests use any algorithm the grammar allows in names; hashing supports sha256 (the default) and sha512.
 */
export interface ContentStore {
  putBlob(data: Buffer | Readable, expected?: ExpectedBlob): Promise<BlobInfo>;
  /**
   * A writer for streaming puts; `algorithm` defaults to sha256. With `precomputed`, the writer does not hash:
   * the caller hashes exactly the bytes it writes (the layer writer must, for the diffID) and `commit` requires
   * that digest and checks the size, so the blob is not hashed twice.
   */
  createBlobWriter(options?: BlobWriterOptions): BlobWriter;
  /**
   * A put whose bytes the caller writes into a file itself (a worker thread writing a layer): `fill` gets a
   * temporary path (never a blob's name) and creates the file there, then answers the digest it computed of
   * exactly the bytes it wrote, and their size. The size is checked against the file, which is then made
   * durable and moved into place as any put; whatever fails, nothing is left at the temporary path.
   */
  putBlobFile(fill: (path: string) => Promise<BlobInfo>): Promise<BlobInfo>;
  readBlob(blob: string | BlobInfo): Promise<Buffer>;
  openBlob(blob: string | BlobInfo): Readable;
  /** The stored size in bytes, or undefined when absent. */
  statBlob(digest: string): Promise<number | undefined>;
  hasBlob(digest: string): Promise<boolean>;
  listBlobs(): Promise<string[]>;
  deleteBlob(digest: string): Promise<boolean>;
}

function hashFor(algorithm: string): Hash {
  if (!hashableAlgorithms.has(algorithm)) throw new UnsupportedDigestError(`${algorithm}:`);
  return createHash(algorithm);
}

function algorithmOf(digest: string): string {
  const {algorithm} = parseDigest(digest);
  if (!hashableAlgorithms.has(algorithm)) throw new UnsupportedDigestError(digest);
  return algorithm;
}

function normalizeBlob(blob: string | BlobInfo): {digest: string; size?: number} {
  return typeof blob === 'string' ? {digest: blob} : blob;
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** fsync a directory so that a rename into it survives a crash. Some file systems refuse; that is fine. */
export async function syncDirectory(path: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path, 'r');
    await handle.sync();
  } catch {
    // Directory fsync is best effort (EINVAL/EISDIR on some file systems).
  } finally {
    await handle?.close();
  }
}

export function temporaryName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

function checkExpected(actual: BlobInfo, expected: ExpectedBlob | undefined, context: string): void {
  if (expected?.size !== undefined && expected.size !== actual.size) {
    throw new SizeMismatchError(expected.digest ?? actual.digest, expected.size, actual.size, context);
  }
  if (expected?.digest !== undefined && expected.digest !== actual.digest) {
    throw new DigestMismatchError(expected.digest, actual.digest, context);
  }
}

/**
 * The file implementation: `blobs/<alg>/<encoded>` under `root`, written through `tmpDir` (same file system,
 * so the final rename is atomic): hashed while streaming, fsynced, renamed, parent folder fsynced.
 */
export class FileContentStore implements ContentStore {
  readonly blobsDir: string;
  readonly tmpDir: string;

  constructor(blobsDir: string, tmpDir: string) {
    this.blobsDir = blobsDir;
    this.tmpDir = tmpDir;
  }

  /** Where the blob lives (whether or not it exists). Throws InvalidDigestError for a malformed digest. */
  blobPath(digest: string): string {
    const {algorithm, encoded} = parseDigest(digest);
    return join(this.blobsDir, algorithm, encoded);
  }

  async putBlob(data: Buffer | Readable, expected?: ExpectedBlob): Promise<BlobInfo> {
    const algorithm = expected?.digest ? algorithmOf(expected.digest) : 'sha256';
    if (Buffer.isBuffer(data)) return this.putBuffer(data, algorithm, expected);
    const writer = this.createBlobWriter({algorithm});
    try {
      await pipeline(data, writer);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer.commit(expected);
  }

  private async putBuffer(data: Buffer, algorithm: string, expected?: ExpectedBlob): Promise<BlobInfo> {
    const info = {digest: `${algorithm}:` + hashFor(algorithm).update(data).digest('hex'), size: data.length};
    checkExpected(info, expected, 'write blob');
    const target = this.blobPath(info.digest);
    if ((await this.statBlob(info.digest)) === info.size) {
      // Refresh the time so that a gc with a grace period sees the blob as just written.
      const now = new Date();
      await fs.utimes(target, now, now).catch(() => undefined);
      return info;
    }
    const temporary = join(this.tmpDir, temporaryName('blob'));
    try {
      const handle = await fs.open(temporary, 'wx', 0o644);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.moveIntoPlace(temporary, target);
    } catch (error) {
      await fs.rm(temporary, {force: true});
      throw error;
    }
    return info;
  }

  /** Renames a complete, verified temporary file to its blob path. */
  private async moveIntoPlace(temporary: string, target: string): Promise<void> {
    const folder = join(target, '..');
    await fs.mkdir(folder, {recursive: true});
    await fs.rename(temporary, target);
    await syncDirectory(folder);
  }

  async putBlobFile(fill: (path: string) => Promise<BlobInfo>): Promise<BlobInfo> {
    const temporary = join(this.tmpDir, temporaryName('blob'));
    try {
      const claimed = await fill(temporary);
      const target = this.blobPath(claimed.digest);
      algorithmOf(claimed.digest);
      const handle = await fs.open(temporary, 'r+');
      try {
        const {size} = await handle.stat();
        checkExpected({digest: claimed.digest, size}, claimed, 'write blob');
        // Its time says when it was written, for gc's grace period, even if `fill` wrote over an older file.
        const now = new Date();
        await handle.utimes(now, now);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.moveIntoPlace(temporary, target);
      return {digest: claimed.digest, size: claimed.size};
    } catch (error) {
      await fs.rm(temporary, {force: true});
      throw error;
    }
  }

  createBlobWriter(options: BlobWriterOptions = {}): BlobWriter {
    const algorithm = options.algorithm ?? 'sha256';
    const hash = options.precomputed ? undefined : hashFor(algorithm);
    const temporary = join(this.tmpDir, temporaryName('blob'));
    let handle: fs.FileHandle | undefined;
    let written = 0;
    // Large blobs are flushed to disk in the background as they are written, so the fsync at the end has
    // little left to do; the writes do not wait for these.
    let flushedAt = 0;
    const flushes: Promise<void>[] = [];
    const flushInBackground = () => {
      if (written - flushedAt < BACKGROUND_FLUSH_BYTES || !handle) return;
      flushedAt = written;
      flushes.push(handle.datasync().catch(() => {}));
    };
    let outcome: Promise<BlobInfo> | undefined;
    let aborted: Promise<void> | undefined;
    const store = this;

    const writer = new Writable({
      // commit() closes the file itself; an automatic destroy after 'finish' would race with it.
      autoDestroy: false,
      // Room for several large chunks, so a producer that hashes its next chunk overlaps with this write.
      highWaterMark: 16 << 20,
      construct(callback) {
        fs.open(temporary, 'wx', 0o644).then(opened => {
          handle = opened;
          callback();
        }, callback);
      },
      write(chunk: Buffer, _encoding, callback) {
        hash?.update(chunk);
        written += chunk.length;
        handle!.write(chunk).then(() => {
          flushInBackground();
          callback();
        }, callback);
      },
      writev(chunks, callback) {
        const buffers = chunks.map(({chunk}) => chunk as Buffer);
        for (const buffer of buffers) {
          hash?.update(buffer);
          written += buffer.length;
        }
        handle!.writev(buffers).then(() => {
          flushInBackground();
          callback();
        }, callback);
      },
      final(callback) {
        Promise.all(flushes)
          .then(() => handle!.sync())
          .then(() => callback(), callback);
      },
      destroy(error, callback) {
        const opened = handle;
        handle = undefined;
        (opened ? opened.close() : Promise.resolve()).then(() => callback(error), () => callback(error));
      },
    }) as BlobWriter;

    const finished = (): Promise<void> =>
      new Promise((resolve, reject) => {
        if (writer.writableFinished) return resolve();
        if (writer.destroyed) return reject(writer.errored ?? new Error('write blob: writer was destroyed'));
        const onFinish = () => {
          cleanup();
          resolve();
        };
        const onError = (error: Error) => {
          cleanup();
          reject(error);
        };
        const onClose = () => {
          cleanup();
          if (writer.writableFinished) resolve();
          else reject(writer.errored ?? new Error('write blob: writer closed before finishing'));
        };
        const cleanup = () => {
          writer.off('finish', onFinish);
          writer.off('error', onError);
          writer.off('close', onClose);
        };
        writer.on('finish', onFinish);
        writer.on('error', onError);
        writer.on('close', onClose);
        if (!writer.writableEnded) writer.end();
      });

    // A failure (e.g. tmp/ gone) is reported by commit(); without this listener a caller that only calls
    // write() and commit() would have the process die on an unhandled 'error' event instead.
    writer.on('error', () => undefined);
    Object.defineProperty(writer, 'written', {get: () => written});
    writer.commit = (expected?: ExpectedBlob) => {
      if (aborted) return Promise.reject(new Error('write blob: writer was aborted'));
      outcome ??= (async () => {
        try {
          await finished();
          if (handle) {
            await handle.close();
            handle = undefined;
          }
          if (!hash && (!expected?.digest || expected.size === undefined)) {
            throw new Error('write blob: a precomputed blob needs its digest and size');
          }
          const info = {digest: hash ? `${algorithm}:` + hash.digest('hex') : expected!.digest!, size: written};
          checkExpected(info, expected, 'write blob');
          await store.moveIntoPlace(temporary, store.blobPath(info.digest));
          writer.destroy();
          return info;
        } catch (error) {
          writer.destroy();
          await fs.rm(temporary, {force: true});
          throw error;
        }
      })();
      return outcome;
    };
    writer.abort = () => {
      if (outcome) return outcome.then(() => undefined, () => undefined);
      aborted ??= new Promise<void>(resolve => {
        if (writer.closed) return resolve();
        writer.once('close', () => resolve());
        writer.destroy();
      }).then(() => fs.rm(temporary, {force: true}));
      return aborted;
    };
    return writer;
  }

  async readBlob(blob: string | BlobInfo): Promise<Buffer> {
    const {digest, size} = normalizeBlob(blob);
    const path = this.blobPath(digest);
    const algorithm = algorithmOf(digest);
    let data: Buffer;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path, 'r');
    } catch (error) {
      if (isNotFound(error)) throw new BlobNotFoundError(digest);
      throw error;
    }
    try {
      // Check the size before reading and hashing (a wrong descriptor must not make us read a huge file).
      const stored = (await handle.stat()).size;
      if (size !== undefined && stored !== size) throw new SizeMismatchError(digest, size, stored, 'read blob');
      data = Buffer.allocUnsafe(stored);
      let filled = 0;
      while (filled < stored) {
        const {bytesRead} = await handle.read(data, filled, stored - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled !== stored) throw new SizeMismatchError(digest, stored, filled, 'read blob');
    } finally {
      await handle.close();
    }
    const actual = `${algorithm}:` + hashFor(algorithm).update(data).digest('hex');
    if (actual !== digest) throw new DigestMismatchError(digest, actual, 'read blob');
    return data;
  }

  openBlob(blob: string | BlobInfo): Readable {
    const {digest, size} = normalizeBlob(blob);
    let path: string;
    let hash: Hash;
    let algorithm: string;
    try {
      path = this.blobPath(digest);
      algorithm = algorithmOf(digest);
      hash = hashFor(algorithm);
    } catch (error) {
      return new Readable({read() { this.destroy(error as Error); }});
    }
    let seen = 0;
    const verifier = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        seen += chunk.length;
        if (size !== undefined && seen > size) return callback(new SizeMismatchError(digest, size, seen, 'read blob'));
        callback(null, chunk);
      },
      flush(callback) {
        if (size !== undefined && seen !== size) return callback(new SizeMismatchError(digest, size, seen, 'read blob'));
        const actual = `${algorithm}:` + hash.digest('hex');
        callback(actual === digest ? null : new DigestMismatchError(digest, actual, 'read blob'));
      },
    });
    const source = createReadStream(path);
    source.on('error', error => verifier.destroy(isNotFound(error) ? new BlobNotFoundError(digest) : error));
    verifier.on('close', () => source.destroy());
    source.pipe(verifier);
    return verifier;
  }

  async statBlob(digest: string): Promise<number | undefined> {
    try {
      const stats = await fs.stat(this.blobPath(digest));
      return stats.isFile() ? stats.size : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async hasBlob(digest: string): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  /** Every file under blobs/, with its digest when its name is a valid one (fsck reports the others). */
  async listBlobFiles(): Promise<{path: string; name: string; digest?: string}[]> {
    const result: {path: string; name: string; digest?: string}[] = [];
    let algorithms: string[];
    try {
      algorithms = await fs.readdir(this.blobsDir);
    } catch (error) {
      if (isNotFound(error)) return result;
      throw error;
    }
    for (const algorithm of algorithms.sort()) {
      const folder = join(this.blobsDir, algorithm);
      let names: string[];
      try {
        names = await fs.readdir(folder);
      } catch {
        continue; // not a folder: tolerated like any unknown extra file
      }
      for (const encoded of names.sort()) {
        const name = `${algorithm}:${encoded}`;
        let digest: string | undefined;
        try {
          parseDigest(name);
          digest = name;
        } catch {
          digest = undefined;
        }
        result.push({path: join(folder, encoded), name, ...(digest ? {digest} : {})});
      }
    }
    return result;
  }

  async listBlobs(): Promise<string[]> {
    return (await this.listBlobFiles()).flatMap(file => (file.digest ? [file.digest] : []));
  }

  async deleteBlob(digest: string): Promise<boolean> {
    try {
      await fs.unlink(this.blobPath(digest));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }
}
