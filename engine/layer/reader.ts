import {createHash} from 'node:crypto';
import {Readable, Transform} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import * as zlib from 'node:zlib';
import tar from 'tar-stream';
import {UserError} from '../errors.js';
import {cleanArchiveName, type LayerEntryType} from './entry.js';
import {CorruptLayerError, LayerLimitError} from './errors.js';

/** A tar member as the layer code sees it: cleaned path, PAX values applied, type in LayerEntry terms. */
export interface TarMember {
  /** The name as stored in the archive. */
  name: string;
  /** The cleaned relative path; '' is the root itself. */
  path: string;
  type: LayerEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  /** Symlink target verbatim, or the cleaned layer path a hardlink points at. */
  linkname?: string;
  devmajor: number;
  devminor: number;
  xattrs?: Record<string, string>;
}

/** A member's content (a tar-stream source): consume it, or leave it and the reader drains it. */
export interface MemberBody extends AsyncIterable<Buffer> {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  resume(): unknown;
}

export interface ReadLimits {
  /** Most members accepted (default unlimited). */
  maxEntries?: number;
  /** Most uncompressed tar bytes accepted, headers and padding included (default unlimited). */
  maxBytes?: number;
}

export interface ReadSummary {
  entries: number;
  /** Uncompressed tar bytes. */
  tarBytes: number;
  /** Digest of the uncompressed tar (unless `digest: false` was asked). */
  diffId?: string;
}

const TYPES: Record<string, LayerEntryType | undefined> = {
  file: 'file',
  'contiguous-file': 'file',
  link: 'hardlink',
  symlink: 'symlink',
  'character-device': 'char',
  'block-device': 'block',
  directory: 'dir',
  fifo: 'fifo',
};

/**
 * Streams the members of a layer tar (plain, gzip, or zstd where this Node has it; sniffed from the magic
 * bytes) to `onMember`, one at a time. Members are never held in memory: the handler gets the content as a
 * stream and whatever it leaves unread is drained. Unreadable archives throw `CorruptLayerError`, names that
 * escape `LayerEscapeError`, limits `LayerLimitError`; an error thrown by the handler stops the read and is
 * rethrown as is. The handler may return a promise (the next member waits for it) or attach listeners to the
 * body and return nothing (the next member follows the body's end). `digest: false` skips the diffID hash.
 */
export async function readLayerMembers(
  input: Readable,
  onMember: (member: TarMember, body: MemberBody) => void | Promise<void>,
  options: ReadLimits & {digest?: boolean} = {},
): Promise<ReadSummary> {
  const maxEntries = options.maxEntries ?? Infinity;
  const maxBytes = options.maxBytes ?? Infinity;
  const {head, rest} = await peek(input, 4);
  const stages: NodeJS.ReadWriteStream[] = [];
  if (head[0] === 0x1f && head[1] === 0x8b) stages.push(zlib.createGunzip());
  else if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    const zstd = (zlib as unknown as {createZstdDecompress?: () => NodeJS.ReadWriteStream}).createZstdDecompress;
    if (!zstd) throw new CorruptLayerError('read layer: zstd-compressed layers need Node 22.15 or newer');
    stages.push(zstd());
  }
  const hash = options.digest === false ? undefined : createHash('sha256');
  let tarBytes = 0;
  let entries = 0;
  let failure: unknown;
  const extract = tar.extract();
  const fail = (error: unknown) => {
    failure ??= error;
    extract.destroy(error as Error);
  };
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      tarBytes += chunk.length;
      if (tarBytes > maxBytes) {
        const error = new LayerLimitError(`read layer: more than ${maxBytes} uncompressed bytes`);
        failure ??= error;
        callback(error);
        return;
      }
      hash?.update(chunk);
      callback(null, chunk);
    },
  });
  extract.on('entry', (header, source, next) => {
    entries++;
    const body = source as unknown as MemberBody;
    // Per-member work is kept to one listener and no named closures: this runs 100,000 times for big layers.
    const state: MemberState = {ended: false, waiting: false, next};
    body.on('end', () => {
      state.ended = true;
      if (state.waiting) state.next();
    });
    // Only a member with content is destroyed along with a failed read; its error is reported by the pipeline.
    if (header.size > 0) body.on('error', noop);
    try {
      if (entries > maxEntries) throw new LayerLimitError(`read layer: more than ${maxEntries} entries`);
      const result = onMember(toMember(header), body);
      if (result) result.then(() => settle(state, body), fail);
      else settle(state, body);
    } catch (error) {
      fail(error);
    }
  });
  try {
    await pipeline([Readable.from(rest), ...stages, counting, extract as unknown as NodeJS.WritableStream]);
  } catch (error) {
    throw translate(failure ?? error);
  }
  if (failure) throw translate(failure);
  return {entries, tarBytes, diffId: hash ? `sha256:${hash.digest('hex')}` : undefined};
}

