import {createHash} from 'node:crypto';
import {closeSync, createReadStream, existsSync, openSync, readFileSync, readSync} from 'node:fs';
import {open, rm, stat, type FileHandle} from 'node:fs/promises';
import {Transform, type Writable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {createGzip} from 'node:zlib';
import tar from 'tar-stream';
import {StrataError} from '../errors.js';
import {
  baseName,
  compareLayerPaths,
  isCleanPath,
  OPAQUE_MARKER,
  WHITEOUT_META_PREFIX,
  WHITEOUT_PREFIX,
  type LayerEntry,
} from './entry.js';
import {LayerEntryError} from './errors.js';
import {openLayerFile, type LayerFile} from './layer-file.js';

/** Output is written in batches of about this many bytes. */
const BATCH_BYTES = 1 << 20;

/** Go's empty tar (1024 zero bytes): the diffID of every layer with no entries. */
export const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface WrittenLayer {
  /** `sha256:` digest of the uncompressed tar. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** Where each identified member lies (only when `identities` were given). */
  map?: LayerMapEntry[];
}

// tar-stream encodes uid, gid and device numbers in 6 octal digits; beyond that a PAX record carries the value.
const MAX_USTAR_ID = 0o777777;
// tar-stream truncates the header mtime to a signed 32-bit number of seconds.
const MAX_USTAR_SECONDS = 2 ** 31 - 1;
// tar-stream replaces a zero mode with a default; file-type bits keep it non-zero and are masked off on encode.
const TYPE_BITS: Record<LayerEntry['type'], number> = {
  file: 0o100000,
  hardlink: 0o100000,
  dir: 0o040000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
};
const TAR_TYPE = {
  file: 'file',
  hardlink: 'link',
  dir: 'directory',
  symlink: 'symlink',
  char: 'character-device',
  block: 'block-device',
  fifo: 'fifo',
} as const;

/**
 * Writes `entries` as an uncompressed layer tar to `out` and ends it; resolves when `out` has finished.
 *
 * The same entries always give the same bytes: entries are sorted (see `layerSortKey`), uid and gid are numeric
 * with empty uname and gname, a missing mtime is the epoch, PAX records (in a fixed order) are added only for
 * long or non-ASCII names and link targets, ids beyond 262143, times outside 1970..2038 and xattrs, and the
 * archive ends with two zero blocks, so no entries give Go's 1024-byte empty tar (`EMPTY_LAYER_DIFF_ID`).
 * File contents are streamed from `sourcePath` one file at a time with backpressure, so memory stays flat
 * whatever the layer size. Invalid entries (unclean or duplicate paths, a bare `.wh.`, a hardlink before its
 * target) throw `LayerEntryError` before anything is written. If `out` pipes on, wait for that downstream
 * stream yourself. With `identities`, the result maps where each member lies; with `reuse` too, unchanged
 * members are copied from an earlier layer (see `WriteLayerOptions`), giving the same bytes.
 */
export async function writeLayer(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  out: Writable,
  options: WriteLayerOptions = {},
): Promise<WrittenLayer> {
  const sorted = await sortedEntries(entries);
  const mapper = options.identities ? new LayerMapper(options.identities) : undefined;
  if (options.reuse && mapper) return spliceLayer(sorted, streamOutput(out, options.reuse.blobPath), options.reuse, mapper);
  const {pack, pushed} = countingPack();
  const hash = createHash('sha256');
  let size = 0;
  // tar-stream emits a chunk per header, body and padding: gather them into large writes before hashing and
  // writing, which makes a layer of thousands of small files several times cheaper to write.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < BATCH_BYTES) return callback();
      const batch = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      hash.update(batch);
      size += batch.length;
      callback(null, batch);
    },
    flush(callback) {
      if (pendingBytes === 0) return callback();
      const batch = Buffer.concat(pending, pendingBytes);
      hash.update(batch);
      size += batch.length;
      callback(null, batch);
    },
  });
  const track = mapper && {pushed, written: (entry: LayerEntry, start: number, end: number) => mapper.add(entry, start, end - start)};
  const feeding = feed(pack, sorted, track).catch((error: unknown) => {
    pack.destroy(error as Error);
    throw error;
  });
  const [fed, piped] = await Promise.allSettled([feeding, pipeline(pack as unknown as NodeJS.ReadableStream, hashing, out)]);
  // A failed source destroys the pack too; report the source's error, which says which file.
  if (fed.status === 'rejected') throw fed.reason;
  if (piped.status === 'rejected') throw piped.reason;
  return {diffId: `sha256:${hash.digest('hex')}`, size, ...(mapper ? {map: mapper.map} : {})};
}

