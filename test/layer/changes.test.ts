import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {chmod, cp, lchown, mkdir, mkdtemp, rm, symlink, utimes, writeFile, link} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {
  applyLayer,
  changesBetween,
  changesFromOverlayUpper,
  writeLayer,
  type LayerEntry,
} from '../../engine/layer/index.js';
import {collector, snapshotTree, streamOf} from './helpers.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

async function withTemp(body: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'strata-changes-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}

/** A small root filesystem with one of everything. */
async function makeLower(lower: string) {
  await mkdir(join(lower, 'etc/conf.d'), {recursive: true});
  await mkdir(join(lower, 'var/cache/apt'), {recursive: true});
  await mkdir(join(lower, 'usr/bin'), {recursive: true});
  await writeFile(join(lower, 'etc/hostname'), 'lower\n');
  await writeFile(join(lower, 'etc/same-size'), 'aaaa');
  await writeFile(join(lower, 'etc/conf.d/a.conf'), 'a');
  await writeFile(join(lower, 'etc/untouched'), 'u');
  await writeFile(join(lower, 'var/cache/apt/pkg.bin'), 'cache');
  await writeFile(join(lower, 'usr/bin/tool'), 'tool');
  await writeFile(join(lower, 'becomes-dir'), 'file');
  await mkdir(join(lower, 'becomes-file'));
  await writeFile(join(lower, 'becomes-file/child'), 'c');
  await writeFile(join(lower, 'becomes-link'), 'file');
  await symlink('hostname', join(lower, 'etc/alias'));
}

/** Applies `entries` onto a copy of `lower` and returns the resulting tree snapshot. */
async function applyOnto(lower: string, entries: LayerEntry[], scratch: string) {
  const target = join(scratch, 'applied');
  await cp(lower, target, {recursive: true, verbatimSymlinks: true});
  const out = collector();
  await writeLayer(entries, out.stream);
  await applyLayer(streamOf(out.bytes()), target);
  return snapshotTree(target);
}

const paths = (entries: LayerEntry[]) => entries.map(entry => entry.path);

describe('changesBetween', () => {
  test('a layer of the changes turns the lower tree into the upper tree', () =>
    withTemp(async tmp => {
      const lower = join(tmp, 'lower');
      const upper = join(tmp, 'upper');
      await makeLower(lower);
      await cp(lower, upper, {recursive: true, preserveTimestamps: true, verbatimSymlinks: true});
      await writeFile(join(upper, 'etc/hostname'), 'upper, longer\n');
      await writeFile(join(upper, 'etc/same-size'), 'bbbb');
      await utimes(join(upper, 'etc/same-size'), new Date(), new Date(Date.now() + 5000));
      await chmod(join(upper, 'usr/bin/tool'), 0o755);
      await rm(join(upper, 'etc/conf.d/a.conf'));
      await rm(join(upper, 'var/cache'), {recursive: true});
      await rm(join(upper, 'becomes-dir'));
      await mkdir(join(upper, 'becomes-dir'));
      await writeFile(join(upper, 'becomes-dir/inside'), 'i');
      await rm(join(upper, 'becomes-file'), {recursive: true});
      await writeFile(join(upper, 'becomes-file'), 'now a file');
      await rm(join(upper, 'becomes-link'));
      await symlink('/somewhere', join(upper, 'becomes-link'));
      await rm(join(upper, 'etc/alias'));
      await symlink('untouched', join(upper, 'etc/alias'));
      await mkdir(join(upper, 'new/deep'), {recursive: true});
      await writeFile(join(upper, 'new/deep/file'), 'n');
      await link(join(upper, 'new/deep/file'), join(upper, 'new/hardlink'));

      const entries = await changesBetween(lower, upper);
      assert.deepEqual(paths(entries).sort(), [
        'becomes-dir',
        'becomes-dir/inside',
        'becomes-file',
        'becomes-link',
        'etc',
        'etc/alias',
        'etc/conf.d',
        'etc/conf.d/.wh.a.conf',
        'etc/hostname',
        'etc/same-size',
        'new',
        'new/deep',
        'new/deep/file',
        'new/hardlink',
        'usr',
        'usr/bin',
        'usr/bin/tool',
        'var',
        'var/.wh.cache',
      ]);
      assert.ok(!paths(entries).includes('etc/untouched'), 'unchanged files are left out');
      const hardlinks = entries.filter(entry => entry.type === 'hardlink');
      assert.deepEqual(hardlinks.map(entry => [entry.path, entry.linkname]), [['new/hardlink', 'new/deep/file']]);
      assert.deepEqual(await applyOnto(lower, entries, tmp), await snapshotTree(upper));
    }));

  test('a same-size edit with the same mtime is found only with alwaysHash', () =>
    withTemp(async tmp => {
      const lower = join(tmp, 'lower');
      const upper = join(tmp, 'upper');
      await mkdir(lower);
      await writeFile(join(lower, 'f'), 'aaaa');
      await cp(lower, upper, {recursive: true, preserveTimestamps: true});
      await writeFile(join(upper, 'f'), 'bbbb');
      const when = new Date('2020-01-01Z');
      await utimes(join(lower, 'f'), when, when);
      await utimes(join(upper, 'f'), when, when);
      assert.deepEqual(paths(await changesBetween(lower, upper)), []);
      assert.deepEqual(paths(await changesBetween(lower, upper, {alwaysHash: true})), ['f']);
    }));

  test('an owner change is a change', async t => {
    if (!isRoot) return t.skip('chown needs root');
    await withTemp(async tmp => {
      const lower = join(tmp, 'lower');
      const upper = join(tmp, 'upper');
      await mkdir(lower);
      await writeFile(join(lower, 'f'), 'x');
      await cp(lower, upper, {recursive: true, preserveTimestamps: true});
      await lchown(join(upper, 'f'), 1234, 5678);
      const entries = await changesBetween(lower, upper);
      assert.deepEqual(entries.map(e => [e.path, e.uid, e.gid]), [['f', 1234, 5678]]);
      const mapped = await changesBetween(lower, upper, {mapOwner: (uid, gid) => ({uid: uid - 1000, gid: gid - 1000})});
      assert.deepEqual(mapped.map(e => [e.path, e.uid, e.gid]), [['f', 234, 4678]]);
    });
  });

  test('no lower tree means everything is added, and include filters paths', () =>
    withTemp(async tmp => {
      await mkdir(join(tmp, 'up/sub'), {recursive: true});
      await writeFile(join(tmp, 'up/sub/a'), 'a');
      await writeFile(join(tmp, 'up/skip.tmp'), 's');
      const entries = await changesBetween(null, join(tmp, 'up'), {include: rel => !rel.endsWith('.tmp'), mtime: new Date(0)});
      assert.deepEqual(paths(entries), ['sub', 'sub/a']);
      assert.ok(entries.every(entry => entry.mtime?.getTime() === 0));
    }));
});

describe('changesFromOverlayUpper', () => {
  test('an overlay upper dir becomes a layer that reproduces the merged view', async t => {
    if (!isRoot) return t.skip('mounting overlayfs needs root');
    await withTemp(async tmp => {
      const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map(name => join(tmp, name));
      await makeLower(lower);
      await Promise.all([upper, work, merged].map(dir => mkdir(dir)));
      const mounted = await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]).then(
        () => true,
        () => false,
      );
      if (!mounted) return t.skip('overlayfs mount not permitted here');
      let expected: Record<string, string>;
      try {
        await writeFile(join(merged, 'etc/hostname'), 'changed\n');
        await rm(join(merged, 'etc/conf.d/a.conf'));
        await rm(join(merged, 'var/cache'), {recursive: true});
        await rm(join(merged, 'becomes-file'), {recursive: true});
        await writeFile(join(merged, 'becomes-file'), 'file now');
        // Replaced wholesale: overlayfs marks the new folder opaque.
        await rm(join(merged, 'etc/conf.d'), {recursive: true});
        await mkdir(join(merged, 'etc/conf.d'));
        await writeFile(join(merged, 'etc/conf.d/b.conf'), 'b');
        await chmod(join(merged, 'usr/bin/tool'), 0o700);
        await mkdir(join(merged, 'opt/app'), {recursive: true});
        await writeFile(join(merged, 'opt/app/run'), 'run');
        expected = await snapshotTree(merged);
      } finally {
        await run('umount', [merged]);
      }
      const entries = await changesFromOverlayUpper(upper);
      const byPath = new Map(entries.map(entry => [entry.path, entry]));
      assert.ok(byPath.has('etc/conf.d/.wh..wh..opq'), 'the replaced folder carries an opaque marker');
      assert.ok(byPath.has('var/.wh.cache'));
      assert.ok(!byPath.has('etc/conf.d/.wh.a.conf'), 'inside an opaque folder no extra whiteout is needed');
      assert.ok(entries.every(entry => entry.type !== 'char'), 'whiteout devices never reach the layer');
      assert.deepEqual(await applyOnto(lower, entries, tmp), expected);
    });
  });

  test('whiteout devices and opaque folders are read from a hand-made upper dir', async t => {
    if (!isRoot) return t.skip('mknod and trusted xattrs need root');
    await withTemp(async tmp => {
      const upper = join(tmp, 'upper');
      await mkdir(join(upper, 'd'), {recursive: true});
      await run('mknod', [join(upper, 'gone'), 'c', '0', '0']);
      const tagged = await run('python3', ['-c', `import os; os.setxattr(${JSON.stringify(join(upper, 'd'))}, 'trusted.overlay.opaque', b'y')`]).then(
        () => true,
        () => false,
      );
      if (!tagged) return t.skip('cannot set trusted xattrs here');
      const entries = await changesFromOverlayUpper(upper);
      assert.deepEqual(paths(entries), ['.wh.gone', 'd', 'd/.wh..wh..opq']);
    });
  });
});
