/**
 * Layer files written over spares (engine/layer/layer-file.ts): a watching process keeps a copy of each line's
 * newest layer and writes the next layer of the line over it, page by page where the bytes differ.
 */
import {after, before, beforeEach, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {
  dropSpareLayerFiles,
  makeSpareLayerFiles,
  rememberLayerFile,
  startLayerFiles,
  writeLayer,
  writeLayerFile,
  type LayerEntry,
  type LayerMapEntry,
} from '../../engine/layer/index.js';
import {collector} from './helpers.js';

const mtime = new Date('2024-05-01T10:00:00Z');

/** Bytes this process has written so far (every thread), where Linux says. */
function bytesWritten(): number | undefined {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

describe('layer files written over spares', () => {
  let dir: string;
  let sources: string;
  let blobs: string;
  let spares: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-spares-'));
    sources = join(dir, 'sources');
    blobs = join(dir, 'blobs');
    spares = join(dir, 'tmp');
    await Promise.all([mkdir(sources), mkdir(blobs), mkdir(spares)]);
    assert.equal(await startLayerFiles(), true, 'the worker starts on this machine');
  });
  beforeEach(async () => {
    // Each test starts with no spares (a line of another test must not lend its spare).
    await dropSpareLayerFiles();
  });
  after(async () => {
    await dropSpareLayerFiles();
    await rm(dir, {recursive: true, force: true});
  });

  /** A COPY of `files` (path to content) into app/, with the identities a COPY plan gives. */
  async function tree(files: Record<string, string | Buffer>): Promise<{entries: LayerEntry[]; identities: Record<string, string>}> {
    const entries: LayerEntry[] = [{path: 'app', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime}];
    const identities: Record<string, string> = {};
    for (const [name, content] of Object.entries(files)) {
      const bytes = Buffer.from(content);
      const sourcePath = join(sources, `${name}-${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}`);
      await writeFile(sourcePath, bytes);
      entries.push({path: `app/${name}`, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime, size: bytes.length, sourcePath});
      identities[`app/${name}`] = createHash('sha256').update(bytes).digest('hex');
    }
    return {entries, identities};
  }

  async function fresh(entries: LayerEntry[]): Promise<Buffer> {
    const out = collector();
    await writeLayer(entries, out.stream);
    return out.bytes();
  }

  /** Write `files` as a blob of the line that `source` (a blob path) is in; returns its path and map. */
  async function layer(files: Record<string, string | Buffer>, source?: {path: string; map: readonly LayerMapEntry[]}) {
    const {entries, identities} = await tree(files);
    const temporary = join(spares, `blob-${Math.random().toString(36).slice(2)}`);
    const written = await writeLayerFile(entries, temporary, {identities, reuse: source && {blobPath: source.path, map: source.map}});
    const path = join(blobs, written.diffId.slice('sha256:'.length));
    await writeFile(path, await readFile(temporary));
    await rm(temporary);
    rememberLayerFile(path, source?.path, spares);
    return {path, map: written.map!, written, bytes: await readFile(path), expected: await fresh(entries), temporary};
  }

  const big = (seed: number) => {
    const files: Record<string, Buffer> = {};
    for (let index = 0; index < 24; index++) files[`part${String(index).padStart(2, '0')}.bin`] = Buffer.alloc(400_000 + index, (seed + index) % 251);
    return files;
  };

  const spareFiles = async () => (await readdir(spares)).filter(name => name.startsWith('spare-'));

  test('over a copy of its source, an edited layer holds the bytes of a fresh write, and only the changed pages are written', async () => {
    const files = {...big(1), 'main.js': 'console.log(1)\n'};
    const first = await layer(files);
    await makeSpareLayerFiles();
    const [spare] = await spareFiles();
    assert.ok(spare, 'a spare is made for the line');
    assert.ok((await readFile(join(spares, spare))).equals(first.bytes), 'the spare is a copy of the newest layer');
    const spareInode = (await stat(join(spares, spare))).ino;

    const {entries, identities} = await tree({...files, 'main.js': 'console.log(2)\n'});
    const target = join(spares, 'blob-edited');
    const before = bytesWritten();
    const written = await writeLayerFile(entries, target, {identities, reuse: {blobPath: first.path, map: first.map}});
    const after = bytesWritten();
    const bytes = await readFile(target);
    assert.ok(bytes.equals(await fresh(entries)), 'byte for byte what a fresh write gives');
    assert.equal(written.diffId, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    assert.equal(written.size, bytes.length);
    assert.equal((await stat(target)).ino, spareInode, 'the layer is the spare, written over');
    assert.deepEqual(await spareFiles(), [], 'a spare is used once');
    if (before !== undefined && after !== undefined) {
      assert.ok(after - before < 256 * 1024, `a one-file edit of a ${(bytes.length / 1e6).toFixed(1)} MB layer wrote ${after - before} bytes`);
    }
    assert.ok((await readFile(first.path)).equals(first.bytes), 'the earlier layer is untouched');
  });

  test('over a spare of a sibling layer, only the pages whose bytes differ are written', async () => {
    const files = {...big(6), 'main.js': 'one\n'};
    const first = await layer(files);
    // The line's newest layer, from which the spare is copied, is not the source of the next splice.
    await layer({...files, 'main.js': 'two\n'}, first);
    await makeSpareLayerFiles();
    const {entries, identities} = await tree({...files, 'main.js': 'six\n'});
    const target = join(spares, 'blob-sibling');
    const before = bytesWritten();
    await writeLayerFile(entries, target, {identities, reuse: {blobPath: first.path, map: first.map}});
    const after = bytesWritten();
    const bytes = await readFile(target);
    assert.ok(bytes.equals(await fresh(entries)));
    if (before !== undefined && after !== undefined) assert.ok(after - before < 256 * 1024, `wrote ${after - before} bytes of ${bytes.length}`);
  });

  test('over a spare of other bytes, longer or shorter, the layer is exactly its own bytes', async () => {
    const start = await layer(big(2));
    // Longer than what comes next: a layer with an extra file, then one without it (cut to its length).
    const longer = await layer({...big(2), 'extra.bin': Buffer.alloc(700_000, 7)}, start);
    assert.ok(longer.bytes.equals(longer.expected));
    await makeSpareLayerFiles();
    const shorter = await layer({...big(3), 'z.txt': 'short'}, longer);
    assert.ok(shorter.bytes.equals(shorter.expected), 'a spare longer than the layer is cut to it');
    assert.ok(shorter.bytes.length < longer.bytes.length);
    // Shorter than what comes next, and every member moved: a new file at the front.
    await makeSpareLayerFiles();
    const grown = await layer({'a-first.bin': Buffer.alloc(123_457, 9), ...big(3), 'z.txt': 'short'}, shorter);
    assert.ok(grown.bytes.equals(grown.expected), 'a spare shorter than the layer, its members moved, still gives the exact bytes');
    assert.ok(grown.bytes.length > shorter.bytes.length);
  });

  test('a spare that vanished only means a fresh file; dropping removes the spares', async () => {
    const first = await layer(big(4));
    await makeSpareLayerFiles();
    for (const name of await spareFiles()) await rm(join(spares, name));
    const next = await layer({...big(4), 'more.txt': 'more'}, first);
    assert.ok(next.bytes.equals(next.expected));
    await makeSpareLayerFiles();
    assert.equal((await spareFiles()).length, 1);
    await dropSpareLayerFiles();
    assert.deepEqual(await spareFiles(), []);
  });

  test('a layer opened while its spare is still being copied takes it as far as it got, and is still exact', async () => {
    const files = {...big(7), 'main.js': 'one\n'};
    const first = await layer(files);
    const {entries, identities} = await tree({...files, 'main.js': 'two\n'});
    // Not awaited: the copy goes a chunk at a time, and the layer file's open comes in between.
    const making = makeSpareLayerFiles();
    const target = join(spares, 'blob-while-copying');
    await writeLayerFile(entries, target, {identities, reuse: {blobPath: first.path, map: first.map}});
    await making;
    assert.ok((await readFile(target)).equals(await fresh(entries)));
    assert.deepEqual(await spareFiles(), [], 'the spare became the layer; nothing is left of it');
  });

  test('past a few spares, the one kept longest unused goes, and of lines written together the newest keep theirs', async () => {
    const lines = [];
    for (let index = 0; index < 6; index++) {
      lines.push(await layer({[`only-${index}.bin`]: Buffer.alloc(100_000, index)}));
      await makeSpareLayerFiles();
    }
    const kept = await spareFiles();
    assert.equal(kept.length, 4, `${kept.length} spares kept`);
    // Six lines written before one call (a build of six COPY steps): the last four written get spares.
    await dropSpareLayerFiles();
    const together = [];
    for (let index = 0; index < 6; index++) together.push(await layer({[`together-${index}.bin`]: Buffer.alloc(100_000, 50 + index)}));
    await makeSpareLayerFiles();
    assert.equal((await spareFiles()).length, 4);
    const writeNext = async (line: Awaited<ReturnType<typeof layer>>, name: string) => {
      const {entries, identities} = await tree({[name]: Buffer.alloc(100_000, 99), 'more.txt': 'more'});
      const before = (await spareFiles()).length;
      await writeLayerFile(entries, join(spares, `blob-${name}`), {identities, reuse: {blobPath: line.path, map: line.map}});
      return before - (await spareFiles()).length;
    };
    assert.equal(await writeNext(together[0]!, 'oldest.bin'), 0, 'the first line written has none');
    assert.equal(await writeNext(together[5]!, 'newest.bin'), 1, 'the last line written has one');
    await dropSpareLayerFiles();
    for (let index = 0; index < 6; index++) {
      lines[index] = await layer({[`only-${index}.bin`]: Buffer.alloc(100_000, index)});
      await makeSpareLayerFiles();
    }
    // The newest line has one: its next layer is written over it.
    const newest = lines.at(-1)!;
    const {entries, identities} = await tree({'only-5.bin': Buffer.alloc(100_000, 5), 'more.txt': 'more'});
    await writeLayerFile(entries, join(spares, 'blob-newest'), {identities, reuse: {blobPath: newest.path, map: newest.map}});
    assert.equal((await spareFiles()).length, 3, 'its spare was used');
  });

  test('over a spare, an existing target is refused and left as it was', async () => {
    const first = await layer(big(5));
    await makeSpareLayerFiles();
    const taken = join(spares, 'blob-taken');
    await writeFile(taken, 'someone else');
    const {entries, identities} = await tree({...big(5), 'x.txt': 'x'});
    await assert.rejects(writeLayerFile(entries, taken, {identities, reuse: {blobPath: first.path, map: first.map}}), /EEXIST/);
    assert.equal(await readFile(taken, 'utf8'), 'someone else');
  });
});