/**
 * Where one entry of a written layer lies in its tar: its header (with any PAX record), content and padding.
 * `sig` is the entry's tar header and content identity: equal signatures mean byte-identical tar members.
 */
export interface LayerMapEntry {
  readonly path: string;
  readonly sig: string;
  readonly offset: number;
  readonly length: number;
}

/** An earlier layer whose unchanged members may be copied byte for byte instead of re-encoded. */
export interface LayerReuse {
  /** The earlier layer's uncompressed tar (a blob file, which never changes). */
  readonly blobPath: string;
  /** Its map, as `writeLayer` returned it. */
  readonly map: readonly LayerMapEntry[];
}

export interface WriteLayerOptions {
  /**
   * Content identities of file entries by path (a content checksum, for example), supplied by a caller that
   * knows them. Entries with one are recorded in the returned `map`; without identities there is no map.
   */
  readonly identities?: Readonly<Record<string, string>>;
  /**
   * Copy members whose signature matches the earlier layer's from its blob rather than reading and encoding
   * them again (needs `identities`). The bytes are exactly what encoding would give, so the diffID is too.
   */
  readonly reuse?: LayerReuse;
}

/** The fields a signature was made from, and the signature. */
interface KnownSignature {
  readonly type: LayerEntry['type'];
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly linkname: string | undefined;
  readonly devmajor: number | undefined;
  readonly devminor: number | undefined;
  readonly size: number | undefined;
  readonly identity: string | undefined;
  readonly sig: string;
}

const knownSignatures = new WeakMap<LayerEntry, KnownSignature>();

function signatureOf(entry: LayerEntry, identity: string | undefined, size: number | undefined): string {
  const xattrs = entry.xattrs ? JSON.stringify(Object.entries(entry.xattrs).sort()) : '';
  const common = `${entry.type}|${entry.mode}|${entry.uid}|${entry.gid}|${entry.mtime?.getTime() ?? 0}|${xattrs}`;
  if (entry.type !== 'file') return `${common}|${entry.linkname ?? ''}|${entry.devmajor ?? 0}|${entry.devminor ?? 0}`;
  return `${common}|${size}|${identity}`;
}

/** Builds a layer map as members are written; entries without an identity (or size) are left out. */
class LayerMapper {
  readonly map: LayerMapEntry[] = [];
  constructor(private readonly identities: Readonly<Record<string, string>>) {}

  /**
   * Every field the entry's tar member is made from (see `tarHeader`), and for a file its content identity:
   * a file without a known identity (or size) gets none and is always encoded afresh.
   */
  signature(entry: LayerEntry): string | undefined {
    const file = entry.type === 'file';
    const identity = file ? this.identities[entry.path] : undefined;
    const size = file ? (entry.content ? entry.content.length : entry.size) : undefined;
    if (file && (identity === undefined || size === undefined)) return undefined;
    if (entry.xattrs) return signatureOf(entry, identity, size);
    // The same entry objects come back rebuild after rebuild (a COPY plan keeps them): reuse the string
    // when every field it is made of is still the same.
    const mtime = entry.mtime?.getTime() ?? 0;
    const known = knownSignatures.get(entry);
    if (
      known !== undefined && known.type === entry.type && known.mode === entry.mode && known.uid === entry.uid &&
      known.gid === entry.gid && known.mtime === mtime && known.linkname === entry.linkname &&
      known.devmajor === entry.devmajor && known.devminor === entry.devminor && known.size === size && known.identity === identity
    ) {
      return known.sig;
    }
    const sig = signatureOf(entry, identity, size);
    knownSignatures.set(entry, {
      type: entry.type, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime, linkname: entry.linkname,
      devmajor: entry.devmajor, devminor: entry.devminor, size, identity, sig,
    });
    return sig;
  }

