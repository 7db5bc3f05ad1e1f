import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {lstat, mkdir, readFile, readlink, readdir, rm, stat, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {gzipSync} from 'node:zlib';
import {
  applyLayer,
  CorruptLayerError,
  isPrivileged,
  LayerEscapeError,
  LayerLimitError,
  UnsafeLayerError,
  writeLayer,
  type LayerEntry,
} from '../../engine/layer/index.js';
import {collector, makeTar, sandbox, snapshotTree, streamOf, type RawEntry} from './helpers.js';

const execFileAsync = promisify(execFile);

async function applyRaw(entries: RawEntry[], root: string, options = {}) {
  return applyLayer(streamOf(await makeTar(entries)), root, options);
}

/** Runs `body` in a sandbox and always checks that nothing outside the target changed. */
async function inSandbox(body: (box: Awaited<ReturnType<typeof sandbox>>) => Promise<void>) {
  const box = await sandbox();
  try {
    await body(box);
    await box.assertOutsideUntouched();
  } finally {
    await box.cleanup();
  }
}

async function exists(path: string) {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

describe('applyLayer', () => {
  test('unpacks files, folders, symlinks and hardlinks with their modes, owners and times', () =>
    inSandbox(async ({root}) => {
      const entries: LayerEntry[] = [
        {path: 'etc', type: 'dir', mode: 0o750, uid: 0, gid: 0, mtime: new Date('2020-01-02T03:04:05Z')},
        {path: 'etc/motd', type: 'file', mode: 0o640, uid: 1000, gid: 1001, content: Buffer.from('hi\n'), mtime: new Date('2021-01-01Z')},
        {path: 'etc/link', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: 'motd'},
        {path: 'etc/hard', type: 'hardlink', mode: 0o640, uid: 1000, gid: 1001, linkname: 'etc/motd'},
      ];
      const out = collector();
      const written = await writeLayer(entries, out.stream);
      const result = await applyLayer(streamOf(out.bytes()), root);
      assert.equal(result.entries, 4);
      assert.equal(result.bytes, 3);
      assert.equal(result.diffId, written.diffId);
      assert.equal(await readFile(join(root, 'etc/motd'), 'utf8'), 'hi\n');
      const motd = await stat(join(root, 'etc/motd'));
      assert.equal(motd.mode & 0o7777, 0o640);
      if (process.getuid?.() === 0) assert.deepEqual([motd.uid, motd.gid], [1000, 1001]);
      assert.equal(motd.mtime.toISOString(), '2021-01-01T00:00:00.000Z');
      assert.equal(motd.nlink, 2);
      assert.equal(await readlink(join(root, 'etc/link')), 'motd');
      const etc = await stat(join(root, 'etc'));
      assert.equal(etc.mode & 0o7777, 0o750);
      assert.equal(etc.mtime.toISOString(), '2020-01-02T03:04:05.000Z', 'folder time set after its children');
    }));

  test('reads gzip layers transparently', () =>
    inSandbox(async ({root}) => {
      const tar = gzipSync(await makeTar([{name: 'a.txt', content: 'zipped'}]));
      await applyLayer(streamOf(tar), root);
      assert.equal(await readFile(join(root, 'a.txt'), 'utf8'), 'zipped');
    }));

  describe('refuses names that escape', () => {
    for (const name of ['../x', '../../outside/secret', 'a/../../x', 'a/b/../../../outside/secret']) {
      test(`refuses ${name} and names the entry`, () =>
        inSandbox(async ({root}) => {
          await assert.rejects(applyRaw([{name: 'ok', content: 'x'}, {name, content: 'pwned'}], root), (error: unknown) => {
            assert.ok(error instanceof LayerEscapeError);
            assert.equal(error.code, 'ERR_LAYER_ESCAPE');
            assert.equal(error.entry, name);
            assert.match(error.message, /climbs above the root/);
            return true;
          });
        }));
    }

    test('refuses a NUL byte and a Windows drive name', () =>
      inSandbox(async ({root}) => {
        await assert.rejects(applyRaw([{name: 'a\0b', content: 'x', pax: {}}], root), LayerEscapeError);
        await assert.rejects(applyRaw([{name: 'C:\\Windows\\x', content: 'x'}], root), LayerEscapeError);
        await assert.rejects(applyRaw([{name: '\\\\server\\share\\x', content: 'x'}], root), LayerEscapeError);
      }));

    test('an absolute name lands inside the target', () =>
      inSandbox(async ({root, outside}) => {
        await applyRaw([{name: `${outside}/secret`, content: 'pwned'}, {name: './rel', content: 'r'}], root);
        assert.equal(await readFile(join(root, outside, 'secret'), 'utf8'), 'pwned');
        assert.equal(await readFile(join(root, 'rel'), 'utf8'), 'r');
      }));

    test('a hardlink to ../out is refused', () =>
      inSandbox(async ({root}) => {
        await assert.rejects(applyRaw([{name: 'l', type: 'link', linkname: '../outside/secret'}], root), LayerEscapeError);
      }));

    test('a PAX path record is checked like a header name', () =>
      inSandbox(async ({root}) => {
        await assert.rejects(applyRaw([{name: '../../outside/secret', content: 'pwned', pax: {comment: 'x'}}], root), LayerEscapeError);
      }));
  });

  describe('never writes through a symlink', () => {
    test('a symlink to an absolute host folder is followed inside the target', () =>
      inSandbox(async ({root, outside}) => {
        // The shape of "a -> /etc, then a/passwd": the file must land at root/<outside>/secret.
        await applyRaw([{name: 'a', type: 'symlink', linkname: outside}, {name: 'a/secret', content: 'pwned'}], root);
        assert.equal(await readFile(join(root, outside, 'secret'), 'utf8'), 'pwned');
        assert.equal(await readlink(join(root, 'a')), outside, 'the symlink is stored verbatim');
      }));

    test('a relative symlink climbing out is clamped at the root', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'up', type: 'symlink', linkname: '../../../..'}, {name: 'up/outside/secret', content: 'pwned'}], root);
        assert.equal(await readFile(join(root, 'outside/secret'), 'utf8'), 'pwned');
      }));

    test('a symlink chain through several links stays inside', () =>
      inSandbox(async ({root, base}) => {
        await applyRaw(
          [
            {name: 'a', type: 'symlink', linkname: 'b/c'},
            {name: 'b', type: 'symlink', linkname: '/'},
            {name: 'c', type: 'symlink', linkname: `${base}`},
            {name: 'a/outside/secret', content: 'pwned'},
          ],
          root,
        );
        assert.equal(await readFile(join(root, base, 'outside/secret'), 'utf8'), 'pwned');
      }));

    test('a symlink loop is refused', () =>
      inSandbox(async ({root}) => {
        await assert.rejects(
          applyRaw([{name: 'a', type: 'symlink', linkname: 'b'}, {name: 'b', type: 'symlink', linkname: 'a'}, {name: 'a/x', content: 'x'}], root),
          UnsafeLayerError,
        );
      }));

    test('a file replaces a symlink at the same path instead of writing through it', () =>
      inSandbox(async ({root, outside}) => {
        await applyRaw([{name: 'f', type: 'symlink', linkname: join(outside, 'secret')}, {name: 'f', content: 'mine'}], root);
        assert.equal((await lstat(join(root, 'f'))).isFile(), true);
        assert.equal(await readFile(join(root, 'f'), 'utf8'), 'mine');
      }));

    test('a symlink replaces a file at the same path', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'f', content: 'mine'}, {name: 'f', type: 'symlink', linkname: '/etc/passwd'}], root);
        assert.equal(await readlink(join(root, 'f')), '/etc/passwd');
      }));

    test('a symlink planted by a lower layer is replaced, not written through', () =>
      inSandbox(async ({root, outside}) => {
        await applyRaw([{name: 'f', type: 'symlink', linkname: join(outside, 'secret')}], root);
        await applyRaw([{name: 'f', content: 'mine', mode: 0o600}], root);
        assert.equal(await readFile(join(root, 'f'), 'utf8'), 'mine');
      }));

    test('a folder replaced by a symlink in the same layer does not get its mode applied through the link', () =>
      inSandbox(async ({root, outside}) => {
        // containerd CVE-2021-32760: the final chmod pass followed a symlink to a host path.
        await applyRaw(
          [
            {name: 'd', type: 'dir', mode: 0o777},
            {name: 'd', type: 'symlink', linkname: outside},
          ],
          root,
        );
        assert.equal(await readlink(join(root, 'd')), outside);
      }));

    test('a "." symlink cannot replace the target', () =>
      inSandbox(async ({root, outside}) => {
        // umoci CVE-2021-29136: a symlink named "." replaced the rootfs.
        await applyRaw([{name: '.', type: 'symlink', linkname: outside}, {name: './secret', content: 'pwned'}], root);
        assert.equal((await lstat(root)).isDirectory(), true);
        assert.equal(await readFile(join(root, 'secret'), 'utf8'), 'pwned');
      }));
  });

  describe('hardlinks', () => {
    test('a hardlink to a folder is refused', () =>
      inSandbox(async ({root}) => {
        await assert.rejects(applyRaw([{name: 'd', type: 'dir'}, {name: 'l', type: 'link', linkname: 'd'}], root), (error: unknown) => {
          assert.ok(error instanceof UnsafeLayerError);
          assert.match(error.message, /points at a directory/);
          return true;
        });
      }));

    test('a hardlink to a missing target is refused', () =>
      inSandbox(async ({root}) => {
        await assert.rejects(applyRaw([{name: 'l', type: 'link', linkname: 'nothing'}], root), UnsafeLayerError);
      }));

    test('a hardlink through a symlink to the host resolves inside the target', () =>
      inSandbox(async ({root, outside}) => {
        await applyRaw([{name: 'a', type: 'symlink', linkname: outside}, {name: 'l', type: 'link', linkname: 'a/secret'}], root).then(
          () => assert.fail('linked a host file'),
          error => assert.ok(error instanceof UnsafeLayerError),
        );
      }));

    test('a hardlink to a symlink links the symlink itself', () =>
      inSandbox(async ({root, outside}) => {
        await applyRaw([{name: 's', type: 'symlink', linkname: join(outside, 'secret')}, {name: 'l', type: 'link', linkname: 's'}], root);
        assert.equal(await readlink(join(root, 'l')), join(outside, 'secret'));
      }));
  });

  describe('whiteouts', () => {
    test('a whiteout deletes the lower file and is itself hidden', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'a', content: 'x'}, {name: 'd/', type: 'dir'}, {name: 'd/x', content: 'x'}], root);
        await applyRaw([{name: '.wh.a', content: ''}, {name: '.wh.d', content: ''}, {name: '.wh.missing', content: ''}], root);
        assert.deepEqual(await readdir(root), []);
      }));

    test('a whiteout leaves a same-layer entry in place', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'a', content: 'new'}, {name: '.wh.a', content: ''}], root);
        assert.equal(await readFile(join(root, 'a'), 'utf8'), 'new');
      }));

    test('a bare .wh. and a whiteout of .. are errors', () =>
      inSandbox(async ({root}) => {
        await mkdir(join(root, 'd'));
        await assert.rejects(applyRaw([{name: 'd/.wh.', content: ''}], root), UnsafeLayerError);
        await assert.rejects(applyRaw([{name: 'd/.wh...', content: ''}], root), UnsafeLayerError);
        await assert.rejects(applyRaw([{name: 'd/.wh..', content: ''}], root), UnsafeLayerError);
        assert.equal(await exists(join(root, 'd')), true);
      }));

    test('opaque whiteout hides lower entries but keeps the directory', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'd/', type: 'dir', mode: 0o711}, {name: 'd/old', content: 'x'}, {name: 'd/sub/deep', content: 'x'}], root);
        await applyRaw([{name: 'd/', type: 'dir', mode: 0o755}, {name: 'd/.wh..wh..opq', content: ''}, {name: 'd/new', content: 'n'}], root);
        assert.deepEqual(await readdir(join(root, 'd')), ['new']);
        assert.equal((await stat(join(root, 'd'))).mode & 0o777, 0o755);
      }));

    test('an opaque marker after new children keeps those children', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'd/old', content: 'x'}, {name: 'd/keep/old', content: 'x'}], root);
        await applyRaw([{name: 'd/new', content: 'n'}, {name: 'd/keep/', type: 'dir'}, {name: 'd/keep/new', content: 'n'}, {name: 'd/.wh..wh..opq', content: ''}], root);
        assert.deepEqual((await readdir(join(root, 'd'))).sort(), ['keep', 'new']);
        assert.deepEqual(await readdir(join(root, 'd/keep')), ['new'], 'lower content is hidden recursively');
      }));

    test('a whiteout under a symlinked folder deletes inside the target only', () =>
      inSandbox(async ({root, outside}) => {
        await applyRaw([{name: 'a', type: 'symlink', linkname: outside}], root);
        await applyRaw([{name: 'a/.wh.secret', content: ''}, {name: 'a/.wh..wh..opq', content: ''}], root);
        assert.equal(await readlink(join(root, 'a')), outside);
      }));

    test('AUFS metadata entries are skipped', () =>
      inSandbox(async ({root}) => {
        const result = await applyRaw([{name: '.wh..wh.plnk/', type: 'dir'}, {name: '.wh..wh.aufs', content: ''}], root);
        assert.deepEqual(await readdir(root), []);
        assert.equal(result.skipped.length, 2);
      }));
  });

  describe('replacement across layers', () => {
    test('a file replaced by a folder, and a folder by a file', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'x', content: 'file'}, {name: 'y/', type: 'dir'}, {name: 'y/child', content: 'c'}], root);
        await applyRaw([{name: 'x/', type: 'dir'}, {name: 'x/inner', content: 'i'}, {name: 'y', content: 'now a file'}], root);
        assert.equal(await readFile(join(root, 'x/inner'), 'utf8'), 'i');
        assert.equal(await readFile(join(root, 'y'), 'utf8'), 'now a file');
      }));

    test('a folder over a folder keeps the lower children and takes the new attributes', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'd/', type: 'dir', mode: 0o700}, {name: 'd/old', content: 'o'}], root);
        await applyRaw([{name: 'd/', type: 'dir', mode: 0o751}], root);
        assert.deepEqual(await readdir(join(root, 'd')), ['old']);
        assert.equal((await stat(join(root, 'd'))).mode & 0o777, 0o751);
      }));

    test('duplicate entries: the last one wins', () =>
      inSandbox(async ({root}) => {
        await applyRaw([{name: 'f', content: 'first'}, {name: 'f', content: 'second', mode: 0o600}], root);
        assert.equal(await readFile(join(root, 'f'), 'utf8'), 'second');
        assert.equal((await stat(join(root, 'f'))).mode & 0o777, 0o600);
      }));
  });

  test('a read-only folder gets its children before its mode', () =>
    inSandbox(async ({root}) => {
      await applyRaw([{name: 'ro/', type: 'dir', mode: 0o555}, {name: 'ro/child', content: 'c'}, {name: 'ro/sub/', type: 'dir', mode: 0o500}, {name: 'ro/sub/x', content: 'x'}], root, {
        chown: false,
      });
      assert.equal(await readFile(join(root, 'ro/sub/x'), 'utf8'), 'x');
      assert.equal((await stat(join(root, 'ro'))).mode & 0o7777, 0o555);
      assert.equal((await stat(join(root, 'ro/sub'))).mode & 0o7777, 0o500);
    }));

  test('a PAX global header is not an entry and does not rename anything', () =>
    inSandbox(async ({root}) => {
      const result = await applyRaw([{globalPax: {comment: 'made by a test', mtime: '5'}}, {name: 'f', content: 'x'}], root);
      assert.deepEqual(await readdir(root), ['f']);
      assert.equal(result.entries, 1);
    }));

  test('a PAX global path record does not rename entries', () =>
    inSandbox(async ({root}) => {
      await applyRaw([{globalPax: {path: '../../outside/secret'}}, {name: 'f', content: 'mine', pax: {comment: 'x'}}, {name: 'g', content: 'g'}], root);
      assert.deepEqual((await readdir(root)).sort(), ['f', 'g']);
    }));

  describe('xattrs', () => {
    const getXattr = async (path: string, name: string) => {
      const script = `import os,sys\ntry: print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())\nexcept OSError: print('<none>')`;
      const {stdout} = await execFileAsync('python3', ['-c', script, path, name]);
      return stdout.trim();
    };
    const hasPython = () => execFileAsync('python3', ['--version']).then(() => true, () => false);

    test('PAX xattrs are applied, overlay ones never', async t => {
      if (!(await hasPython())) return t.skip('python3 not installed (used to read xattrs)');
      await inSandbox(async ({root}) => {
        const result = await applyRaw(
          [{name: 'f', content: 'x', pax: {'SCHILY.xattr.user.note': 'hello', 'SCHILY.xattr.trusted.overlay.opaque': 'y'}}],
          root,
        );
        const note = await getXattr(join(root, 'f'), 'user.note');
        if (note === '<none>') return t.skip('this filesystem does not keep user xattrs');
        assert.equal(note, 'hello');
        assert.equal(await getXattr(join(root, 'f'), 'trusted.overlay.opaque'), '<none>');
        assert.ok(result.skipped.some(skip => /trusted\.overlay\.opaque is never applied/.test(skip.reason)));
      });
    });

    test('xattrs are not written through a folder replaced by a symlink later in the layer', async t => {
      if (!(await hasPython())) return t.skip('python3 not installed (used to read xattrs)');
      await inSandbox(async ({root, outside}) => {
        const result = await applyRaw(
          [
            {name: 'a/', type: 'dir'},
            {name: 'a/secret', content: 'x', pax: {'SCHILY.xattr.user.pwn': '1'}},
            {name: 'a', type: 'symlink', linkname: outside},
          ],
          root,
        );
        assert.equal(await getXattr(join(outside, 'secret'), 'user.pwn'), '<none>');
        assert.ok(result.skipped.some(skip => skip.path === 'a/secret'));
      });
    });
  });

  test('unprivileged: setuid files are written and device nodes skipped without failing', () =>
    inSandbox(async ({root}) => {
      const result = await applyRaw(
        [
          {name: 'bin/su', content: 'su', mode: 0o4755},
          {name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666},
          {name: 'dev/sda', type: 'block', devmajor: 8, devminor: 0},
          {name: 'run/pipe', type: 'fifo', mode: 0o620},
        ],
        root,
        {privileged: false, chown: false},
      );
      assert.equal(await exists(join(root, 'dev/null')), false);
      assert.deepEqual(
        result.skipped.map(skip => skip.path),
        ['dev/null', 'dev/sda'],
      );
      assert.equal((await stat(join(root, 'bin/su'))).mode & 0o7777, 0o4755);
      const pipe = await lstat(join(root, 'run/pipe'));
      assert.equal(pipe.isFIFO(), true);
      assert.equal(pipe.mode & 0o777, 0o620);
    }));

  test('in a user namespace the defaults skip devices and tolerate owners that cannot be mapped', async t => {
    const probe = await execFileAsync('unshare', ['--user', '--map-root-user', 'true']).then(() => true, () => false);
    if (!probe) return t.skip('unprivileged user namespaces are not available');
    await inSandbox(async ({base, root}) => {
      const script = join(base, 'apply-in-userns.mts');
      const engine = new URL('../../engine/layer/index.ts', import.meta.url).pathname;
      const helpers = new URL('./helpers.ts', import.meta.url).pathname;
      await writeFile(
        script,
        `import {applyLayer, isPrivileged} from ${JSON.stringify(engine)};
import {makeTar, streamOf} from ${JSON.stringify(helpers)};
const tar = await makeTar([{name: 'dev/null', type: 'char', devmajor: 1, devminor: 3}, {name: 'f', content: 'x', uid: 4242}]);
const result = await applyLayer(streamOf(tar), process.argv[2]);
console.log(JSON.stringify({privileged: isPrivileged(), skipped: result.skipped.map(skip => skip.path)}));`,
      );
      const {stdout} = await execFileAsync('unshare', ['--user', '--map-root-user', process.execPath, '--import', 'tsx', script, root], {
        cwd: new URL('../..', import.meta.url).pathname,
      });
      await rm(script);
      assert.deepEqual(JSON.parse(stdout), {privileged: false, skipped: ['dev/null']});
      assert.equal(await readFile(join(root, 'f'), 'utf8'), 'x');
      assert.equal(await exists(join(root, 'dev/null')), false);
    });
  });

  test('stripSetuid drops setuid, setgid and sticky bits', () =>
    inSandbox(async ({root}) => {
      await applyRaw([{name: 'su', content: 'su', mode: 0o6755}, {name: 'tmp/', type: 'dir', mode: 0o1777}], root, {stripSetuid: true});
      assert.equal((await stat(join(root, 'su'))).mode & 0o7777, 0o755);
      assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o777);
    }));

  test('privileged: device nodes are created with their numbers', async t => {
    if (!isPrivileged()) return t.skip('needs root in the initial user namespace');
    await inSandbox(async ({root}) => {
      await applyRaw([{name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666}], root);
      const node = await lstat(join(root, 'dev/null'));
      assert.equal(node.isCharacterDevice(), true);
      assert.equal(node.rdev, (1 << 8) | 3);
      assert.equal(node.mode & 0o777, 0o666);
    });
  });

  describe('limits and corruption', () => {
    test('a gzip bomb stops at maxBytes', () =>
      inSandbox(async ({root}) => {
        const bomb = gzipSync(await makeTar([{name: 'zeros', content: Buffer.alloc(64 << 20)}]));
        assert.ok(bomb.length < 200_000);
        await assert.rejects(applyLayer(streamOf(bomb), root, {limits: {maxBytes: 1 << 20}}), LayerLimitError);
      }));

    test('maxEntries stops a layer with too many members', () =>
      inSandbox(async ({root}) => {
        const many = Array.from({length: 20}, (_, i) => ({name: `f${i}`, content: 'x'}));
        await assert.rejects(applyRaw(many, root, {limits: {maxEntries: 10}}), LayerLimitError);
      }));

    test('a corrupt header and a truncated archive are CorruptLayerError', () =>
      inSandbox(async ({root}) => {
        const tar = await makeTar([{name: 'f', content: 'x'.repeat(2000)}]);
        const broken = Buffer.from(tar);
        broken[0] ^= 0xff;
        await assert.rejects(applyLayer(streamOf(broken), root), CorruptLayerError);
        await assert.rejects(applyLayer(streamOf(tar.subarray(0, 1000)), root), CorruptLayerError);
        await assert.rejects(applyLayer(streamOf(gzipSync(tar).subarray(0, 40)), root), CorruptLayerError);
      }));
  });

  test('the host files named by hostile entries keep their content', () =>
    inSandbox(async ({root, outside}) => {
      await writeFile(join(root, 'placeholder'), 'p');
      await symlink(join(outside, 'secret'), join(root, 'planted'));
      await applyRaw([{name: 'planted', content: 'pwned'}], root);
      assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'original');
      assert.deepEqual(await snapshotTree(root), {placeholder: 'file 644 p', planted: 'file 644 pwned'});
    }));
});
