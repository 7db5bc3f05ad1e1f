import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {
  computeWaste,
  diffLayer,
  indexLayer,
  layerTree,
  mergeLayers,
  writeLayer,
  type FileRecord,
  type LayerEntry,
  type LayerIndex,
  type TreeNode,
} from '../../engine/layer/index.js';
import {collector, streamOf, file, dir, whiteout} from './helpers.js';

/** A layer index built the real way: entries -> writeLayer -> indexLayer. */
async function layer(...entries: LayerEntry[]): Promise<LayerIndex> {
  const out = collector();
  await writeLayer(entries, out.stream);
  return indexLayer(streamOf(out.bytes()));
}
const paths = (records: FileRecord[]) => records.map(record => record.path).sort();

describe('mergeLayers', () => {
  test('later layers overwrite, whiteouts delete, opaque folders hide lower children', async () => {
    const base = await layer(dir('etc'), file('etc/a', 'a'), dir('etc/d'), file('etc/d/x', 'x'), dir('opt'), file('opt/old', 'o'), file('f', 'f'));
    const top = await layer(
      dir('etc'),
      file('etc/a', 'A!'),
      whiteout('etc/.wh.d'),
      dir('opt'),
      whiteout('opt/.wh..wh..opq'),
      file('opt/new', 'n'),
      dir('f'),
      file('f/inside', 'i'),
    );
    const merged = mergeLayers([base, top]);
    assert.deepEqual([...merged.keys()], ['etc', 'etc/a', 'f', 'f/inside', 'opt', 'opt/new']);
    assert.equal(merged.get('etc/a')!.size, 2);
    assert.equal(merged.get('f')!.type, 'dir');
  });

  test('a file replacing a folder drops everything below it', async () => {
    const merged = mergeLayers([await layer(dir('d'), file('d/x', 'x'), file('d/y', 'y')), await layer(file('d', 'now a file'))]);
    assert.deepEqual([...merged.keys()], ['d']);
  });
});

describe('diffLayer', () => {
  test('sorts a layer\'s paths into added, modified and removed', async () => {
    const base = await layer(dir('app'), file('app/keep', 'k'), file('app/edit', 'v1'), file('app/chmod', 'c'), dir('cache'), file('cache/a', 'a'), file('cache/b', 'b'));
    const top = await layer(
      dir('app'),
      file('app/edit', 'v2'),
      file('app/chmod', 'c', {mode: 0o600}),
      file('app/keep', 'k'),
      file('app/new', 'n'),
      whiteout('.wh.cache'),
    );
    const diff = diffLayer(top, [base]);
    assert.deepEqual(paths(diff.added), ['app/new']);
    assert.deepEqual(paths(diff.modified), ['app/chmod', 'app/edit']);
    assert.deepEqual(paths(diff.removed), ['cache', 'cache/a', 'cache/b']);
  });

  test('a path whited out and written again in one layer is modified, not removed', async () => {
    const base = await layer(dir('d'), file('d/x', 'old'), file('d/y', 'y'));
    const top = await layer(dir('d'), whiteout('d/.wh..wh..opq'), file('d/x', 'new'));
    const diff = diffLayer(top, [base]);
    assert.deepEqual(paths(diff.added), []);
    assert.deepEqual(paths(diff.modified), ['d/x']);
    assert.deepEqual(paths(diff.removed), ['d/y']);
  });

  test('the first layer only adds, and a whiteout of nothing removes nothing', async () => {
    const diff = diffLayer(await layer(file('a', 'a'), whiteout('.wh.ghost')), []);
    assert.deepEqual([paths(diff.added), diff.modified, diff.removed], [['a'], [], []]);
  });
});