  add(entry: LayerEntry, offset: number, length: number, sig = this.signature(entry)): void {
    if (sig !== undefined) this.map.push({path: entry.path, sig, offset, length});
  }
}

/**
 * A tar-stream pack that counts the bytes it has produced. Each member is pushed whole (header, body,
 * padding) before the packer's callback for it runs, and `feed` starts the next member only then, so the
 * count read between two members is the offset of the next one.
 */
function countingPack(): {pack: tar.Pack; pushed: () => number} {
  const pack = tar.pack();
  let count = 0;
  const push = pack.push.bind(pack);
  pack.push = (chunk: Buffer | null) => {
    if (chunk) count += chunk.length;
    return push(chunk);
  };
  return {pack, pushed: () => count};
}

const END_OF_TAR_BYTES = 1024;

/**
 * Where a spliced layer goes: ranges of the earlier blob and freshly encoded bytes, in layer order, hashed as
 * they go. `close` releases what the output holds, whether or not it finished.
 */
interface SpliceOutput {
  copy(start: number, end: number): Promise<void>;
  write(chunk: Buffer): Promise<void>;
  /** After the last bytes, `size` of them: the hex SHA-256 of all of them. */
  finish(size: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * `writeLayer` against an earlier layer: members whose signature is unchanged are taken from the earlier blob
 * in large ranges, the others are encoded by tar-stream as usual (their archive trailer dropped), in layer
 * order. Only hashing and copying the output is proportional to the layer; reading a few thousand source
 * files is not.
 */
async function spliceLayer(sorted: LayerEntry[], output: SpliceOutput, reuse: LayerReuse, mapper: LayerMapper): Promise<WrittenLayer> {
  let size = 0;
  const write = (chunk: Buffer) => {
    size += chunk.length;
    return output.write(chunk);
  };
  try {
    // Inside the try: a damaged map must still close the output.
    const earlier = new Map(reuse.map.map(entry => [entry.path, entry]));
    const sigs = sorted.map(entry => mapper.signature(entry));
    let index = 0;
    while (index < sorted.length) {
      // A run of members copied from the earlier blob, contiguous there as here.
      const runStart = index;
      // The run's byte range in the earlier blob, once it has a member.
      let inRange = false;
      let rangeStart = 0;
      let rangeEnd = 0;
      for (; index < sorted.length; index++) {
        const sig = sigs[index];
        const found = sig === undefined ? undefined : earlier.get(sorted[index].path);
        if (!found || found.sig !== sig || (inRange && found.offset !== rangeEnd)) break;
        if (!inRange) {
          inRange = true;
          rangeStart = rangeEnd = found.offset;
        }
        mapper.add(sorted[index], size + (rangeEnd - rangeStart), found.length, sig);
        rangeEnd = found.offset + found.length;
      }
      if (inRange) {
        await output.copy(rangeStart, rangeEnd);
        size += rangeEnd - rangeStart;
        continue;
      }
      // A run of members encoded afresh, up to the next member that can be copied.
      for (index = runStart + 1; index < sorted.length; index++) {
        const sig = sigs[index];
        if (sig !== undefined && earlier.get(sorted[index].path)?.sig === sig) break;
      }
      await encodeRun(sorted.slice(runStart, index), mapper, size, write);
    }
    await write(Buffer.alloc(END_OF_TAR_BYTES));
    const digest = await output.finish(size);
    return {diffId: `sha256:${digest}`, size, map: mapper.map};
  } finally {
    await output.close();
  }
}

/** A splice into a stream on this thread: the earlier blob read ahead in the thread pool, hashed here. */
function streamOutput(out: Writable, blobPath: string): SpliceOutput {
  const hash = createHash('sha256');
  let source: FileHandle | undefined;
  const send = async (chunk: Buffer) => {
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        out.off('drain', settle);
        out.off('error', settle);
        if (error) reject(error);
        else resolve();
      };
      out.once('drain', settle);
      out.once('error', settle);
    });
  };
  return {
    async copy(start, end) {
      source ??= await open(blobPath, 'r');
      await copyRange(source, start, end, blobPath, send);
    },
    write: send,
    async finish() {
      await new Promise<void>((resolve, reject) => {
        out.once('error', reject);
        out.end(() => resolve());
      });
      return hash.digest('hex');
    },
    async close() {
      await source?.close();
    },
  };
}

