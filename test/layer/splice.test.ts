import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createHash} from 'node:crypto';
import tar from 'tar-stream';
import {layerFilesOnline, startLayerFiles, writeLayer, writeLayerFile, type LayerEntry, type LayerMapEntry} from '../../engine/layer/index.js';
import {collector} from './helpers.js';

async function withTemp(body: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'strata-splice-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}

const mtime = new Date('2024-05-01T10:00:00Z');

/** A source tree as COPY would list it: folders, files with content identities, a symlink. */
function tree(dir: string, files: Record<string, string>, extra: LayerEntry[] = []): {entries: LayerEntry[]; identities: Record<string, string>} {
  const entries: LayerEntry[] = [{path: 'app', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime}];
  const identities: Record<string, string> = {};
  const folders = new Set<string>();
  for (const [path, content] of Object.entries(files)) {
    const folder = path.slice(0, path.lastIndexOf('/'));
    if (folder !== 'app' && !folders.has(folder)) {
      folders.add(folder);
      entries.push({path: folder, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime});
    }
    const sourcePath = join(dir, path.replaceAll('/', '_'));
    entries.push({path, type: 'file', mode: 0o644, uid: 1000, gid: 1000, mtime, size: Buffer.byteLength(content), sourcePath});
    identities[path] = `content:${content}`;
  }
  return {entries: [...entries, ...extra], identities};
}

async function materialise(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) await writeFile(join(dir, path.replaceAll('/', '_')), content);
}

async function written(entries: LayerEntry[], identities?: Record<string, string>, reuse?: {blobPath: string; map: readonly LayerMapEntry[]}) {
  const out = collector();
  const result = await writeLayer(entries, out.stream, {identities, reuse});
  return {...result, bytes: out.bytes()};
}

/** Each map entry must frame exactly one tar member with that path. */
async function assertMapFramesMembers(bytes: Buffer, map: readonly LayerMapEntry[]): Promise<void> {
  for (const item of map) {
    const member = Buffer.concat([bytes.subarray(item.offset, item.offset + item.length), Buffer.alloc(1024)]);
    const names: string[] = [];
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      names.push(header.name.replace(/\/$/, ''));
      stream.on('end', next);
      stream.resume();
    });
    await new Promise<void>((resolve, reject) => {
      extract.on('finish', resolve);
      extract.on('error', reject);
      extract.end(member);
    });
    assert.deepEqual(names, [item.path], `map entry ${item.path} frames ${JSON.stringify(names)}`);
  }
}

