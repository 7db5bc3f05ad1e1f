import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {gzipSync} from 'node:zlib';
import {
  CorruptLayerError,
  deserializeIndex,
  indexLayer,
  LayerEscapeError,
  readLayerFile,
  serializeIndex,
  UnsafeLayerError,
  writeLayer,
  type LayerEntry,
} from '../../engine/layer/index.js';
import {collector, makeTar, sha256, streamOf} from './helpers.js';

describe('indexLayer', () => {
  test('records every path with type, size, mode, owner, link target and content digest', async () => {
    const tar = await makeTar([
      {name: 'etc/', type: 'dir', mode: 0o755},
      {name: 'etc/passwd', content: 'root:x:0:0\n', mode: 0o644, uid: 0},
      {name: 'etc/big', content: Buffer.alloc(5 << 20, 1), mode: 0o600, uid: 7, gid: 8},
      {name: 'etc/empty', content: ''},
      {name: 'etc/link', type: 'symlink', linkname: '/etc/passwd'},
      {name: 'etc/hard', type: 'link', linkname: 'etc/passwd'},
      {name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666},
      {name: 'run/fifo', type: 'fifo'},
    ]);
    const index = await indexLayer(streamOf(gzipSync(tar)));
    assert.deepEqual(index.files, [
      {path: 'etc', type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0},
      {path: 'etc/passwd', type: 'file', size: 11, mode: 0o644, uid: 0, gid: 0, digest: sha256('root:x:0:0\n')},
      {path: 'etc/big', type: 'file', size: 5 << 20, mode: 0o600, uid: 7, gid: 8, digest: sha256(Buffer.alloc(5 << 20, 1))},
      {path: 'etc/empty', type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, digest: sha256('')},
      {path: 'etc/link', type: 'symlink', size: 0, mode: 0o644, uid: 0, gid: 0, linkname: '/etc/passwd'},
      {path: 'etc/hard', type: 'hardlink', size: 0, mode: 0o644, uid: 0, gid: 0, linkname: 'etc/passwd'},
      {path: 'dev/null', type: 'char', size: 0, mode: 0o666, uid: 0, gid: 0},
      {path: 'run/fifo', type: 'fifo', size: 0, mode: 0o644, uid: 0, gid: 0},
    ]);
    assert.deepEqual(index.whiteouts, []);
    assert.equal(index.tarSize, tar.length);
  });

  test('whiteouts and opaque markers are recorded apart from files', async () => {
    const index = await indexLayer(
      streamOf(
        await makeTar([
          {name: 'a/.wh.gone', content: ''},
          {name: 'a/.wh..wh..opq', content: ''},
          {name: '.wh.top', content: ''},
          {name: '.wh..wh..opq', content: ''},
          {name: '.wh..wh.plnk/', type: 'dir'},
          {name: 'a/kept', content: 'k'},
        ]),
      ),
    );
    assert.deepEqual(index.whiteouts, ['a/gone', 'top']);
    assert.deepEqual(index.opaques, ['a', '']);
    assert.deepEqual(index.files.map(f => f.path), ['a/kept']);
  });

  test('a duplicate path keeps its last record, names are cleaned', async () => {
    const index = await indexLayer(
      streamOf(await makeTar([{name: './f', content: 'one'}, {name: '/f', content: 'two!'}, {name: 'd//x/', type: 'dir'}])),
    );
    assert.deepEqual(
      index.files.map(f => [f.path, f.size]),
      [
        ['f', 4],
        ['d/x', 0],
      ],
    );
  });

  test('hostile and broken layers are refused like apply refuses them', async () => {
    await assert.rejects(indexLayer(streamOf(await makeTar([{name: '../x', content: 'x'}]))), LayerEscapeError);
    await assert.rejects(indexLayer(streamOf(await makeTar([{name: 'l', type: 'link', linkname: '../../x'}]))), LayerEscapeError);
    await assert.rejects(indexLayer(streamOf(await makeTar([{name: 'd/.wh.', content: ''}]))), UnsafeLayerError);
    await assert.rejects(indexLayer(streamOf(Buffer.from('this is not a tar file at all'.repeat(40)))), CorruptLayerError);
  });

  test('diffId: true gives the same diffID the writer reported', async () => {
    const out = collector();
    const entries: LayerEntry[] = [{path: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('x')}];
    const written = await writeLayer(entries, out.stream);
    const index = await indexLayer(streamOf(out.bytes()), {diffId: true});
    assert.equal(index.diffId, written.diffId);
    assert.equal((await indexLayer(streamOf(out.bytes()))).diffId, undefined);
  });

  test('serializeIndex round-trips and is smaller than plain JSON', async () => {
    const files = Array.from({length: 200}, (_, i) => ({name: `dir${i % 7}/file-${i}`, content: `content ${i}`}));
    const index = await indexLayer(
      streamOf(await makeTar([...files, {name: 'l', type: 'symlink', linkname: 't'}, {name: 'x/.wh.y', content: ''}])),
      {diffId: true},
    );
    const text = serializeIndex(index);
    assert.deepEqual(deserializeIndex(text), index);
    assert.ok(text.length < JSON.stringify(index).length * 0.7, `${text.length} vs ${JSON.stringify(index).length}`);
    assert.throws(() => deserializeIndex('{"v":99}'), CorruptLayerError);
    assert.throws(() => deserializeIndex('nope'), CorruptLayerError);
  });

  test('an index cached in the first format (one array per record) still reads the same', async () => {
    const index = await indexLayer(streamOf(await makeTar([{name: 'd/', type: 'dir'}, {name: 'd/f', content: 'f'}, {name: 'l', type: 'symlink', linkname: 'd/f'}])));
    const v1 = JSON.stringify({
      v: 1,
      diffId: index.diffId,
      tarSize: index.tarSize,
      whiteouts: index.whiteouts,
      opaques: index.opaques,
      files: index.files.map(record => {
        const row: unknown[] = [record.path, {dir: 'd', file: 'f', symlink: 'l'}[record.type as 'dir'], record.size, record.mode, record.uid, record.gid];
        if (record.digest) row.push(record.digest.slice('sha256:'.length));
        else if (record.linkname !== undefined) row.push(record.linkname);
        return row;
      }),
    });
    assert.deepEqual(deserializeIndex(v1), index);
    assert.deepEqual(deserializeIndex(serializeIndex(index)), index);
    const columns = JSON.parse(serializeIndex(index));
    columns.sizes.pop();
    assert.throws(() => deserializeIndex(JSON.stringify(columns)), CorruptLayerError);
  });

  test('readLayerFile returns one file\'s content, truncated at maxBytes', async () => {
    const tar = await makeTar([{name: 'a', content: 'first'}, {name: 'b', content: 'b'.repeat(100)}, {name: 'a', content: 'second'}]);
    const a = await readLayerFile(streamOf(tar), 'a');
    assert.equal(a?.content.toString(), 'second');
    const b = await readLayerFile(streamOf(tar), 'b', {maxBytes: 10});
    assert.deepEqual([b?.content.toString(), b?.truncated, b?.record.size], ['b'.repeat(10), true, 100]);
    assert.equal(await readLayerFile(streamOf(tar), 'missing'), null);
  });
});