/** A splice into a file the layer file worker writes (see layer-file.ts). */
function fileOutput(file: LayerFile): SpliceOutput {
  let finished = false;
  return {
    async copy(start, end) {
      file.copy(start, end);
    },
    write: chunk => file.write(chunk),
    async finish(expected) {
      const {digest, size} = await file.end();
      if (size !== expected) throw new StrataError('ERR_LAYER_REUSE', `write layer: the worker wrote ${size} bytes, not ${expected}`);
      finished = true;
      return digest;
    },
    async close() {
      if (!finished) await file.abort();
    },
  };
}

/**
 * `writeLayer` into a new file at `path` (created, never overwritten; removed again on failure). A splice
 * (`identities` and `reuse`) is written by the layer file worker when it runs, so that neither this thread nor
 * the thread pool carries its copying and hashing; anything else is written as a stream from here.
 */
export async function writeLayerFile(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  path: string,
  options: WriteLayerOptions = {},
): Promise<WrittenLayer> {
  if (options.reuse && options.identities) {
    const sorted = await sortedEntries(entries);
    // Refused here, so that any failure below leaves a file this call made, which it then removes (the worker
    // removes what it made when it can, but not when it died, nor after a size it got wrong).
    if (existsSync(path)) throw Object.assign(new Error(`EEXIST: file already exists, open '${path}'`), {code: 'EEXIST'});
    const file = openLayerFile(path, options.reuse.blobPath);
    if (file) {
      try {
        return await spliceLayer(sorted, fileOutput(file), options.reuse, new LayerMapper(options.identities));
      } catch (error) {
        await rm(path, {force: true});
        throw error;
      }
    }
    entries = sorted;
  }
  // Opened first: a name that exists is refused and left alone; one made here is removed if the write fails.
  const handle = await open(path, 'wx', 0o644);
  const out = handle.createWriteStream();
  try {
    return await writeLayer(entries, out, options);
  } catch (error) {
    out.destroy();
    await rm(path, {force: true});
    throw error;
  }
}

async function copyRange(source: FileHandle, start: number, end: number, path: string, send: (chunk: Buffer) => Promise<void>): Promise<void> {
  const readChunk = async (position: number): Promise<Buffer> => {
    const length = Math.min(BATCH_BYTES * 4, end - position);
    const chunk = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const {bytesRead} = await source.read(chunk, filled, length - filled, position + filled);
      if (bytesRead === 0) throw new StrataError('ERR_LAYER_REUSE', `write layer: reuse ${path}: shorter than its map`);
      filled += bytesRead;
    }
    return chunk;
  };
  // Up to READ_AHEAD_CHUNKS chunks are being read (in the thread pool) while this one is hashed and sent.
  const reads: Promise<Buffer>[] = [];
  let scheduled = start;
  const schedule = () => {
    while (scheduled < end && reads.length < READ_AHEAD_CHUNKS) {
      const reading = readChunk(scheduled);
      reading.catch(() => {}); // Awaited in turn below.
      reads.push(reading);
      scheduled += Math.min(BATCH_BYTES * 4, end - scheduled);
    }
  };
  schedule();
  while (reads.length > 0) {
    const chunk = await reads.shift()!;
    schedule();
    await send(chunk);
  }
}

/** Chunks of an earlier layer read ahead of the one being hashed: enough to keep the thread pool busy. */
const READ_AHEAD_CHUNKS = 4;

