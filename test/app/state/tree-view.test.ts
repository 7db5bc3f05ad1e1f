import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {findPath, flattenTree, hasPath, toggleFold, type TreeRow, type TreeViewOptions} from '../../../source/app/state/tree-view.js';
import {tree} from '../fixtures.js';

const options: TreeViewOptions = {collapsed: new Set(), hideUnchanged: false, sortBySize: false};
const sample = tree({
  etc: ['unchanged', {'hosts': ['unchanged', 10], 'passwd': ['modified', 200]}],
  app: {'big.bin': 5000, 'index.js': 30, lib: {'a.js': 1, 'b.js': 2}},
  tmp: ['unchanged', {'old.log': 'removed'}],
  usr: ['unchanged', {share: ['unchanged', {doc: ['unchanged', 7]}]}],
});

const names = (rows: Iterable<TreeRow>): string[] => [...rows].map(row => row.guide + row.node.name);
const paths = (rows: Iterable<TreeRow>): string[] => [...rows].map(row => row.node.path);

describe('file tree rows', () => {
  test('rows come in name order with tree guides, the root is not a row', () => {
    const rows = flattenTree(sample, options);
    assert.deepEqual(names(rows), [
      '|-- app', '|   |-- big.bin', '|   |-- index.js', '|   `-- lib', '|       |-- a.js', '|       `-- b.js',
      '|-- etc', '|   |-- hosts', '|   `-- passwd', '|-- tmp', '|   `-- old.log', '`-- usr', '    `-- share', '        `-- doc',
    ]);
    assert.equal([...rows].find(row => row.node.name === 'app')?.size, 5033);
  });

  test('hiding unchanged entries keeps the folders that lead to a change', () => {
    const rows = flattenTree(sample, {...options, hideUnchanged: true});
    assert.deepEqual(paths(rows), [
      '/app', '/app/big.bin', '/app/index.js', '/app/lib', '/app/lib/a.js', '/app/lib/b.js', '/etc', '/etc/passwd', '/tmp', '/tmp/old.log',
    ]);
  });

  test('sorting by size puts the biggest subtree first at every level', () => {
    const rows = flattenTree(sample, {...options, sortBySize: true});
    assert.equal(rows.at(0)?.node.path, '/app');
    assert.equal(rows.at(1)?.node.path, '/app/big.bin');
    assert.equal([...rows].find(row => row.depth === 0 && row.node.path !== '/app')?.node.path, '/etc');
  });

  test('folding and unfolding a folder gives the same rows as flattening again', () => {
    const rows = flattenTree(sample, options);
    const app = rows.indexOfPath('/app');
    const folded = toggleFold(rows, app, options);
    assert.ok(folded.collapsed.has('/app'));
    assert.deepEqual(paths(folded.rows), paths(flattenTree(sample, {...options, collapsed: folded.collapsed})));
    const unfolded = toggleFold(folded.rows, app, {...options, collapsed: folded.collapsed});
    assert.equal(unfolded.collapsed.size, 0);
    assert.deepEqual(names(unfolded.rows), names(rows));
    // A file is not a folder: nothing changes.
    assert.equal(toggleFold(rows, 1, options).rows, rows);
  });

  test('folding any folder, then a folder above it, then unfolding both draws the same guides as flattening again', () => {
    const rows = flattenTree(sample, options);
    for (let index = 0; index < rows.length; index++) {
      if (!rows.at(index)!.isDir) continue;
      const inner = toggleFold(rows, index, options);
      assert.deepEqual(names(inner.rows), names(flattenTree(sample, {...options, collapsed: inner.collapsed})));
      const parent = inner.rows.parent(index);
      const outer = parent >= 0 ? toggleFold(inner.rows, parent, {...options, collapsed: inner.collapsed}) : inner;
      assert.deepEqual(names(outer.rows), names(flattenTree(sample, {...options, collapsed: outer.collapsed})));
      const reopened = parent >= 0 ? toggleFold(outer.rows, parent, {...options, collapsed: outer.collapsed}) : outer;
      const again = toggleFold(reopened.rows, index, {...options, collapsed: reopened.collapsed});
      assert.equal(again.collapsed.size, 0);
      assert.deepEqual(names(again.rows), names(rows));
      // The rows after the folded folder keep their own folders: the guide of the last row is the same.
      assert.equal(again.rows.at(again.rows.length - 1)?.guide, rows.at(rows.length - 1)?.guide);
    }
  });

  test('a row is found by its path only when it is shown, and knows its folder\'s row', () => {
    const rows = flattenTree(sample, options);
    const all = [...rows];
    all.forEach((row, index) => {
      assert.equal(rows.indexOfPath(row.node.path), index);
      const folder = rows.parent(index);
      assert.equal(folder === -1 ? row.depth === 0 : all[folder].depth === row.depth - 1 && row.node.path.startsWith(`${all[folder].node.path}/`), true);
    });
    const folded = toggleFold(rows, rows.indexOfPath('/app'), options);
    assert.equal(folded.rows.indexOfPath('/app/lib/a.js'), -1, 'inside a folded folder');
    assert.equal(flattenTree(sample, {...options, hideUnchanged: true}).indexOfPath('/etc/hosts'), -1, 'an unchanged entry hidden');
    assert.equal(rows.at(rows.length), undefined);
    assert.equal(rows.at(-1), undefined);
  });

  test('finding a path searches folded folders too and wraps around', () => {
    const collapsed = new Set(['/app', '/app/lib']);
    assert.equal(findPath(sample, 'b.js', {...options, collapsed}), '/app/lib/b.js');
    assert.equal(findPath(sample, '.js', options, '/app/lib/b.js'), '/app/index.js');
    assert.equal(findPath(sample, 'PASSWD', options), '/etc/passwd');
    assert.equal(findPath(sample, 'nothing-here', options), undefined);
    // The query is text, not a pattern.
    assert.equal(findPath(sample, 'a.j*', options), undefined);
    assert.equal(findPath(sample, 'BIG.BIN', options), '/app/big.bin');
    assert.equal(hasPath(sample, '/usr/share/doc'), true);
    assert.equal(hasPath(sample, '/usr/share/do'), false);
  });

  test('a 100,000-file layer flattens in well under a second', () => {
    const dirs: Record<string, Record<string, number>> = {};
    for (let d = 0; d < 1000; d++) {
      const files: Record<string, number> = {};
      for (let f = 0; f < 100; f++) files[`file-${f}.txt`] = f;
      dirs[`dir-${d}`] = files;
    }
    const big = tree(dirs);
    const started = performance.now();
    const rows = flattenTree(big, options);
    const elapsed = performance.now() - started;
    assert.equal(rows.length, 101_000);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });
});