describe('layerTree', () => {
  const statuses = (node: TreeNode, out: Record<string, string> = {}) => {
    if (node.path !== '') out[node.path] = `${node.status} ${node.size}`;
    for (const child of node.children ?? []) statuses(child, out);
    return out;
  };

  test('this layer only: what the layer wrote and removed, with statuses and folder sums', async () => {
    const base = await layer(dir('etc'), file('etc/hosts', '1234'), file('etc/gone', '12345'), file('etc/same', 'ss'));
    const top = await layer(dir('etc'), file('etc/hosts', '123456'), file('etc/same', 'ss'), whiteout('etc/.wh.gone'), file('srv/www/index.html', '<html>'));
    const tree = layerTree([base, top], 1, {aggregate: false});
    assert.deepEqual(statuses(tree), {
      etc: 'modified 8',
      'etc/gone': 'removed 5',
      'etc/hosts': 'modified 6',
      'etc/same': 'unchanged 2',
      srv: 'added 6',
      'srv/www': 'added 6',
      'srv/www/index.html': 'added 6',
    });
    assert.equal(tree.size, 14);
    assert.deepEqual(tree.children!.map(child => child.name), ['etc', 'srv']);
  });

  test('everything up to here: the whole filesystem with this layer\'s changes marked', async () => {
    const base = await layer(dir('etc'), file('etc/hosts', '1234'), file('etc/gone', '12345'), dir('usr'), file('usr/lib', 'lib'));
    const top = await layer(dir('etc'), file('etc/hosts', '123456'), whiteout('etc/.wh.gone'));
    const tree = layerTree([base, top], 1, {aggregate: true});
    assert.deepEqual(statuses(tree), {
      etc: 'modified 6',
      'etc/gone': 'removed 5',
      'etc/hosts': 'modified 6',
      usr: 'unchanged 3',
      'usr/lib': 'unchanged 3',
    });
    const first = layerTree([base, top], 0, {aggregate: true});
    assert.equal(first.children!.find(child => child.name === 'etc')!.status, 'added');
  });

  test('a removed folder keeps its removed children and their sizes', async () => {
    const base = await layer(dir('cache'), file('cache/a', 'aaa'), file('cache/b', 'bb'));
    const top = await layer(whiteout('.wh.cache'));
    const tree = layerTree([base, top], 1, {aggregate: false});
    assert.deepEqual(statuses(tree), {cache: 'removed 5', 'cache/a': 'removed 3', 'cache/b': 'removed 2'});
    assert.equal(tree.size, 0, 'removed bytes do not count towards what the layer holds');
  });

  test('a path whited out and written again shows once, as modified, and children come sorted', async () => {
    const base = await layer(dir('d'), file('d/x', 'old'), file('d/y', 'y'));
    const top: LayerIndex = {
      tarSize: 0,
      whiteouts: ['d/x'],
      opaques: [],
      // Out of order on purpose, as a foreign tar may be.
      files: [
        {path: 'd/z', type: 'file', size: 1, mode: 0o644, uid: 0, gid: 0},
        {path: 'd/x', type: 'file', size: 3, mode: 0o644, uid: 0, gid: 0, digest: 'sha256:new'},
        {path: 'd/a', type: 'file', size: 1, mode: 0o644, uid: 0, gid: 0},
      ],
    };
    const own = layerTree([base, top], 1, {aggregate: false});
    assert.deepEqual(statuses(own), {d: 'modified 5', 'd/a': 'added 1', 'd/x': 'modified 3', 'd/z': 'added 1'});
    const all = layerTree([base, top], 1, {aggregate: true});
    assert.deepEqual(all.children![0].children!.map(child => `${child.name} ${child.status}`), ['a added', 'x modified', 'y unchanged', 'z added']);
  });

  test('a 100,000-file layer gives its tree quickly', async () => {
    const files: FileRecord[] = [];
    for (let d = 0; d < 1000; d++) {
      files.push({path: `d${d}`, type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0});
      for (let f = 0; f < 100; f++) files.push({path: `d${d}/f${f}`, type: 'file', size: f, mode: 0o644, uid: 0, gid: 0, digest: `sha256:${d}-${f}`});
    }
    const index: LayerIndex = {tarSize: 0, files, whiteouts: [], opaques: []};
    const start = performance.now();
    const tree = layerTree([index], 0, {aggregate: true});
    const elapsed = performance.now() - start;
    assert.equal(tree.children!.length, 1000);
    assert.equal(tree.size, 1000 * 4950);
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
  });
});

describe('computeWaste', () => {
  test('a file written by three layers wastes two copies, not three (dive#684)', async () => {
    const report = computeWaste([
      {index: await layer(file('big', 'x'.repeat(100))), createdBy: 'COPY big /'},
      {index: await layer(file('big', 'y'.repeat(100))), createdBy: 'RUN touch'},
      {index: await layer(file('big', 'y'.repeat(100), {uid: 1})), createdBy: 'RUN chown 1 big'},
    ]);
    assert.equal(report.totalBytes, 300);
    assert.equal(report.wastedBytes, 200);
    assert.equal(report.efficiency, 100 / 300);
    assert.deepEqual(report.items, [
      {path: 'big', bytes: 200, count: 2, layers: [0, 1], createdBy: ['COPY big /', 'RUN touch'], hiddenBy: [1, 2]},
    ]);
  });

  test('deleted files and deleted folders waste every copy they had', async () => {
    const report = computeWaste([
      {index: await layer(dir('cache'), file('cache/a', 'a'.repeat(30)), file('cache/b', 'b'.repeat(20)), file('tmp.tar', 't'.repeat(50)), file('keep', 'k'.repeat(10)))},
      {index: await layer(whiteout('.wh.cache'), whiteout('.wh.tmp.tar')), createdBy: 'RUN rm -rf /cache /tmp.tar'},
    ]);
    assert.equal(report.totalBytes, 110);
    assert.equal(report.wastedBytes, 100);
    assert.deepEqual(
      report.items.map(item => [item.path, item.bytes, item.count, item.hiddenBy[0]]),
      [
        ['tmp.tar', 50, 1, 1],
        ['cache/a', 30, 1, 1],
        ['cache/b', 20, 1, 1],
      ],
    );
    assert.equal(report.efficiency, 10 / 110);
  });

  test('opaque folders and folder-to-file replacement make lower copies unreachable', async () => {
    const report = computeWaste([
      {index: await layer(dir('a'), file('a/x', 'xxxx'), dir('b'), file('b/y', 'yy'))},
      {index: await layer(dir('a'), whiteout('a/.wh..wh..opq'), file('a/z', 'z'), file('b', 'file'))},
    ]);
    assert.deepEqual(report.items.map(item => item.path), ['a/x', 'b/y']);
    assert.equal(report.wastedBytes, 6);
  });

  test('no waste gives efficiency 1, and baseLayers tells the image\'s own waste from the base\'s', async () => {
    assert.deepEqual(computeWaste([]), {totalBytes: 0, wastedBytes: 0, userWastedBytes: 0, efficiency: 1, items: []});
    const report = computeWaste(
      [
        {index: await layer(file('base-file', 'b'.repeat(10)))},
        {index: await layer(file('base-file', 'c'.repeat(10)), file('app', 'a'.repeat(5)))},
        {index: await layer(file('app', 'A'.repeat(5)))},
      ],
      {baseLayers: 2},
    );
    assert.equal(report.wastedBytes, 15);
    assert.equal(report.userWastedBytes, 5);
  });
});