/** Encodes `entries` with tar-stream and sends the members without the archive trailer. */
async function encodeRun(entries: LayerEntry[], mapper: LayerMapper, base: number, send: (chunk: Buffer) => Promise<void>): Promise<void> {
  const {pack, pushed} = countingPack();
  const track = {pushed, written: (entry: LayerEntry, start: number, end: number) => mapper.add(entry, base + start, end - start)};
  const feeding = feed(pack, entries, track).catch((error: unknown) => {
    pack.destroy(error as Error);
    throw error;
  });
  feeding.catch(() => {}); // Awaited below; the pack's own error surfaces first otherwise.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of pack as AsyncIterable<Buffer>) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < BATCH_BYTES + END_OF_TAR_BYTES) continue;
    const batch = Buffer.concat(pending, pendingBytes);
    // Keep the last bytes back: the trailer is only known to be the trailer at the end.
    pending = [batch.subarray(batch.length - END_OF_TAR_BYTES)];
    pendingBytes = END_OF_TAR_BYTES;
    await send(batch.subarray(0, batch.length - END_OF_TAR_BYTES));
  }
  await feeding;
  const rest = Buffer.concat(pending, pendingBytes);
  if (rest.length > END_OF_TAR_BYTES) await send(rest.subarray(0, rest.length - END_OF_TAR_BYTES));
}

export interface WrittenCompressedLayer extends WrittenLayer {
  /** `sha256:` digest of the gzip blob (the manifest's layer digest). */
  digest: string;
  compressedSize: number;
}

/** `writeLayer` through gzip: gives both the diffID and the blob digest in one pass. */
export async function writeGzipLayer(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  out: Writable,
  options: {level?: number} = {},
): Promise<WrittenCompressedLayer> {
  const gzip = createGzip({level: options.level ?? 6});
  const hash = createHash('sha256');
  let compressedSize = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      compressedSize += chunk.length;
      callback(null, chunk);
    },
  });
  const [written] = await Promise.all([writeLayer(entries, gzip), pipeline(gzip, hashing, out)]);
  return {...written, digest: `sha256:${hash.digest('hex')}`, compressedSize};
}

async function sortedEntries(input: Iterable<LayerEntry> | AsyncIterable<LayerEntry>): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  let sorted = true;
  let hardlinks = false;
  // An array is read without the async iteration protocol: a turn per entry adds up over thousands of them.
  const add = (entry: LayerEntry) => {
    validateEntry(entry);
    if (sorted && entries.length > 0 && compareLayerPaths(entries[entries.length - 1].path, entry.path) > 0) sorted = false;
    if (entry.type === 'hardlink') hardlinks = true;
    entries.push(entry);
  };
  if (Array.isArray(input)) for (const entry of input as LayerEntry[]) add(entry);
  else for await (const entry of input) add(entry);
  // Layer order (see `layerSortKey`); input in that order already (a COPY plan's) is only checked.
  if (!sorted) entries.sort((a, b) => compareLayerPaths(a.path, b.path));
  for (let i = 1; i < entries.length; i++) {
    if (entries[i - 1].path === entries[i].path) throw new LayerEntryError(entries[i].path, 'appears twice');
  }
  if (hardlinks) {
    const positions = new Map<string, number>();
    for (let i = 0; i < entries.length; i++) positions.set(entries[i].path, i);
    anchorHardlinks(entries, positions);
  }
  return entries;
}

/**
 * A tar hardlink must come after the file it names. Sorting can put a link first, so within each group of
 * links to one file, the first path in layer order becomes the file (an inode's metadata is shared, so only
 * the content source moves) and every other path links to it.
 */
function anchorHardlinks(entries: LayerEntry[], positions: Map<string, number>): void {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (entry.type !== 'hardlink') continue;
    let target = positions.get(entry.linkname!);
    const seen = new Set<number>([i]);
    while (target !== undefined && entries[target].type === 'hardlink' && !seen.has(target)) {
      seen.add(target);
      target = positions.get(entries[target].linkname!);
    }
    if (target === undefined) continue; // A file in a lower layer: nothing to order.
    if (seen.has(target)) throw new LayerEntryError(entry.path, 'is a hardlink cycle');
    const group = groups.get(target) ?? [target];
    group.push(i);
    groups.set(target, group);
  }
  for (const [fileIndex, members] of groups) {
    const first = Math.min(...members);
    const file = entries[fileIndex];
    if (file.type !== 'file') {
      throw new LayerEntryError(entries[members[1]].path, `is a hardlink to ${file.type} ${file.path}`);
    }
    entries[first] = {...file, path: entries[first].path};
    for (const index of members) {
      if (index === first) continue;
      const {content: _content, sourcePath: _source, size: _size, ...link} = entries[index];
      entries[index] = {...link, type: 'hardlink', linkname: entries[first].path};
    }
  }
}

