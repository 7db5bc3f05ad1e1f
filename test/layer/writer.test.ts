import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {link, mkdir, mkdtemp, rm, symlink, writeFile, chmod, readFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {gunzipSync} from 'node:zlib';
import {
  applyLayer,
  EMPTY_LAYER_DIFF_ID,
  entriesFromDirectory,
  indexLayer,
  LayerEntryError,
  writeGzipLayer,
  writeLayer,
  type LayerEntry,
} from '../../engine/layer/index.js';
import {collector, sha256, snapshotTree, streamOf, file, dir} from './helpers.js';

const run = promisify(execFile);

async function tarBytes(entries: LayerEntry[]) {
  const out = collector();
  const written = await writeLayer(entries, out.stream);
  return {...written, bytes: out.bytes()};
}

async function withTemp(body: (dir: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'strata-writer-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}


describe('writeLayer', () => {
  test('no entries give Go\'s 1024-zero-byte empty tar', async () => {
    const {diffId, size, bytes} = await tarBytes([]);
    assert.equal(diffId, EMPTY_LAYER_DIFF_ID);
    assert.equal(diffId, 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef');
    assert.equal(size, 1024);
    assert.ok(bytes.equals(Buffer.alloc(1024)));
  });

  test('the same entries in any order give the same bytes, and the diffID is their sha256', async () => {
    const entries = [
      dir('usr'),
      dir('usr/bin'),
      file('usr/bin/tool', '#!/bin/sh\n', {mode: 0o755, uid: 1000, gid: 1000}),
      {path: 'usr/bin/alias', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: 'tool'} as LayerEntry,
      file('usr/.wh.old', '', {mode: 0}),
    ];
    const a = await tarBytes(entries);
    const b = await tarBytes([...entries].reverse());
    assert.ok(a.bytes.equals(b.bytes));
    assert.equal(a.diffId, sha256(a.bytes));
    assert.equal(a.size, a.bytes.length);
  });

  test('entries are sorted with parents first and whiteouts before their siblings', async () => {
    const entries = [
      file('a/z', 'z'),
      file('a/-dash', 'd'),
      file('a/.wh.gone', ''),
      file('a/.wh..wh..opq', ''),
      dir('a'),
      file('a-b', 'x'),
      dir('a/b'),
      file('a/b/c', 'c'),
    ];
    const {bytes} = await tarBytes(entries);
    const index = await indexLayer(streamOf(bytes));
    assert.deepEqual(
      index.files.map(record => record.path),
      ['a', 'a/-dash', 'a/b', 'a/b/c', 'a/z', 'a-b'],
    );
    const names = listNames(bytes);
    assert.deepEqual(names, ['a/', 'a/.wh..wh..opq', 'a/.wh.gone', 'a/-dash', 'a/b/', 'a/b/c', 'a/z', 'a-b']);
  });

  test('numeric owners, empty user and group names, epoch mtime and a trailing slash on folders', async () => {
    const {bytes} = await tarBytes([dir('d', {uid: 5, gid: 6}), file('d/f', 'x', {mode: 0})]);
    const header = bytes.subarray(0, 512);
    assert.equal(header.subarray(0, 2).toString(), 'd/');
    assert.equal(header.subarray(265, 297).toString().replace(/\0+$/, ''), '', 'uname is empty');
    assert.equal(header.subarray(297, 329).toString().replace(/\0+$/, ''), '', 'gname is empty');
    const index = await indexLayer(streamOf(bytes));
    assert.deepEqual(
      index.files.map(({path, mode, uid, gid}) => ({path, mode, uid, gid})),
      [
        {path: 'd', mode: 0o755, uid: 5, gid: 6},
        {path: 'd/f', mode: 0, uid: 0, gid: 0},
      ],
      'a zero mode survives (tar-stream would default it)',
    );
  });

  test('long and non-ASCII names, long link targets, big ids and xattrs round-trip through PAX', async () => {
    const long = `${'deep/'.repeat(40)}file-ü.txt`;
    const target = `/${'t'.repeat(150)}`;
    const entries: LayerEntry[] = [
      file(long, 'content', {uid: 3_000_000, gid: 4_000_000, mtime: new Date('2100-01-01Z'), xattrs: {'user.note': 'hello'}}),
      {path: 'link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: target},
    ];
    const {bytes} = await tarBytes(entries);
    const index = await indexLayer(streamOf(bytes));
    const record = index.files.find(r => r.path === long)!;
    assert.equal(record.uid, 3_000_000);
    assert.equal(record.gid, 4_000_000);
    assert.equal(index.files.find(r => r.path === 'link')!.linkname, target);
  });

  test('refuses entries that would make a broken or hostile layer', async () => {
    const bad: [LayerEntry[], RegExp][] = [
      [[file('../x', 'x')], /not a clean relative path/],
      [[file('/abs', 'x')], /not a clean relative path/],
      [[file('a/./b', 'x')], /not a clean relative path/],
      [[file('a/', 'x')], /not a clean relative path/],
      [[file('x', 'a'), file('x', 'b')], /appears twice/],
      [[file('d/.wh.', '')], /bare whiteout/],
      [[file('d/.wh.x', 'not empty')], /not an empty file/],
      [[file('.wh..wh.plnk', '')], /AUFS/],
      [[{path: 'h', type: 'hardlink', mode: 0, uid: 0, gid: 0, linkname: '../out'}], /hardlink whose target/],
      [[{path: 'h', type: 'hardlink', mode: 0, uid: 0, gid: 0, linkname: 'h'}], /cycle|itself/],
      [[dir('d'), {path: 'h', type: 'hardlink', mode: 0, uid: 0, gid: 0, linkname: 'd'}], /hardlink to dir/],
      [[{path: 's', type: 'symlink', mode: 0, uid: 0, gid: 0}], /without a target/],
      [[file('x', 'x', {uid: -1})], /owner id/],
    ];
    for (const [entries, message] of bad) {
      const out = collector();
      await assert.rejects(writeLayer(entries, out.stream), (error: unknown) => {
        assert.ok(error instanceof LayerEntryError, `${entries[entries.length - 1].path}: ${error}`);
        assert.match(error.message, message);
        return true;
      });
      assert.equal(out.bytes().length, 0, 'nothing is written for a refused layer');
    }
  });

  test('a hardlink sorted before its target becomes the file and the target links to it', async () => {
    const {bytes} = await tarBytes([
      file('z/original', 'shared'),
      {path: 'a/link', type: 'hardlink', mode: 0o644, uid: 0, gid: 0, linkname: 'z/original'},
      {path: 'm/link2', type: 'hardlink', mode: 0o644, uid: 0, gid: 0, linkname: 'a/link'},
    ]);
    const index = await indexLayer(streamOf(bytes));
    const byPath = Object.fromEntries(index.files.map(r => [r.path, r]));
    assert.equal(byPath['a/link'].type, 'file');
    assert.equal(byPath['a/link'].digest, sha256('shared'));
    assert.deepEqual([byPath['m/link2'].type, byPath['m/link2'].linkname], ['hardlink', 'a/link']);
    assert.deepEqual([byPath['z/original'].type, byPath['z/original'].linkname], ['hardlink', 'a/link']);
  });

  test('streams file contents from disk; a big file that changed size is an error, a small one is written as it is now', () =>
    withTemp(async tmp => {
      const source = join(tmp, 'big');
      await writeFile(source, Buffer.alloc(3 << 20, 7));
      const {bytes} = await tarBytes([{path: 'big', type: 'file', mode: 0o644, uid: 0, gid: 0, sourcePath: source}]);
      const index = await indexLayer(streamOf(bytes));
      assert.equal(index.files[0].size, 3 << 20);
      assert.equal(index.files[0].digest, sha256(Buffer.alloc(3 << 20, 7)));
      const out = collector();
      await assert.rejects(
        writeLayer([{path: 'big', type: 'file', mode: 0o644, uid: 0, gid: 0, sourcePath: source, size: (3 << 20) + 10}], out.stream),
        /changed size/,
      );
      const small = join(tmp, 'small');
      await writeFile(small, 'twelve bytes');
      // A small file that changed size since it was listed is written as it is now, never half old, half new.
      for (const size of [11, 13]) {
        const out = collector();
        await writeLayer([{path: 'small', type: 'file', mode: 0o644, uid: 0, gid: 0, sourcePath: small, size}], out.stream);
        const written = await indexLayer(streamOf(out.bytes()));
        assert.equal(written.files[0].size, 12);
        assert.equal(written.files[0].digest, sha256(Buffer.from('twelve bytes')));
      }
    }));

  test('writeGzipLayer gives the diffID of the tar and the digest of the gzip blob', async () => {
    const entries = [file('a', 'a'.repeat(10_000))];
    const plain = await tarBytes(entries);
    const out = collector();
    const written = await writeGzipLayer(entries, out.stream);
    assert.equal(written.diffId, plain.diffId);
    assert.equal(written.digest, sha256(out.bytes()));
    assert.equal(written.compressedSize, out.bytes().length);
    assert.ok(gunzipSync(out.bytes()).equals(plain.bytes));
  });

  test('GNU tar reads the layer and sees the same members', async t => {
    const probe = await run('tar', ['--version']).catch(() => null);
    if (!probe) return t.skip('tar not installed');
    await withTemp(async tmp => {
      const {bytes} = await tarBytes([
        dir('etc'),
        file('etc/hosts', '127.0.0.1 localhost\n', {uid: 1, gid: 2}),
        {path: 'etc/alias', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: 'hosts'},
        file(`${'x'.repeat(120)}/ü`, 'pax'),
      ]);
      await writeFile(join(tmp, 'layer.tar'), bytes);
      const {stdout} = await run('tar', ['-tvf', join(tmp, 'layer.tar'), '--numeric-owner']);
      const lines = stdout.trim().split('\n');
      assert.equal(lines.length, 4);
      assert.match(lines[0], /^drwxr-xr-x 0\/0 .* etc\/$/);
      assert.match(lines[1], /^lrwxrwxrwx 0\/0 .* etc\/alias -> hosts$/);
      assert.match(lines[2], /^-rw-r--r-- 1\/2 .* etc\/hosts$/);
      assert.match(lines[3], /x{120}\/ü$/);
    });
  });
});

test('GNU tar and applyLayer extract the same tree from a written layer', async t => {
  const probe = await run('tar', ['--version']).catch(() => null);
  if (!probe) return t.skip('tar not installed');
  await withTemp(async tmp => {
    const entries: LayerEntry[] = [
      dir('etc', {mode: 0o750}),
      file('etc/hosts', 'hosts', {mode: 0o640}),
      {path: 'etc/alias', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: 'hosts'},
      {path: 'etc/hard', type: 'hardlink', mode: 0o640, uid: 0, gid: 0, linkname: 'etc/hosts'},
      dir('usr/share/doc', {mode: 0o555}),
      file(`usr/share/doc/${'long-name-'.repeat(12)}.txt`, 'doc'),
      file('bin/su', 'su', {mode: 0o4755}),
    ];
    const out = collector();
    await writeLayer(entries, out.stream);
    await writeFile(join(tmp, 'layer.tar'), out.bytes());
    await mkdir(join(tmp, 'gnu'));
    await run('tar', ['-xpf', join(tmp, 'layer.tar'), '-C', join(tmp, 'gnu'), '--numeric-owner']);
    await applyLayer(streamOf(out.bytes()), join(tmp, 'ours'));
    assert.deepEqual(await snapshotTree(join(tmp, 'ours')), await snapshotTree(join(tmp, 'gnu')));
  });
});

describe('entriesFromDirectory', () => {
  test('walks a folder without following symlinks and turns shared inodes into hardlinks', () =>
    withTemp(async tmp => {
      const src = join(tmp, 'src');
      await mkdir(join(src, 'sub'), {recursive: true});
      await writeFile(join(src, 'sub/z-original'), 'data');
      await link(join(src, 'sub/z-original'), join(src, 'a-link'));
      await symlink('/etc', join(src, 'escape'));
      await writeFile(join(src, 'run.sh'), '#!/bin/sh');
      await chmod(join(src, 'run.sh'), 0o755);
      await writeFile(join(src, 'ignored.log'), 'x');
      const entries = await entriesFromDirectory(src, {
        prefix: 'app',
        uid: 1000,
        gid: 1000,
        include: rel => !rel.endsWith('.log'),
      });
      assert.deepEqual(
        entries.map(e => [e.path, e.type, e.linkname ?? '']),
        [
          ['app', 'dir', ''],
          ['app/a-link', 'file', ''],
          ['app/escape', 'symlink', '/etc'],
          ['app/run.sh', 'file', ''],
          ['app/sub', 'dir', ''],
          ['app/sub/z-original', 'hardlink', 'app/a-link'],
        ],
      );
      assert.ok(entries.every(e => e.uid === 1000 && e.gid === 1000));
      assert.equal(entries.find(e => e.path === 'app/run.sh')!.mode, 0o755);
      const out = collector();
      await writeLayer(entries, out.stream);
      const index = await indexLayer(streamOf(out.bytes()));
      assert.equal(index.files.find(r => r.path === 'app/a-link')!.digest, sha256('data'));
      assert.equal(await readFile(join(src, 'sub/z-original'), 'utf8'), 'data', 'the source is untouched');
    }));

  test('the mode callback and a fixed mtime make a reproducible layer', () =>
    withTemp(async tmp => {
      await writeFile(join(tmp, 'f'), 'x');
      const options = {mode: (e: LayerEntry) => (e.type === 'dir' ? 0o755 : 0o600), mtime: new Date(0)};
      const first = await tarBytes(await entriesFromDirectory(tmp, options));
      await writeFile(join(tmp, 'f'), 'x'); // new mtime, same content
      const second = await tarBytes(await entriesFromDirectory(tmp, options));
      assert.equal(first.diffId, second.diffId);
    }));
});

/** Member names straight from the ustar headers (the tests' own minimal reader, for order checks). */
function listNames(bytes: Buffer): string[] {
  const names: string[] = [];
  for (let offset = 0; offset + 512 <= bytes.length; ) {
    const block = bytes.subarray(offset, offset + 512);
    if (block.every(b => b === 0)) break;
    const size = Number.parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
    const prefix = block.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const name = block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    if (block[156] !== 0x78) names.push(prefix ? `${prefix}/${name}` : name);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}
