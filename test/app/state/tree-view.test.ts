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

const names = (rows: readonly TreeRow[]): string[] => rows.map(row => row.guide + row.node.name);

describe('file tree rows', () => {
  test('rows come in name order with tree guides, the root is not a row', () => {
    const rows = flattenTree(sample, options);
    assert.deepEqual(names(rows), [
      '|-- app', '|   |-- big.bin', '|   |-- index.js', '|   `-- lib', '|       |-- a.js', '|       `-- b.js',
      '|-- etc', '|   |-- hosts', '|   `-- passwd', '|-- tmp', '|   `-- old.log', '`-- usr', '    `-- share', '        `-- doc',
    ]);
    assert.equal(rows.find(row => row.node.name === 'app')?.size, 5033);
  });

  test('hiding unchanged entries keeps the folders that lead to a change', () => {
    const rows = flattenTree(sample, {...options, hideUnchanged: true});
    assert.deepEqual(rows.map(row => row.node.path), [
      '/app', '/app/big.bin', '/app/index.js', '/app/lib', '/app/lib/a.js', '/app/lib/b.js', '/etc', '/etc/passwd', '/tmp', '/tmp/old.log',
    ]);
  });

  test('sorting by size puts the biggest subtree first at every level', () => {
    const rows = flattenTree(sample, {...options, sortBySize: true});
    assert.equal(rows[0].node.path, '/app');
    assert.equal(rows[1].node.path, '/app/big.bin');
    assert.equal(rows.find(row => row.depth === 0 && row.node.path !== '/app')?.node.path, '/etc');
  });

  test('folding and unfolding a folder gives the same rows as flattening again', () => {
    const rows = flattenTree(sample, options);
    const app = rows.findIndex(row => row.node.path === '/app');
    const folded = toggleFold(rows, app, options);
    assert.ok(folded.collapsed.has('/app'));
    assert.deepEqual(folded.rows.map(row => row.node.path), flattenTree(sample, {...options, collapsed: folded.collapsed}).map(row => row.node.path));
    const unfolded = toggleFold(folded.rows, app, {...options, collapsed: folded.collapsed});
    assert.equal(unfolded.collapsed.size, 0);
    assert.deepEqual(names(unfolded.rows), names(rows));
    // A file is not a folder: nothing changes.
    assert.equal(toggleFold(rows, 1, options).rows, rows);
  });

  test('finding a path searches folded folders too and wraps around', () => {
    const collapsed = new Set(['/app', '/app/lib']);
    assert.equal(findPath(sample, 'b.js', {...options, collapsed}), '/app/lib/b.js');
    assert.equal(findPath(sample, '.js', options, '/app/lib/b.js'), '/app/index.js');
    assert.equal(findPath(sample, 'PASSWD', options), '/etc/passwd');
    assert.equal(findPath(sample, 'nothing-here', options), undefined);
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