function validateEntry(entry: LayerEntry): void {
  const {path} = entry;
  if (!isCleanPath(path)) throw new LayerEntryError(path, 'is not a clean relative path');
  if (!(entry.type in TAR_TYPE)) throw new LayerEntryError(path, `has unknown type ${String(entry.type)}`);
  // Most paths hold no whiteout prefix at all: then the name need not be cut out.
  const name = path.includes(WHITEOUT_PREFIX) ? baseName(path) : '';
  if (name.startsWith(WHITEOUT_PREFIX)) {
    if (name === WHITEOUT_PREFIX) throw new LayerEntryError(path, 'is a bare whiteout');
    if (name.startsWith(WHITEOUT_META_PREFIX) && name !== OPAQUE_MARKER) {
      throw new LayerEntryError(path, 'is AUFS metadata, which layers must not carry');
    }
    if (entry.type !== 'file' || (entry.size ?? 0) !== 0 || entry.content?.length || entry.sourcePath) {
      throw new LayerEntryError(path, 'is a whiteout but not an empty file');
    }
  }
  if (!Number.isSafeInteger(entry.uid) || entry.uid < 0) throw new LayerEntryError(path, `has invalid owner id ${entry.uid}`);
  if (!Number.isSafeInteger(entry.gid) || entry.gid < 0) throw new LayerEntryError(path, `has invalid owner id ${entry.gid}`);
  if (entry.type === 'symlink' || entry.type === 'hardlink') {
    if (!entry.linkname) throw new LayerEntryError(path, 'is a link without a target');
    if (entry.type === 'hardlink' && !isCleanPath(entry.linkname)) {
      throw new LayerEntryError(path, 'is a hardlink whose target is not a clean relative path');
    }
  }
  if (entry.type === 'char' || entry.type === 'block') {
    for (const number of [entry.devmajor ?? 0, entry.devminor ?? 0]) {
      if (!Number.isInteger(number) || number < 0 || number > MAX_USTAR_ID) {
        throw new LayerEntryError(path, `has device number ${number} beyond what a tar header holds`);
      }
    }
  }
  if (entry.content && entry.sourcePath) throw new LayerEntryError(path, 'has both content and a source path');
  if (entry.content && entry.size !== undefined && entry.size !== entry.content.length) {
    throw new LayerEntryError(path, 'has a size that differs from its content');
  }
}

// Small files are read whole, a few ahead of the packer, so that thousands of them (a COPY of a source tree)
// do not each pay for a stream; at most READ_AHEAD files of at most SMALL_FILE bytes are held at once.
const SMALL_FILE = 1 << 20;
const READ_AHEAD = 16;

/** Members written by `feed`, with their byte range in the pack's output, when the pack counts its bytes. */
interface FeedTracker {
  pushed(): number;
  written(entry: LayerEntry, start: number, end: number): void;
}

async function feed(pack: tar.Pack, entries: LayerEntry[], track?: FeedTracker): Promise<void> {
  const prefetched = new Map<number, Promise<Buffer>>();
  let scheduled = 0;
  for (let i = 0; i < entries.length; i++) {
    for (; scheduled < entries.length && scheduled < i + READ_AHEAD; scheduled++) {
      const entry = entries[scheduled];
      if (isSmallSourceFile(entry)) {
        const reading = readSmallFile(entry);
        reading.catch(() => {}); // Reported when its turn comes.
        prefetched.set(scheduled, reading);
      }
    }
    const reading = prefetched.get(i);
    prefetched.delete(i);
    const start = track?.pushed() ?? 0;
    const entry = reading ? {...entries[i], sourcePath: undefined, content: await reading} : entries[i];
    await feedEntry(pack, entry);
    track?.written(entry, start, track.pushed());
  }
  pack.finalize();
}

function isSmallSourceFile(entry: LayerEntry): boolean {
  return entry.type === 'file' && !entry.content && entry.sourcePath !== undefined && entry.size !== undefined && entry.size <= SMALL_FILE;
}

/**
 * Reads a small file whole. When it changed size since it was listed, what is on disk now is written (as a
 * context tar taken at this moment would hold it), as long as it is still small; otherwise it is an error.
 */
