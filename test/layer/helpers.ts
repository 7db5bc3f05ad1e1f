import {createHash} from 'node:crypto';
import {mkdtemp, mkdir, readdir, readFile, rm, writeFile, lstat, readlink} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Readable, Writable} from 'node:stream';
import {gzipSync} from 'node:zlib';
import assert from 'node:assert/strict';
import tar from 'tar-stream';
import type {LayerEntry} from '../../engine/layer/index.js';

/**
 * One raw tar member for tests. Unlike `writeLayer`, `makeTar` writes whatever it is given, hostile names and
 * all: `name` goes into the header verbatim. `pax` forces a PAX header (and so carries names the ustar fields
 * cannot, such as one with a NUL byte). `{globalPax}` writes a PAX global header.
 */
export type RawEntry =
  | {
      name: string;
      type?: 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';
      mode?: number;
      uid?: number;
      gid?: number;
      mtime?: Date;
      content?: string | Buffer;
      linkname?: string;
      devmajor?: number;
      devminor?: number;
      pax?: Record<string, string>;
    }
  | {globalPax: Record<string, string>};

const TYPES = {
  file: 'file',
  dir: 'directory',
  symlink: 'symlink',
  link: 'link',
  char: 'character-device',
  block: 'block-device',
  fifo: 'fifo',
} as const;
const TYPE_BITS = {file: 0o100000, dir: 0o040000, symlink: 0o120000, link: 0o100000, char: 0o020000, block: 0o060000, fifo: 0o010000};

export async function makeTar(entries: RawEntry[], options: {gzip?: boolean} = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = new Promise<void>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => {
      chunks.push(chunk as Buffer);
    });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  const globals: {index: number}[] = [];
  for (const entry of entries) {
    if ('globalPax' in entry) {
      // tar-stream cannot write a global header: write a PAX header and patch its type flag to 'g' below.
      globals.push({index: chunks.length});
      await new Promise<void>(resolve =>
        pack.entry({name: 'pax_global_header', size: 0, type: 'file', mode: 0o644, pax: entry.globalPax}, Buffer.alloc(0), () =>
          resolve(),
        ),
      );
      continue;
    }
    const type = entry.type ?? 'file';
    const content = entry.content === undefined ? undefined : Buffer.from(entry.content);
    const header = {
      name: entry.name,
      type: TYPES[type],
      mode: ((entry.mode ?? (type === 'dir' ? 0o755 : 0o644)) & 0o7777) | TYPE_BITS[type],
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: entry.mtime ?? new Date(0),
      linkname: entry.linkname,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
      pax: entry.pax,
    };
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (type === 'file') pack.entry(header, content ?? Buffer.alloc(0), done);
      else pack.entry(header, done);
    });
  }
  pack.finalize();
  await collected;
  let tarBytes: Buffer = Buffer.concat(chunks);
  if (globals.length > 0) tarBytes = patchGlobalHeaders(tarBytes);
  return options.gzip ? gzipSync(tarBytes) : tarBytes;
}

/** Turns each PAX header named `PaxHeader` followed by an entry named `pax_global_header` into a 'g' header. */
function patchGlobalHeaders(bytes: Buffer): Buffer {
  const out: Buffer = Buffer.from(bytes);
  for (let offset = 0; offset + 512 <= out.length; ) {
    const block = out.subarray(offset, offset + 512);
    if (block.every(byte => byte === 0)) break;
    const size = Number.parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
    const next = offset + 512 + Math.ceil(size / 512) * 512;
    if (block[156] === 0x78 /* x */) {
      const body = out.subarray(offset + 512, offset + 512 + size).toString('utf8');
      if (body.includes('path=pax_global_header')) {
        block[156] = 0x67; // g
        rechecksum(block);
        // Drop the empty placeholder member that tar-stream wrote after the PAX header.
        return patchGlobalHeaders(Buffer.concat([out.subarray(0, next), out.subarray(next + 512)]));
      }
    }
    offset = next;
  }
  return out;
}

function rechecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
}

export function streamOf(bytes: Buffer): Readable {
  return Readable.from([bytes]);
}

/** Collects what a writer produces. */
export function collector(): {stream: Writable; bytes: () => Buffer} {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return {stream, bytes: () => Buffer.concat(chunks)};
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * A temp folder holding `root` (the extraction target) and `outside` (a sentinel with a file in it). After a
 * hostile apply, `assertOutsideUntouched` checks that the sentinel and the base folder are exactly as before.
 */
export async function sandbox() {
  const base = await mkdtemp(join(tmpdir(), 'strata-layer-'));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'original');
  const before = await snapshotTree(base, ['root']);
  return {
    base,
    root,
    outside,
    async assertOutsideUntouched() {
      assert.deepEqual(await snapshotTree(base, ['root']), before, 'something changed outside the target');
    },
    async cleanup() {
      await rm(base, {recursive: true, force: true});
    },
  };
}

/** path -> "type mode size content-or-link" for everything under `dir`, skipping `exclude` at the top. */
export async function snapshotTree(dir: string, exclude: string[] = []): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  async function walk(path: string, rel: string) {
    for (const name of (await readdir(path)).sort()) {
      if (rel === '' && exclude.includes(name)) continue;
      const full = join(path, name);
      const relPath = rel ? `${rel}/${name}` : name;
      const stats = await lstat(full);
      const mode = (stats.mode & 0o7777).toString(8);
      if (stats.isSymbolicLink()) result[relPath] = `symlink ${await readlink(full)}`;
      else if (stats.isDirectory()) {
        result[relPath] = `dir ${mode}`;
        await walk(full, relPath);
      } else if (stats.isFile()) result[relPath] = `file ${mode} ${(await readFile(full)).toString('utf8')}`;
      else result[relPath] = `other ${mode}`;
    }
  }
  await walk(dir, '');
  return result;
}

/** A regular file entry for writeLayer (root-owned, 0644 unless `extra` says otherwise). */
export const file = (path: string, content: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({
  path,
  type: 'file',
  mode: 0o644,
  uid: 0,
  gid: 0,
  content: Buffer.from(content),
  ...extra,
});

/** A folder entry for writeLayer (root-owned, 0755 unless `extra` says otherwise). */
export const dir = (path: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({path, type: 'dir', mode: 0o755, uid: 0, gid: 0, ...extra});

/** An OCI whiteout entry (`.wh.name`) for writeLayer. */
export const whiteout = (path: string): LayerEntry => file(path, '', {mode: 0});
