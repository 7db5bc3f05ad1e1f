import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {lstat, mkdir, readdir, readFile, rm} from 'node:fs/promises';
import {join} from 'node:path';
import {chainIds} from '../../engine/image/index.js';
import {listInStack, lookupInStack, SnapshotDigestError, Snapshots} from '../../engine/snapshot/index.js';
import {probeRuntime, runIsolated} from '../../engine/runtime/index.js';
import {BlobNotFoundError} from '../../engine/store/index.js';
import {basePath} from '../helpers/base-image.js';
import {dirEntry, fileEntry, listTree, openBaseRootfs, putLayer, treeFingerprint, unprivilegedRun} from '../runtime/fixtures.js';
import type {BaseRootfs} from '../runtime/fixtures.js';

/** A command run on `dirs` sees the merged image: the files of the upper layers, not what they removed. */
async function assertRootfsSeenByRun(dirs: readonly string[], scratch: {upperDir: string; workDir: string}): Promise<void> {
  const lines: string[] = [];
  const result = await runIsolated({
    lowerDirs: [...dirs],
    ...scratch,
    env: [`PATH=${basePath}`],
    cwd: '/',
    network: 'none',
    argv: ['/bin/sh', '-c', 'ls /srv /srv/sub /opt /home; test -e /etc/os-release || echo no-os-release'],
    onOutput: line => lines.push(line),
  });
  assert.equal(result.exitCode, 0, lines.join('\n'));
  assert.deepEqual(lines, ['/home:', '', '/opt:', 'keep', '', '/srv:', 'c.txt', 'sub', '', '/srv/sub:', 'd.txt', 'no-os-release']);
}

const who = unprivilegedRun ? 'unprivileged' : process.getuid?.() === 0 ? 'root' : 'unprivileged';