async function readSmallFile(entry: LayerEntry): Promise<Buffer> {
  // Synchronous on purpose: for files this small, three thread-pool round trips (open, read, close) cost far
  // more than the read itself, and a layer of thousands of small files is the common case.
  let fd: number | undefined;
  try {
    fd = openSync(entry.sourcePath!, 'r');
    const buffer = Buffer.allocUnsafe(entry.size!);
    let filled = 0;
    while (filled < buffer.length) {
      const bytesRead = readSync(fd, buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const extra = readSync(fd, Buffer.alloc(1), 0, 1, filled);
    if (filled !== buffer.length || extra !== 0) {
      const now = readFileSync(fd);
      if (now.length > SMALL_FILE) {
        throw new StrataError('ERR_LAYER_SOURCE', `write layer: read ${entry.sourcePath}: file changed size while it was being read`);
      }
      return now;
    }
    return buffer;
  } catch (error) {
    if (error instanceof StrataError) throw error;
    throw new StrataError('ERR_LAYER_SOURCE', `write layer: read ${entry.sourcePath}: ${describe(error)}`, {cause: error});
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function feedEntry(pack: tar.Pack, entry: LayerEntry): Promise<void> {
  let size = 0;
  if (entry.type === 'file') {
    if (entry.content) size = entry.content.length;
    else if (entry.size !== undefined) size = entry.size;
    else if (entry.sourcePath) size = (await stat(entry.sourcePath)).size;
  }
  const header = tarHeader(entry, size);
  if (entry.type !== 'file' || size === 0 || entry.content) {
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: Error | null) => (error ? reject(error) : resolve());
      if (entry.type === 'file') pack.entry(header, entry.content ?? Buffer.alloc(0), settle);
      else pack.entry(header, settle);
    });
    return;
  }
  if (!entry.sourcePath) throw new LayerEntryError(entry.path, `has size ${size} but no content or source path`);
  const sink = pack.entry(header);
  const done = new Promise<void>((resolve, reject) => {
    sink.on('error', reject);
    sink.on('close', resolve);
  });
  try {
    const source = createReadStream(entry.sourcePath, {start: 0, end: size - 1, highWaterMark: 1 << 20});
    await Promise.all([pipeline(source, sink as unknown as Writable), done]);
  } catch (error) {
    throw new StrataError('ERR_LAYER_SOURCE', `write layer: read ${entry.sourcePath}: ${describe(error)}`, {
      cause: error,
    });
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message === 'Size mismatch' ? 'file changed size while it was being read' : message;
}

type PackHeader = Parameters<tar.Pack['entry']>[0];

function tarHeader(entry: LayerEntry, size: number): PackHeader {
  const seconds = Math.floor((entry.mtime?.getTime() ?? 0) / 1000);
  const pax: Record<string, string> = {};
  if (entry.uid > MAX_USTAR_ID) pax.uid = String(entry.uid);
  if (entry.gid > MAX_USTAR_ID) pax.gid = String(entry.gid);
  if (seconds < 0 || seconds > MAX_USTAR_SECONDS) pax.mtime = String(seconds);
  if (entry.xattrs) {
    for (const key of Object.keys(entry.xattrs).sort()) pax[`SCHILY.xattr.${key}`] = entry.xattrs[key];
  }
  const header: PackHeader = {
    name: entry.type === 'dir' ? `${entry.path}/` : entry.path,
    type: TAR_TYPE[entry.type],
    mode: (entry.mode & 0o7777) | TYPE_BITS[entry.type],
    uid: Math.min(entry.uid, MAX_USTAR_ID),
    gid: Math.min(entry.gid, MAX_USTAR_ID),
    size,
    mtime: new Date(Math.min(Math.max(seconds, 0), MAX_USTAR_SECONDS) * 1000),
  };
  if (entry.type === 'symlink' || entry.type === 'hardlink') header.linkname = entry.linkname;
  if (entry.type === 'char' || entry.type === 'block') {
    header.devmajor = entry.devmajor ?? 0;
    header.devminor = entry.devminor ?? 0;
  }
  if (Object.keys(pax).length > 0) header.pax = pax;
  return header;
}
