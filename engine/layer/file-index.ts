import * as crypto from 'node:crypto';
import {createHash, type Hash} from 'node:crypto';
import type {Readable} from 'node:stream';
import {baseName, joinPath, OPAQUE_MARKER, parentPath, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX, type LayerEntryType} from './entry.js';
import {CorruptLayerError, UnsafeLayerError} from './errors.js';
import {readLayerMembers, type ReadLimits} from './reader.js';

/** What a layer puts at one path. `size` is the content size of regular files, 0 for everything else. */
export interface FileRecord {
  path: string;
  type: LayerEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target (verbatim) or hardlink target (layer path). */
  linkname?: string;
  /** `sha256:` digest of a regular file's content. */
  digest?: string;
}

/**
 * The files of one layer, read from its tar without extracting. `files` holds one record per path in archive
 * order (a duplicate path keeps its last record, as apply does); whiteouts and opaque markers are not files:
 * `whiteouts` lists the paths a `.wh.` entry deletes and `opaques` the folders whose lower content an opaque
 * marker hides ('' is the root). Plain data: safe to `JSON.stringify`, and `serializeIndex` makes it compact.
 */
export interface LayerIndex {
  /** The layer's diffID when indexing was asked to compute it (`diffId: true`), else as the caller set it. */
  diffId?: string;
  /** Bytes of the uncompressed tar. */
  tarSize: number;
  files: FileRecord[];
  whiteouts: string[];
  opaques: string[];
}

/**
 * Indexes a layer tar (plain or gzip) by streaming it once: headers are recorded and each regular file's
 * content is hashed as it passes, never held. Throws what `applyLayer` would for escaping names or a bare
 * whiteout, so an index always describes a layer that applies. `diffId: true` also hashes the whole tar
 * (a second pass of SHA-256 over every byte, so off by default: the store knows the diffID already).
 */
export async function indexLayer(
  tar: Readable,
  options: {limits?: ReadLimits; diffId?: boolean} = {},
): Promise<LayerIndex> {
  const files = new Map<string, FileRecord>();
  const whiteouts: string[] = [];
  const opaques: string[] = [];
  const summary = await readLayerMembers(
    tar,
    (member, body) => {
      if (member.path === '') return;
      const name = baseName(member.path);
      if (name.startsWith(WHITEOUT_PREFIX)) {
        const folder = parentPath(member.path);
        if (name === OPAQUE_MARKER) opaques.push(folder);
        else if (name.startsWith(WHITEOUT_META_PREFIX)) return;
        else {
          const deleted = name.slice(WHITEOUT_PREFIX.length);
          if (deleted === '' || deleted === '.' || deleted === '..') {
            throw new UnsafeLayerError(`index layer: entry ${JSON.stringify(member.name)} is a whiteout without a name`, {
              entry: member.name,
            });
          }
          whiteouts.push(joinPath(folder, deleted));
        }
        return;
      }
      const record: FileRecord = {
        path: member.path,
        type: member.type,
        size: member.size,
        mode: member.mode,
        uid: member.uid,
        gid: member.gid,
      };
      if (member.linkname !== undefined) record.linkname = member.linkname;
      files.set(member.path, record);
      if (member.type !== 'file') return;
      if (member.size === 0) {
        record.digest = EMPTY_SHA256;
        return;
      }
      // Most files arrive in one chunk: hash those in one shot, which costs far less than a hash object.
      let hash: Hash | undefined;
      body.on('data', (chunk: Buffer) => {
        if (!hash && chunk.length === member.size) {
          record.digest = `sha256:${oneShotSha256(chunk)}`;
          return;
        }
        if (!hash) {
          const incremental = (hash = createHash('sha256'));
          body.on('end', () => {
            record.digest = `sha256:${incremental.digest('hex')}`;
          });
        }
        hash.update(chunk);
      });
    },
    {...options.limits, digest: options.diffId ?? false},
  );
  return {diffId: summary.diffId, tarSize: summary.tarBytes, files: [...files.values()], whiteouts, opaques};
}

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const oneShotSha256: (data: Buffer) => string =
  typeof (crypto as {hash?: unknown}).hash === 'function'
    ? data => (crypto as unknown as {hash(algorithm: string, data: Buffer): string}).hash('sha256', data)
    : data => createHash('sha256').update(data).digest('hex');

const TYPE_CODES: Record<LayerEntryType, string> = {
  file: 'f',
  dir: 'd',
  symlink: 'l',
  hardlink: 'h',
  char: 'c',
  block: 'b',
  fifo: 'p',
};
const CODE_TYPES = Object.fromEntries(Object.entries(TYPE_CODES).map(([type, code]) => [code, type])) as Record<
  string,
  LayerEntryType
>;

type CompactRecord = [path: string, type: string, size: number, mode: number, uid: number, gid: number, extra?: string];