describe(`snapshots as ${who}`, () => {
  let base: BaseRootfs;
  let diffIds: string[];

  before(async () => {
    base = await openBaseRootfs();
    // Layer 2 adds a tree; layer 3 deletes a file, marks /srv opaque (keeping one new file) and deletes a folder.
    const second = await putLayer(base.store, [
      dirEntry('srv'),
      fileEntry('srv/a.txt', 'a'),
      dirEntry('srv/sub'),
      fileEntry('srv/sub/b.txt', 'b'),
      dirEntry('opt'),
      fileEntry('opt/keep', 'keep'),
      fileEntry('opt/drop', 'drop'),
    ]);
    const third = await putLayer(base.store, [
      dirEntry('etc'),
      fileEntry('etc/.wh.os-release', ''),
      dirEntry('srv'),
      fileEntry('srv/.wh..wh..opq', ''),
      fileEntry('srv/c.txt', 'c'),
      dirEntry('srv/sub'),
      fileEntry('srv/sub/d.txt', 'd'),
      fileEntry('opt/.wh.drop', ''),
      fileEntry('home/.wh.app', ''),
    ]);
    diffIds = [...base.diffIds, second, third];
  });
  after(async () => {
    await base?.cleanup();
  });

  test('ensure extracts one folder per layer, keyed by chain ID, with a record of what it holds', async () => {
    const dirs = await base.snapshots.ensure(diffIds);
    const chains = chainIds(diffIds);
    assert.deepEqual(dirs, chains.map(chain => join(base.root, 'store', 'snapshots', chain.slice(7), 'diff')));
    const meta = JSON.parse(await readFile(join(dirs[2]!, '..', 'meta.json'), 'utf8'));
    assert.deepEqual(meta, {chainId: chains[2], diffId: diffIds[2], parent: chains[1]});
    assert.deepEqual(await listTree(dirs[1]!), ['d opt', 'f opt/drop', 'f opt/keep', 'd srv', 'f srv/a.txt', 'd srv/sub', 'f srv/sub/b.txt']);
    const listed = (await base.snapshots.list()).map(info => info.chainId).sort();
    assert.deepEqual(listed, [...chains].sort());
    const names = await readdir(base.snapshots.root);
    assert.ok(!names.some(name => name.startsWith('.tmp-')), 'no temporary folder is left');
  });

  test('whiteouts become overlay whiteouts and an opaque folder hides every lower entry but keeps its own', async () => {
    const dirs = await base.snapshots.ensure(diffIds);
    assert.deepEqual(await listTree(dirs[2]!), [
      'd etc',
      'c0 etc/os-release',
      'd home',
      'c0 home/app',
      'd opt',
      'c0 opt/drop',
      'd srv',
      'c0 srv/a.txt',
      'f srv/c.txt',
      'd srv/sub',
      'c0 srv/sub/b.txt',
      'f srv/sub/d.txt',
    ]);
    assert.deepEqual(await listInStack(dirs, 'srv'), ['c.txt', 'sub']);
    assert.deepEqual(await listInStack(dirs, 'srv/sub'), ['d.txt']);
    assert.deepEqual(await listInStack(dirs, 'opt'), ['keep']);
    assert.equal(await lookupInStack(dirs, 'etc/os-release'), null);
    assert.equal(await lookupInStack(dirs, 'home/app'), null);
    assert.ok(await lookupInStack(dirs, 'etc/passwd'));
  });

  test('a second ensure reuses the snapshots without extracting again', async () => {
    const dirs = await base.snapshots.ensure(diffIds);
    const before = await Promise.all(dirs.map(dir => lstat(dir)));
    const again = await base.snapshots.ensure(diffIds);
    const after = await Promise.all(again.map(dir => lstat(dir)));
    assert.deepEqual(again, dirs);
    assert.deepEqual(after.map(stats => stats.ino), before.map(stats => stats.ino));
  });

  test('the merged copy equals the overlay view of the snapshots', async () => {
    const dirs = await base.snapshots.ensure(diffIds);
    const merged = await base.snapshots.mergedCopy(diffIds);
    assert.deepEqual((await readdir(merged)).sort(), await listInStack(dirs, ''));
    for (const folder of ['srv', 'srv/sub', 'opt', 'etc', 'home']) {
      assert.deepEqual((await readdir(join(merged, folder))).sort(), await listInStack(dirs, folder), folder);
    }
    assert.equal(await readFile(join(merged, 'srv/sub/d.txt'), 'utf8'), 'd');
    assert.equal(await base.snapshots.mergedCopy(diffIds), merged, 'the merged copy is kept');
  });

  test('an overlay mount of the snapshots shows the merged image', async t => {
    const probe = await probeRuntime();
    if (!probe.available) {
      t.skip(`runtime unavailable: ${probe.reason}`);
      return;
    }
    const dirs = await base.snapshots.ensure(diffIds);
    const before = await Promise.all(dirs.map(dir => treeFingerprint(dir)));
    await assertRootfsSeenByRun(dirs, await base.scratch());
    assert.deepEqual(await Promise.all(dirs.map(dir => treeFingerprint(dir))), before);
  });

  test('where whiteouts cannot be made, ensure gives one merged copy that runs the same', async t => {
    const fallback = new Snapshots(base.store, {layout: 'merged-copy'});
    const dirs = await fallback.ensure(diffIds);
    assert.equal(dirs.length, 1);
    assert.deepEqual(dirs, [await fallback.mergedCopy(diffIds)]);
    assert.ok(!(await listTree(dirs[0]!)).some(line => line.startsWith('c0 ')), 'no whiteout devices');
    const probe = await probeRuntime();
    if (!probe.available) {
      t.skip(`runtime unavailable: ${probe.reason}`);
      return;
    }
    await assertRootfsSeenByRun(dirs, await base.scratch());
  });

  test('a layer whose content does not match its diff ID leaves no snapshot', async () => {
    const real = await putLayer(base.store, [fileEntry('x', 'x')]);
    const claimed = `sha256:${'0'.repeat(64)}`;
    const stack = [...base.diffIds, claimed];
    await assert.rejects(base.snapshots.ensure(stack, [...base.diffIds, real]), SnapshotDigestError);
    const chain = chainIds(stack).at(-1)!;
    await assert.rejects(lstat(base.snapshots.pathOf(chain)), {code: 'ENOENT'});
    assert.ok(!(await readdir(base.snapshots.root)).some(name => name.startsWith('.tmp-')));
  });

  test('a layer whose blob is missing from the store fails with BlobNotFoundError and leaves no snapshot', async () => {
    const missing = `sha256:${'e'.repeat(64)}`;
    const stack = [...base.diffIds, missing];
    await assert.rejects(base.snapshots.ensure(stack), BlobNotFoundError);
    await assert.rejects(lstat(base.snapshots.pathOf(chainIds(stack).at(-1)!)), {code: 'ENOENT'});
    assert.ok(!(await readdir(base.snapshots.root)).some(name => name.startsWith('.tmp-')));
  });

  test('an interrupted extraction is never taken for a snapshot and is cleaned up', async () => {
    const store = base.store;
    const fresh = new Snapshots(store);
    const leftover = join(fresh.root, '.tmp-999999999-deadbeef');
    const seeded = join(fresh.root, '.tmp-seed-999999999-deadbeef');
    const live = join(fresh.root, `.tmp-${process.pid}-cafe`);
    for (const folder of [leftover, seeded, live]) await mkdir(join(folder, 'diff'), {recursive: true});
    const layer = await putLayer(store, [fileEntry('interrupted', 'x')]);
    const stack = [...base.diffIds, layer];
    assert.ok(!(await fresh.list()).some(info => info.diffId === layer));
    await fresh.ensure(stack);
    await assert.rejects(lstat(leftover), {code: 'ENOENT'});
    await assert.rejects(lstat(seeded), {code: 'ENOENT'});
    assert.ok(await lstat(live), 'a folder of a live process is left alone');
    await rm(live, {recursive: true, force: true});
    assert.ok((await fresh.list()).some(info => info.diffId === layer));
  });

  test('prune removes the snapshots and merged copies of chains nothing keeps, and only those', async () => {
    const layer = await putLayer(base.store, [fileEntry('prunable', 'x')]);
    const stack = [...base.diffIds, layer];
    const chains = chainIds(stack);
    const dirs = await base.snapshots.ensure(stack);
    await base.snapshots.mergedCopy(stack);
    const keep = (await base.snapshots.list()).map(info => info.chainId).filter(chain => chain !== chains[1]);
    const removed = await base.snapshots.prune(keep);
    assert.deepEqual(removed, [chains[1]]);
    await assert.rejects(lstat(dirs[1]!), {code: 'ENOENT'});
    assert.ok(await lstat(dirs[0]!), 'a kept snapshot stays');
    assert.deepEqual((await base.snapshots.list()).map(info => info.chainId).sort(), [...keep].sort());
    assert.ok(!(await readdir(base.snapshots.root)).some(name => name.startsWith('.tmp-')));
  });

  test('remove deletes a snapshot and its merged copy', async () => {
    const layer = await putLayer(base.store, [fileEntry('removable', 'x')]);
    const stack = [...base.diffIds, layer];
    const dirs = await base.snapshots.ensure(stack);
    const merged = await base.snapshots.mergedCopy(stack);
    const chain = chainIds(stack).at(-1)!;
    await base.snapshots.remove(chain);
    await assert.rejects(lstat(dirs.at(-1)!), {code: 'ENOENT'});
    await assert.rejects(lstat(merged), {code: 'ENOENT'});
    assert.ok(await lstat(dirs[0]!), 'the parent snapshot stays');
    await rm(join(base.snapshots.root, 'never-there'), {force: true});
  });
});