function noop(): void {}

interface MemberState {
  ended: boolean;
  waiting: boolean;
  next: () => void;
}

/** Moves on once the member's body has ended, draining whatever the handler left unread. */
function settle(state: MemberState, body: MemberBody): void {
  if (state.ended) return state.next();
  state.waiting = true;
  body.resume();
}

function translate(error: unknown): unknown {
  if (error instanceof UserError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/Invalid tar header|unknown format/.test(message)) {
    return new CorruptLayerError('read layer: invalid tar header (bad checksum, or not a tar)', {cause: error});
  }
  if (/Unexpected end of data/.test(message)) return new CorruptLayerError('read layer: archive is truncated', {cause: error});
  if (/Header exceeds max size/.test(message)) {
    return new CorruptLayerError('read layer: PAX or long-name header is too large', {cause: error});
  }
  const code = (error as {code?: string}).code ?? '';
  if (code.startsWith('Z_') || /incorrect header check|unexpected end of file/.test(message)) {
    return new CorruptLayerError(`read layer: decompress: ${message}`, {cause: error});
  }
  return error;
}

function toMember(header: tar.Header): TarMember {
  const type = TYPES[(header.type as string | null) ?? ''];
  const name = header.name;
  if (!type) throw new CorruptLayerError(`read layer: entry ${JSON.stringify(name)} has unsupported type ${header.type}`);
  const pax = (header.pax ?? undefined) as Record<string, string> | undefined;
  let xattrs: Record<string, string> | undefined;
  let uid = header.uid ?? 0;
  let gid = header.gid ?? 0;
  let mtime = header.mtime ?? new Date(0);
  if (pax) {
    if (pax.uid) uid = parseNumber(pax.uid, name);
    if (pax.gid) gid = parseNumber(pax.gid, name);
    if (pax.mtime) mtime = new Date(Number.parseFloat(pax.mtime) * 1000);
    for (const key of Object.keys(pax)) {
      if (key.startsWith('SCHILY.xattr.')) (xattrs ??= {})[key.slice('SCHILY.xattr.'.length)] = pax[key];
    }
  }
  const member: TarMember = {
    name,
    path: cleanArchiveName(name),
    type,
    mode: (header.mode ?? 0) & 0o7777,
    uid,
    gid,
    size: type === 'file' ? (header.size ?? 0) : 0,
    mtime,
    devmajor: header.devmajor ?? 0,
    devminor: header.devminor ?? 0,
  };
  if (type === 'symlink') member.linkname = header.linkname ?? '';
  if (type === 'hardlink') member.linkname = cleanArchiveName(header.linkname ?? '');
  if (xattrs) member.xattrs = xattrs;
  return member;
}

function parseNumber(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new CorruptLayerError(`read layer: entry ${JSON.stringify(name)} has invalid PAX number ${value}`);
  }
  return number;
}

/** Reads at least `size` bytes (or everything, if shorter) and gives them back with the rest of the stream. */
async function peek(input: Readable, size: number): Promise<{head: Buffer; rest: AsyncIterable<Buffer>}> {
  const iterator = (input as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let done = false;
  while (length < size) {
    const step = await iterator.next();
    if (step.done) {
      done = true;
      break;
    }
    const chunk = typeof step.value === 'string' ? Buffer.from(step.value) : step.value;
    chunks.push(chunk);
    length += chunk.length;
  }
  const head = Buffer.concat(chunks);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (done) return;
    try {
      for (;;) {
        const step = await iterator.next();
        if (step.done) return;
        yield typeof step.value === 'string' ? Buffer.from(step.value) : step.value;
      }
    } finally {
      // Stopping early (an error downstream) must release the caller's stream too.
      await iterator.return?.();
    }
  }
  return {head, rest: rest()};
}
