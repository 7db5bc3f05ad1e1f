import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createHash} from 'node:crypto';
import tar from 'tar-stream';
import {startBackgroundHashing, writeLayer, type LayerEntry, type LayerMapEntry} from '../../engine/layer/index.js';
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

  test('hashed on the background worker (as watch mode does), a spliced layer has the digest of its bytes', async () => {
    await withTemp(async dir => {
      const files: Record<string, string> = {};
      for (let index = 0; index < 30; index++) files[`app/m/f${index}`] = String(index).repeat(200_000);
      await materialise(dir, files);
      const first = tree(dir, files);
      const earlier = await written(first.entries, first.identities);
      const blobPath = join(dir, 'earlier.tar');
      await writeFile(blobPath, earlier.bytes);
      assert.equal(await startBackgroundHashing(), true, 'the worker starts on this machine');
      files['app/m/f0'] = 'edited';
      await materialise(dir, files);
      const second = tree(dir, files);
      const spliced = await written(second.entries, second.identities, {blobPath, map: earlier.map!});
      assert.equal(spliced.diffId, `sha256:${createHash('sha256').update(spliced.bytes).digest('hex')}`);
      assert.equal(spliced.diffId, (await written(second.entries)).diffId);
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

  test('an earlier blob shorter than its map fails instead of writing a wrong layer', async () => {
    await withTemp(async dir => {
      const files = {'app/x': 'x'.repeat(3000), 'app/y': 'y'.repeat(3000)};
      await materialise(dir, files);
      const first = tree(dir, files);
      const earlier = await written(first.entries, first.identities);
      const blobPath = join(dir, 'earlier.tar');
      await writeFile(blobPath, earlier.bytes.subarray(0, 1024));
      await assert.rejects(written(first.entries, first.identities, {blobPath, map: earlier.map!}), /shorter than its map/);
      assert.deepEqual((await readdir(dir)).sort(), ['app_x', 'app_y', 'earlier.tar'], 'nothing else written beside the sources');
    });
  });
});
