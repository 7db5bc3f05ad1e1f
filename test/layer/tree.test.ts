import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {diffLayer, layerTree, type FileRecord, type LayerIndex, type TreeNode} from '../../engine/layer/index.js';

/** A small deterministic random source, so a failure names a seed that reproduces it. */
function random(seed: number): (below: number) => number {
  let state = seed >>> 0 || 1;
  return below => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % below;
  };
}

const names = ['a', 'b', 'c'];
const allPaths = names.flatMap(first => [first, ...names.flatMap(second => [`${first}/${second}`, ...names.map(third => `${first}/${second}/${third}`)])]);

/**
 * A layer of random files, folders and links over a tiny namespace, so layers collide often. As in any tar a
 * layer can apply, nothing is written below a non-folder of the same layer.
 */
function randomLayer(pick: (below: number) => number, withDeletes: boolean): LayerIndex {
  const files = new Map<string, FileRecord>();
  const count = 1 + pick(12);
  for (let i = 0; i < count; i++) {
    const path = allPaths[pick(allPaths.length)];
    const kind = pick(4);
    const record: FileRecord =
      kind === 0 ? {path, type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0}
      : kind === 1 ? {path, type: 'symlink', size: 0, mode: 0o777, uid: 0, gid: 0, linkname: 'a'}
      : {path, type: 'file', size: 1 + pick(3), mode: 0o644, uid: pick(2), gid: 0, digest: `sha256:${pick(2)}`};
    files.set(path, record);
  }
  const kept = [...files.values()].filter(record => ![...files.values()].some(other => other.type !== 'dir' && record.path.startsWith(`${other.path}/`)));
  const whiteouts = withDeletes ? Array.from({length: pick(3)}, () => allPaths[pick(allPaths.length)]) : [];
  const opaques = withDeletes && pick(4) === 0 ? [allPaths[pick(allPaths.length)]] : [];
  return {tarSize: 0, files: kept, whiteouts, opaques};
}

function nodesOf(node: TreeNode, out = new Map<string, TreeNode>()): Map<string, TreeNode> {
  if (node.path !== '') out.set(node.path, node);
  for (const child of node.children ?? []) nodesOf(child, out);
  return out;
}

describe('layerTree, this layer only', () => {
  test('agrees with diffLayer on every path a random layer writes or removes', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const pick = random(seed);
      const below = Array.from({length: 1 + pick(3)}, (_, position) => randomLayer(pick, position > 0));
      const top = randomLayer(pick, true);
      const tree = layerTree([...below, top], below.length, {aggregate: false});
      const diff = diffLayer(top, below);
      const nodes = nodesOf(tree);
      const where = `seed ${seed}`;
      for (const record of diff.added) assert.equal(nodes.get(record.path)?.status, 'added', `${where}: ${record.path} added`);
      for (const record of diff.modified) assert.equal(nodes.get(record.path)?.status, 'modified', `${where}: ${record.path} modified`);
      const written = new Set(top.files.map(record => record.path));
      const changed = new Set([...diff.added, ...diff.modified].map(record => record.path));
      for (const record of top.files) {
        if (changed.has(record.path)) continue;
        // A folder written again as it was still shows 'modified' when something below it changed.
        const status = nodes.get(record.path)?.status;
        if (record.type === 'dir' && status === 'modified') assert.ok(nodes.get(record.path)!.children!.some(child => child.status !== 'unchanged'), `${where}: ${record.path}`);
        else assert.equal(status, 'unchanged', `${where}: ${record.path} unchanged`);
      }
      const removed = new Set(diff.removed.map(record => record.path));
      for (const path of removed) {
        // What the layer put at or under a removed path is shown there instead (a file replaced by a folder).
        const replaced = [...written].some(other => other === path || other.startsWith(`${path}/`));
        if (!replaced) assert.equal(nodes.get(path)?.status, 'removed', `${where}: ${path} removed`);
        else assert.notEqual(nodes.get(path)?.status, 'removed', `${where}: ${path} replaced`);
      }
      // Nothing else is marked removed, except folders on the way to a removed path.
      for (const [path, node] of nodes) {
        if (node.status !== 'removed' || removed.has(path)) continue;
        assert.ok([...removed].some(gone => gone.startsWith(`${path}/`)), `${where}: ${path} marked removed`);
      }
      // Every node is something the layer wrote or removed, or a folder leading to one.
      for (const path of nodes.keys()) {
        assert.ok(written.has(path) || removed.has(path) || [...written, ...removed].some(other => other.startsWith(`${path}/`)), `${where}: ${path} shown`);
      }
    }
  });

  test('a layer written in any order gives the same tree, children sorted by name', () => {
    const files: FileRecord[] = [];
    for (const folder of ['b', 'a', 'c']) {
      files.push({path: folder, type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0});
      for (const name of ['z', 'x', 'y']) files.push({path: `${folder}/${name}`, type: 'file', size: 2, mode: 0o644, uid: 0, gid: 0, digest: 'sha256:1'});
    }
    const shuffled = [...files].reverse();
    const draw = (node: TreeNode): string => `${node.name}${node.children ? `(${node.children.map(draw).join(',')})` : ''}`;
    const ordered = layerTree([{tarSize: 0, files, whiteouts: [], opaques: []}], 0, {aggregate: false});
    const reversed = layerTree([{tarSize: 0, files: shuffled, whiteouts: [], opaques: []}], 0, {aggregate: false});
    assert.equal(draw(ordered), '(a(x,y,z),b(x,y,z),c(x,y,z))');
    assert.equal(draw(reversed), draw(ordered));
    assert.equal(ordered.size, 18);
  });

  test('nodes carry link targets, not the records they came from', () => {
    const tree = layerTree([{tarSize: 0, files: [{path: 'l', type: 'symlink', size: 0, mode: 0o777, uid: 0, gid: 0, linkname: '/etc/x'}], whiteouts: [], opaques: []}], 0, {aggregate: false});
    assert.deepEqual(tree.children, [{name: 'l', path: 'l', type: 'symlink', size: 0, status: 'added', linkname: '/etc/x'}]);
  });
});