describe('writeLayer with an earlier layer to reuse', () => {
  test('an edited, an added and a removed file give the same bytes as writing from scratch', async () => {
    await withTemp(async dir => {
      const before: Record<string, string> = {'app/src/a.js': 'a1', 'app/src/b.js': 'b'.repeat(5000), 'app/src/c.js': 'c', 'app/lib/d.js': 'd'.repeat(70000)};
      await materialise(dir, before);
      const link: LayerEntry = {path: 'app/current', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime, linkname: 'src'};
      const first = tree(dir, before, [link]);
      const earlier = await written(first.entries, first.identities);
      const blobPath = join(dir, 'earlier.tar');
      await writeFile(blobPath, earlier.bytes);
      assert.ok(earlier.map && earlier.map.length === first.entries.length, 'every member of the first layer is mapped');
      await assertMapFramesMembers(earlier.bytes, earlier.map);

      const after: Record<string, string> = {'app/src/a.js': 'a2, longer than before', 'app/src/b.js': 'b'.repeat(5000), 'app/lib/d.js': 'd'.repeat(70000), 'app/lib/e.js': 'new'};
      await materialise(dir, after);
      const second = tree(dir, after, [link]);
      const spliced = await written(second.entries, second.identities, {blobPath, map: earlier.map});
      const fresh = await written(second.entries);
      assert.equal(spliced.diffId, fresh.diffId);
      assert.ok(spliced.bytes.equals(fresh.bytes), 'spliced tar is byte-identical to a fresh one');
      assert.equal(spliced.size, fresh.bytes.length);
      await assertMapFramesMembers(spliced.bytes, spliced.map!);
      assert.deepEqual(spliced.map!.map(item => item.path).sort(), second.entries.map(entry => entry.path).sort());
      // The earlier layer is untouched: it is an immutable blob other images may use.
      assert.ok((await readFile(blobPath)).equals(earlier.bytes));
    });
  });

  test('written by the layer file worker (as watch mode does), a spliced layer file holds the same bytes as a fresh write', async () => {
    await withTemp(async dir => {
      const files: Record<string, string> = {};
      // Past the worker's chunk and queue sizes, so that copies span several reads and writes wait for room.
      for (let index = 0; index < 30; index++) files[`app/m/f${String(index).padStart(2, '0')}`] = String(index).repeat(400_000);
      await materialise(dir, files);
      const first = tree(dir, files);
      const earlier = await written(first.entries, first.identities);
      const blobPath = join(dir, 'earlier.tar');
      await writeFile(blobPath, earlier.bytes);
      assert.equal(await startLayerFiles(), true, 'the worker starts on this machine');
      assert.equal(layerFilesOnline(), true);
      // One member copied, one changed in the middle, one added at the end (encoded runs between copies).
      files['app/m/f10'] = 'edited';
      files['app/m/f99'] = 'x'.repeat(9_000_000);
      await materialise(dir, files);
      const second = tree(dir, files);
      const target = join(dir, 'spliced.tar');
      const spliced = await writeLayerFile(second.entries, target, {identities: second.identities, reuse: {blobPath, map: earlier.map!}});
      const fresh = await written(second.entries);
      const bytes = await readFile(target);
      assert.ok(bytes.equals(fresh.bytes), 'the file is byte-identical to a fresh write');
      assert.equal(spliced.diffId, `sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      assert.equal(spliced.size, bytes.length);
      await assertMapFramesMembers(bytes, spliced.map!);
      assert.ok((await readFile(blobPath)).equals(earlier.bytes), 'the earlier layer is untouched');
      await assert.rejects(
        writeLayerFile(second.entries, target, {identities: second.identities, reuse: {blobPath, map: earlier.map!}}),
        /EEXIST/,
        'an existing file is never written through',
      );
      assert.ok((await readFile(target)).equals(bytes), 'and it is left as it was');
    });
  });

  test('without an earlier layer, a layer file is written from here with the same bytes, and never over an existing name', async () => {
    await withTemp(async dir => {
      const files = {'app/x': 'x'.repeat(3000), 'app/y': 'y'.repeat(70000)};
      await materialise(dir, files);
      const {entries, identities} = tree(dir, files);
      const target = join(dir, 'fresh.tar');
      const result = await writeLayerFile(entries, target, {identities});
      const fresh = await written(entries, identities);
      assert.ok((await readFile(target)).equals(fresh.bytes));
      assert.equal(result.diffId, fresh.diffId);
      assert.deepEqual(result.map, fresh.map);
      await writeFile(join(dir, 'taken.tar'), 'someone else');
      await assert.rejects(writeLayerFile(entries, join(dir, 'taken.tar')), /EEXIST/);
      assert.equal(await readFile(join(dir, 'taken.tar'), 'utf8'), 'someone else', 'the existing file is left as it was');
      const broken: LayerEntry[] = [...entries, {path: 'app/gone', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 5, sourcePath: join(dir, 'missing')}];
      await assert.rejects(writeLayerFile(broken, join(dir, 'broken.tar')), /missing/);
      assert.equal((await readdir(dir)).includes('broken.tar'), false, 'a failed write leaves no file');
    });
  });

  test('a changed mode, owner or time is not taken from the earlier layer', async () => {
    await withTemp(async dir => {
      const files = {'app/x': 'same bytes'};
      await materialise(dir, files);
      const first = tree(dir, files);
      const earlier = await written(first.entries, first.identities);
      const blobPath = join(dir, 'earlier.tar');
      await writeFile(blobPath, earlier.bytes);
      for (const change of [{mode: 0o600}, {uid: 0}, {mtime: new Date('2025-01-01T00:00:00Z')}]) {
        const entries = first.entries.map(entry => (entry.path === 'app/x' ? {...entry, ...change} : entry));
        const spliced = await written(entries, first.identities, {blobPath, map: earlier.map!});
        const fresh = await written(entries);
        assert.ok(spliced.bytes.equals(fresh.bytes), `change ${JSON.stringify(change)} is written, not copied`);
        assert.notEqual(spliced.diffId, earlier.diffId);
      }
    });
  });

  test('the same entry objects written again and changed in place are not taken from the earlier layer', async () => {
    await withTemp(async dir => {
      const files = {'app/x': 'same bytes', 'app/y': 'other bytes'};
      await materialise(dir, files);
      const first = tree(dir, files, [{path: 'app/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime, linkname: 'x'}]);
      for (const entry of first.entries) entry.mtime = new Date(mtime); // Changed in place below.
      const earlier = await written(first.entries, first.identities);
      const blobPath = join(dir, 'earlier.tar');
      await writeFile(blobPath, earlier.bytes);
      const again = await written(first.entries, first.identities, {blobPath, map: earlier.map!});
      assert.ok(again.bytes.equals(earlier.bytes), 'unchanged objects: the same layer');
      // A caller that keeps its entry objects (as a COPY plan does) and changes one field of one of them.
      const x = first.entries.find(entry => entry.path === 'app/x')!;
      const link = first.entries.find(entry => entry.path === 'app/link')!;
      const changes: [string, () => void][] = [
        ['mode', () => (x.mode = 0o600)],
        ['uid', () => (x.uid = 7)],
        ['mtime set in place', () => x.mtime!.setTime(Date.parse('2025-01-01T00:00:00Z'))],
        ['size', () => (x.size = 4)],
        ['link target', () => (link.linkname = 'y')],
      ];
      for (const [name, change] of changes) {
        change();
        const spliced = await written(first.entries, first.identities, {blobPath, map: earlier.map!});
        const fresh = await written(first.entries);
        assert.ok(spliced.bytes.equals(fresh.bytes), `${name}: written, not copied`);
        assert.notEqual(spliced.diffId, earlier.diffId);
      }
      const identities = {...first.identities, 'app/y': 'content:changed'};
      await writeFile(join(dir, 'app_y'), 'changed bytes');
      const spliced = await written(first.entries, identities, {blobPath, map: earlier.map!});
      assert.ok(spliced.bytes.equals((await written(first.entries)).bytes), 'another identity: written, not copied');
      assert.match((await written(first.entries)).bytes.toString('latin1'), /changed bytes/);
    });
  });

  test('an earlier blob shorter than its map fails instead of writing a wrong layer, as a stream and on the worker', async () => {
    await withTemp(async dir => {
      const files = {'app/x': 'x'.repeat(3000), 'app/y': 'y'.repeat(3000)};
      await materialise(dir, files);
      const first = tree(dir, files);
      const earlier = await written(first.entries, first.identities);
      const blobPath = join(dir, 'earlier.tar');
      await writeFile(blobPath, earlier.bytes.subarray(0, 1024));
      const reuse = {blobPath, map: earlier.map!};
      await assert.rejects(written(first.entries, first.identities, reuse), /shorter than its map/);
      assert.deepEqual((await readdir(dir)).sort(), ['app_x', 'app_y', 'earlier.tar'], 'nothing else written beside the sources');
      assert.equal(await startLayerFiles(), true);
      await assert.rejects(writeLayerFile(first.entries, join(dir, 'spliced.tar'), {identities: first.identities, reuse}), /shorter than its map/);
      assert.deepEqual((await readdir(dir)).sort(), ['app_x', 'app_y', 'earlier.tar'], 'the half-written file is removed');
    });
  });
});
