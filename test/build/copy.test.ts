import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {createServer} from 'node:http';
import {execFileSync} from 'node:child_process';
import {mkdir, readFile, symlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {gzipSync} from 'node:zlib';
import {describePath, listTree, withBench} from './helpers.js';

describe('COPY and ADD', () => {
  test('a directory source copies its contents, files keep their mode and belong to root', () =>
    withBench(async bench => {
      await bench.write('src/app.sh', '#!/bin/sh\necho app\n', 0o755);
      await bench.write('src/lib/util.txt', 'util\n', 0o640);
      await bench.write('Dockerfile', 'FROM base:latest\nWORKDIR /app\nCOPY src/ ./src/\nCOPY src /flat\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.deepEqual(await describePath(join(rootfs, 'app/src/app.sh')), {type: 'file', mode: 0o755, uid: 0, gid: 0, content: '#!/bin/sh\necho app\n'});
      assert.deepEqual(await describePath(join(rootfs, 'app/src/lib/util.txt')), {type: 'file', mode: 0o640, uid: 0, gid: 0, content: 'util\n'});
      assert.deepEqual(await listTree(join(rootfs, 'flat')), ['app.sh', 'lib', 'lib/util.txt'], 'contents, not the folder itself');
    }));

  test('trailing slash on the destination decides between a file and a folder', () =>
    withBench(async bench => {
      await bench.write('a.txt', 'a\n');
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY a.txt /x\nCOPY a.txt /y/\nCOPY a.txt /tmp\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal((await describePath(join(rootfs, 'x'))).type, 'file');
      assert.equal(await readFile(join(rootfs, 'y/a.txt'), 'utf8'), 'a\n');
      assert.equal(await readFile(join(rootfs, 'tmp/a.txt'), 'utf8'), 'a\n', 'an existing folder receives the file');
      assert.equal((await describePath(join(rootfs, 'tmp'))).mode, 0o1777, 'the existing /tmp keeps its mode');
    }));

  test('wildcards follow filepath.Match and several sources need a folder destination', () =>
    withBench(async bench => {
      await bench.write('one.txt', '1');
      await bench.write('two.txt', '2');
      await bench.write('three.md', '3');
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY *.txt t?ree.* /dst/\nCOPY [\"one.txt\", \"two.txt\", \"/json/\"]\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.deepEqual(await listTree(join(rootfs, 'dst')), ['one.txt', 'three.md', 'two.txt']);
      assert.deepEqual(await listTree(join(rootfs, 'json')), ['one.txt', 'two.txt']);

      await bench.write('Dockerfile', 'FROM base:latest\nCOPY one.txt two.txt /dst\n');
      const {error} = await bench.fail();
      assert.match(error.message, /more than one source file, the destination must be a directory and end with a \//);
    }));

  test('--chown takes names from the image /etc/passwd and /etc/group, --chmod sets the mode', () =>
    withBench(async bench => {
      await bench.write('f.txt', 'f');
      await bench.write('d/g.txt', 'g');
      await bench.write('Dockerfile', [
        'FROM base:latest',
        'COPY --chown=app f.txt /by-name',
        'COPY --chown=app:staff f.txt /by-names',
        'COPY --chown=42 f.txt /by-id',
        'COPY --chown=7:8 --chmod=600 f.txt /numeric',
        'COPY --chown=app d /owned/',
        '',
      ].join('\n'));
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      const owner = async (path: string) => {
        const {uid, gid, mode} = await describePath(join(rootfs, path));
        return [uid, gid, mode];
      };
      assert.deepEqual(await owner('by-name'), [1000, 1000, 0o644]);
      assert.deepEqual(await owner('by-names'), [1000, 50, 0o644]);
      assert.deepEqual(await owner('by-id'), [42, 42, 0o644]);
      assert.deepEqual(await owner('numeric'), [7, 8, 0o600]);
      assert.deepEqual(await owner('owned'), [1000, 1000, 0o755], 'a created destination folder takes the --chown owner');
      assert.deepEqual(await owner('owned/g.txt'), [1000, 1000, 0o644]);

      await bench.write('Dockerfile', 'FROM base:latest\nCOPY --chown=nosuchuser f.txt /x\n');
      const {error} = await bench.fail();
      assert.match(error.message, /unknown user "nosuchuser"/);
    }));

  test('COPY --from takes files from an earlier stage, by name and by index, keeping their owner', () =>
    withBench(async bench => {
      await bench.write('f.txt', 'f');
      await bench.write('Dockerfile', [
        'FROM base:latest AS builder',
        'COPY --chown=app f.txt /out/f.txt',
        'FROM scratch',
        'COPY --from=builder /out /by-name',
        'COPY --from=0 /etc/passwd /by-index/passwd',
        'COPY --from=base:latest /etc/group /from-image/',
        '',
      ].join('\n'));
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.deepEqual(await listTree(rootfs), ['by-index', 'by-index/passwd', 'by-name', 'by-name/f.txt', 'from-image', 'from-image/group']);
      const copied = await describePath(join(rootfs, 'by-name/f.txt'));
      assert.deepEqual([copied.uid, copied.gid], [1000, 1000]);
    }));

  test('COPY <<EOF writes the heredoc body, with substitution unless the delimiter is quoted', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nARG NAME=world\nCOPY <<EOF /hello.txt\nhello $NAME\nEOF\nCOPY <<"EOF" /raw.txt\nhello $NAME\nEOF\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'hello.txt'), 'utf8'), 'hello world\n');
      assert.equal(await readFile(join(rootfs, 'raw.txt'), 'utf8'), 'hello $NAME\n');
      assert.equal((await describePath(join(rootfs, 'hello.txt'))).mode, 0o644);
    }));

  test('ADD extracts a local tar archive (plain, gzip, bzip2, xz) and copies other files as they are', () =>
    withBench(async bench => {
      const staging = join(bench.dir, 'staging');
      await mkdir(join(staging, 'pkg'), {recursive: true});
      await writeFile(join(staging, 'pkg/readme'), 'inside\n');
      execFileSync('tar', ['-cf', join(bench.context, 'plain.tar'), '-C', staging, 'pkg']);
      await writeFile(join(bench.context, 'archive.tgz'), gzipSync(await readFile(join(bench.context, 'plain.tar'))));
      let tools = ['plain', 'gzip'];
      try {
        execFileSync('sh', ['-c', `bzip2 -c ${join(bench.context, 'plain.tar')} > ${join(bench.context, 'a.tar.bz2')}`]);
        execFileSync('sh', ['-c', `xz -c ${join(bench.context, 'plain.tar')} > ${join(bench.context, 'a.tar.xz')}`]);
        tools = [...tools, 'bzip2', 'xz'];
      } catch {
        // bzip2/xz missing: those two are not checked.
      }
      await bench.write('notes.txt', 'just text\n');
      const lines = ['FROM base:latest', 'ADD plain.tar /plain/', 'ADD archive.tgz /gz', 'ADD notes.txt /notes.txt'];
      if (tools.includes('bzip2')) lines.push('ADD a.tar.bz2 /bz/', 'ADD a.tar.xz /xz/');
      await bench.write('Dockerfile', lines.join('\n') + '\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'plain/pkg/readme'), 'utf8'), 'inside\n');
      assert.equal(await readFile(join(rootfs, 'gz/pkg/readme'), 'utf8'), 'inside\n');
      assert.equal(await readFile(join(rootfs, 'notes.txt'), 'utf8'), 'just text\n');
      if (tools.includes('bzip2')) {
        assert.equal(await readFile(join(rootfs, 'bz/pkg/readme'), 'utf8'), 'inside\n');
        assert.equal(await readFile(join(rootfs, 'xz/pkg/readme'), 'utf8'), 'inside\n');
      }
    }));

  test('ADD of a URL downloads it with mode 0600, and a refused connection is a clear error', async () => {
    const server = createServer((request, response) => {
      if (request.url === '/files/data.bin') {
        response.writeHead(200, {'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT'});
        response.end('downloaded\n');
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as {port: number}).port;
    try {
      await withBench(async bench => {
        await bench.write('Dockerfile', `FROM base:latest\nADD http://127.0.0.1:${port}/files/data.bin /downloads/\n`);
        const {result} = await bench.build();
        const rootfs = await bench.rootfs(result.imageId);
        assert.deepEqual(await describePath(join(rootfs, 'downloads/data.bin')), {type: 'file', mode: 0o600, uid: 0, gid: 0, content: 'downloaded\n'});

        await bench.write('Dockerfile', `FROM base:latest\nADD http://127.0.0.1:${port}/missing /x\n`);
        const missing = await bench.fail();
        assert.match(missing.error.message, /server answered 404/);
      });
    } finally {
      await new Promise(resolve => server.close(resolve));
    }
    await withBench(async bench => {
      await bench.write('Dockerfile', `FROM base:latest\nADD http://127.0.0.1:${port}/files/data.bin /x\n`);
      const {error} = await bench.fail();
      assert.equal(error.code, 'ERR_BUILD_FETCH');
      assert.match(error.message, /ECONNREFUSED/);
    });
  });

  test('.dockerignore hides files from COPY, including an ignored Dockerfile', () =>
    withBench(async bench => {
      await bench.write('.dockerignore', 'secret.txt\nDockerfile\nlogs/\n!logs/keep.log\n');
      await bench.write('secret.txt', 'secret');
      await bench.write('public.txt', 'public');
      await bench.write('logs/a.log', 'a');
      await bench.write('logs/keep.log', 'keep');
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY . /ctx/\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.deepEqual(await listTree(join(rootfs, 'ctx')), ['.dockerignore', 'logs', 'logs/keep.log', 'public.txt']);

      await bench.write('Dockerfile', 'FROM base:latest\nCOPY secret.txt /\n');
      const secret = await bench.fail();
      assert.match(secret.error.message, /not found/);
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY Dockerfile /\n');
      const dockerfile = await bench.fail();
      assert.match(dockerfile.error.message, /not found/);
    }));

  test('a symlink in the context is copied as a symlink, and a source named through a symlink stays inside the context', () =>
    withBench(async bench => {
      await bench.write('real/data.txt', 'data');
      await mkdir(join(bench.context, 'links'));
      await symlink('/etc/passwd', join(bench.context, 'links/outside'));
      await symlink('../real', join(bench.context, 'links/inside'));
      await symlink('/etc', join(bench.context, 'etc-link'));
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY links /links/\nCOPY links/inside/data.txt /via-link.txt\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.deepEqual(await describePath(join(rootfs, 'links/outside')), {type: 'symlink', mode: 0o777, uid: 0, gid: 0, link: '/etc/passwd'});
      assert.equal(await readFile(join(rootfs, 'via-link.txt'), 'utf8'), 'data');

      // /etc inside the context does not exist: following etc-link must not reach the host's /etc.
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY etc-link/passwd /stolen\n');
      const {error} = await bench.fail();
      assert.match(error.message, /not found/);
    }));

  test('sources climbing out of the context are clamped to it', () =>
    withBench(async bench => {
      await bench.write('etc/passwd', 'context passwd\n');
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY ../../etc/passwd /copied\n');
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'copied'), 'utf8'), 'context passwd\n', 'the context file, never the host /etc/passwd');
    }));
});