/**
 * The cache file's text (format 2): the records as columns, one JSON array (or string) per field, e.g.
 * `{"v":2, "paths":[...], "types":"dff", "sizes":[...], "modes":[...], "uids":[...], "gids":[...],
 * "extras":[...]}` where `extras` holds each record's digest (`sha256:...`) or link target, or 0. Reading it
 * back makes the strings and number arrays and the records, and nothing per record besides: the previous
 * format's one array per record, and every digest made twice, were most of the memory a 100,000-file layer
 * took to load.
 */
export function serializeIndex(index: LayerIndex): string {
  const count = index.files.length;
  const paths: string[] = new Array(count);
  const sizes: number[] = new Array(count);
  const modes: number[] = new Array(count);
  const uids: number[] = new Array(count);
  const gids: number[] = new Array(count);
  const extras: (string | 0)[] = new Array(count);
  let types = '';
  for (let i = 0; i < count; i++) {
    const record = index.files[i];
    paths[i] = record.path;
    types += TYPE_CODES[record.type];
    sizes[i] = record.size;
    modes[i] = record.mode;
    uids[i] = record.uid;
    gids[i] = record.gid;
    extras[i] = record.digest ?? record.linkname ?? 0;
  }
  return JSON.stringify({
    v: 2,
    diffId: index.diffId,
    tarSize: index.tarSize,
    whiteouts: index.whiteouts,
    opaques: index.opaques,
    paths,
    types,
    sizes,
    modes,
    uids,
    gids,
    extras,
  });
}

/** Reads `serializeIndex`'s text (format 2, or format 1: one array per record). */
export function deserializeIndex(text: string): LayerIndex {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new CorruptLayerError('read layer index: not JSON', {cause: error});
  }
  if (data?.v === 2) return fromColumns(data);
  if (data?.v !== 1 || !Array.isArray(data.files)) throw new CorruptLayerError('read layer index: unknown format');
  return {
    diffId: data.diffId as string | undefined,
    tarSize: data.tarSize as number,
    whiteouts: data.whiteouts as string[],
    opaques: data.opaques as string[],
    files: (data.files as CompactRecord[]).map(([path, code, size, mode, uid, gid, extra]) => {
      const record: FileRecord = {path, type: CODE_TYPES[code], size, mode, uid, gid};
      if (extra !== undefined) {
        if (record.type === 'file') record.digest = `sha256:${extra}`;
        else record.linkname = extra;
      }
      return record;
    }),
  };
}

function fromColumns(data: Record<string, unknown>): LayerIndex {
  const {paths, types, sizes, modes, uids, gids, extras} = data as {
    paths: string[];
    types: string;
    sizes: number[];
    modes: number[];
    uids: number[];
    gids: number[];
    extras: (string | 0)[];
  };
  const count = Array.isArray(paths) ? paths.length : -1;
  const columns = [sizes, modes, uids, gids, extras];
  if (count < 0 || typeof types !== 'string' || types.length !== count || columns.some(column => !Array.isArray(column) || column.length !== count)) {
    throw new CorruptLayerError('read layer index: columns of different lengths');
  }
  const files: FileRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const type = CODE_TYPES[types[i]];
    const record: FileRecord = {path: paths[i], type, size: sizes[i], mode: modes[i], uid: uids[i], gid: gids[i]};
    const extra = extras[i];
    if (extra !== 0) {
      if (type === 'file') record.digest = extra;
      else record.linkname = extra;
    }
    files[i] = record;
  }
  return {
    diffId: data.diffId as string | undefined,
    tarSize: data.tarSize as number,
    whiteouts: data.whiteouts as string[],
    opaques: data.opaques as string[],
    files,
  };
}

/**
 * The content of one path of a layer (the last member with that path), read by streaming the tar and
 * keeping only that member's first `maxBytes` bytes (default 1 MiB). Null when the layer has no such path.
 * A hardlink's content is not followed: its record names the target.
 */
export async function readLayerFile(
  tar: Readable,
  path: string,
  options: {maxBytes?: number} = {},
): Promise<{record: FileRecord; content: Buffer; truncated: boolean} | null> {
  const maxBytes = options.maxBytes ?? 1 << 20;
  let found: {record: FileRecord; content: Buffer; truncated: boolean} | null = null;
  await readLayerMembers(
    tar,
    (member, body) => {
      if (member.path !== path) return;
      const record: FileRecord = {path, type: member.type, size: member.size, mode: member.mode, uid: member.uid, gid: member.gid};
      if (member.linkname !== undefined) record.linkname = member.linkname;
      const chunks: Buffer[] = [];
      let kept = 0;
      const result = {record, content: Buffer.alloc(0), truncated: member.size > maxBytes};
      found = result;
      body.on('data', (chunk: Buffer) => {
        if (kept >= maxBytes) return;
        const part = chunk.subarray(0, maxBytes - kept);
        chunks.push(part);
        kept += part.length;
      });
      body.on('end', () => {
        result.content = Buffer.concat(chunks);
      });
    },
    {digest: false},
  );
  return found;
}
