/**
 * RUN through runIsolated. test/build/run-rootless.test.ts runs this file again as an unprivileged user
 * (STRATA_TEST_UNPRIVILEGED=1), which proves the user-namespace path.
 */
import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {createReadStream} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {readLayerMembers} from '../../engine/layer/index.js';
import {probeRuntime} from '../../engine/runtime/index.js';
import {describePath, stepsOf, withBench, type Bench} from './helpers.js';

const unprivileged = process.env.STRATA_TEST_UNPRIVILEGED === '1';
const probe = await probeRuntime().catch(error => ({available: false, reason: (error as Error).message}));
const skip = (probe as {available?: boolean}).available === false ? `no Linux namespaces here: ${(probe as {reason?: string}).reason}` : false;

async function layerPaths(bench: Bench, imageId: string, index: number): Promise<string[]> {
  const image = await bench.store.resolveImage(imageId);
  const paths: string[] = [];
  await readLayerMembers(bench.store.content.openBlob(image.manifest.layers[index].digest), member => {
    paths.push(member.type === 'dir' ? `${member.path}/` : member.path);
  });
  return paths;
}

describe(`RUN (${unprivileged ? 'unprivileged, user namespace' : 'as root'})`, {skip}, () => {
  test('RUN sees ENV, ARG, WORKDIR and USER, and its changes become the layer', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', [
        'FROM base:latest',
        'ARG GREETING=hello',
        'ENV APP_MODE=test',
        'WORKDIR /srv/app',
        'RUN echo "$GREETING $APP_MODE $(pwd) $(id -u):$(id -g)" > /srv/app/root.txt',
        'USER app',
        'RUN ["/bin/sh", "-c", "id -u > /tmp/whoami; id -G >> /tmp/whoami"]',
        '',
      ].join('\n'));
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'srv/app/root.txt'), 'utf8'), 'hello test /srv/app 0:0\n');
      assert.equal(await readFile(join(rootfs, 'tmp/whoami'), 'utf8'), '1000\n1000 50\n', 'USER app with its groups from /etc/group');
      const image = await bench.store.resolveImage(result.imageId);
      const owners = new Map<string, [number, number]>();
      await readLayerMembers(bench.store.content.openBlob(image.manifest.layers.at(-1)!.digest), member => {
        owners.set(member.path, [member.uid, member.gid]);
      });
      assert.deepEqual(owners.get('tmp/whoami'), [1000, 1000], 'the file belongs to app inside the image');
      const config = await bench.config(result.imageId);
      assert.deepEqual(config.history!.filter(entry => !entry.empty_layer).slice(1).map(entry => entry.created_by), [
        'WORKDIR /srv/app',
        'RUN |1 GREETING=hello /bin/sh -c echo "$GREETING $APP_MODE $(pwd) $(id -u):$(id -g)" > /srv/app/root.txt # buildkit',
        'RUN |1 GREETING=hello /bin/sh -c id -u > /tmp/whoami; id -G >> /tmp/whoami # buildkit',
      ]);
    }));

  test('deleting a file makes a whiteout, and /proc, /dev and /etc/hosts stay out of the layer', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nRUN rm /etc/os-release && cat /etc/hosts > /hosts-copy && ls /proc/self > /dev/null\n');
      const {result} = await bench.build();
      const paths = await layerPaths(bench, result.imageId, 1);
      assert.ok(paths.includes('etc/.wh.os-release'), `whiteout present in ${paths.join(', ')}`);
      assert.ok(paths.includes('hosts-copy'));
      assert.ok(!paths.some(path => path.startsWith('proc/') && path !== 'proc/'), 'nothing under /proc');
      assert.ok(!paths.includes('etc/hosts') && !paths.includes('etc/resolv.conf') && !paths.includes('etc/hostname'));
      const rootfs = await bench.rootfs(result.imageId);
      await assert.rejects(readFile(join(rootfs, 'etc/os-release')), {code: 'ENOENT'});
      assert.ok((await readFile(join(rootfs, 'hosts-copy'), 'utf8')).includes('localhost'));
    }));

  test('in copy mode (no overlayfs) the change set is the same: new files, whiteouts, changed modes', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', [
        'FROM base:latest',
        'RUN mkdir -p /data/sub && echo one > /data/sub/file && chmod 700 /data',
        'RUN rm /etc/os-release && rm -r /data/sub && echo two > /data/new && chmod 0600 /etc/passwd',
        '',
      ].join('\n'));
      const {result} = await bench.build({runMode: 'copy'});
      const paths = await layerPaths(bench, result.imageId, 2);
      assert.ok(paths.includes('etc/.wh.os-release'), paths.join(', '));
      assert.ok(paths.includes('data/.wh.sub'));
      assert.ok(paths.includes('data/new'));
      assert.ok(paths.includes('etc/passwd'), 'a changed mode puts the file in the layer');
      assert.ok(!paths.includes('etc/group'), 'unchanged files stay out');
      const rootfs = await bench.rootfs(result.imageId);
      await assert.rejects(readFile(join(rootfs, 'data/sub/file')), {code: 'ENOENT'});
      assert.equal(await readFile(join(rootfs, 'data/new'), 'utf8'), 'two\n');
      assert.equal((await describePath(join(rootfs, 'data'))).mode, 0o700);
    }));

  test('cancelling a build kills the running step and tags nothing', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nRUN echo started; sleep 60\n');
      const controller = new AbortController();
      const {build} = await import('../../engine/build/build.js');
      const began = Date.now();
      const events: string[] = [];
      await assert.rejects(
        build({store: bench.store, contextDir: bench.context, tags: ['cancelled:latest']}, {
          signal: controller.signal,
          onEvent: event => {
            events.push(event.type);
            if (event.type === 'step-output') controller.abort();
          },
        }),
        {code: 'ERR_BUILD_CANCELLED'},
      );
      assert.ok(Date.now() - began < 30_000, 'the sleep was killed');
      assert.equal(events.at(-1), 'build-failed');
      await assert.rejects(bench.store.resolveImage('cancelled:latest'));
      assert.deepEqual(await bench.store.fsck(), []);
    }));

  test('a failing command stops the build with the step, its exit code and its last output lines', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nRUN echo before\nRUN echo line one; echo line two >&2; exit 3\nRUN echo never\n');
      const {error, events} = await bench.fail({tags: ['failing:latest']});
      assert.equal(error.code, 'ERR_BUILD_RUN_FAILED');
      assert.match(error.message, /exit code: 3/);
      assert.deepEqual((error as unknown as {tail: string[]}).tail, ['line one', 'line two']);
      assert.match(error.excerpt ?? '', />>> RUN echo line one/);
      const failed = events.find(event => event.type === 'build-failed');
      assert.ok(failed?.type === 'build-failed' && failed.step?.index === 3);
      assert.ok(!events.some(event => event.type === 'step-started' && event.instruction === 'RUN echo never'));
      await assert.rejects(bench.store.resolveImage('failing:latest'));
      assert.deepEqual(await bench.store.fsck(), []);
      // The successful step before it is cached.
      const again = await bench.fail();
      assert.equal(stepsOf(again.events)[1].cached, true);
    }));

  test('RUN heredocs run under the shell, or under their #! interpreter', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', [
        'FROM base:latest',
        'RUN <<EOF',
        'echo one > /heredoc.txt',
        'echo two >> /heredoc.txt',
        'EOF',
        'RUN <<EOF',
        '#!/bin/sh -e',
        'echo shebang > /shebang.txt',
        'EOF',
        '',
      ].join('\n'));
      const {result} = await bench.build();
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'heredoc.txt'), 'utf8'), 'one\ntwo\n');
      assert.equal(await readFile(join(rootfs, 'shebang.txt'), 'utf8'), 'shebang\n');
    }));

  test('--network none leaves only loopback', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nRUN cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " " > /ifaces\n');
      const {result} = await bench.build({network: 'none'});
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'ifaces'), 'utf8'), 'lo\n');
    }));

  test('a RUN misses when an ARG it can see changes, and undeclared proxy args change nothing', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nARG FLAVOR=plain\nRUN echo flavor > /flavor\n');
      await bench.build();
      const changed = await bench.build({buildArgs: {FLAVOR: 'spicy'}});
      assert.equal(stepsOf(changed.events).at(-1)!.reason, 'ARG FLAVOR changed');
      const proxied = await bench.build({buildArgs: {FLAVOR: 'spicy', HTTP_PROXY: 'http://proxy.invalid:3128'}});
      assert.ok(stepsOf(proxied.events).every(step => step.cached));
      const rebuilt = await bench.build({buildArgs: {FLAVOR: 'spicy'}});
      assert.ok(stepsOf(rebuilt.events).every(step => step.cached));
    }));

  test('after an edit, RUN sees the new content of the edited file and the old content of the others', () =>
    withBench(async bench => {
      await bench.write('src/a.txt', 'a1\n');
      await bench.write('src/b.txt', 'b1\n');
      await bench.write('src/c.sh', 'echo c\n', 0o644);
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY src/ /src/\nRUN cat /src/a.txt /src/b.txt > /joined && ls -l /src/c.sh | cut -c1-10 > /mode\n');
      await bench.build();
      await bench.write('src/a.txt', 'a2\n');
      const {chmod} = await import('node:fs/promises');
      await chmod(join(bench.context, 'src/c.sh'), 0o755);
      const {result, events} = await bench.build();
      assert.equal(stepsOf(events).at(-2)!.reason, '2 files changed under src/');
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'joined'), 'utf8'), 'a2\nb1\n');
      assert.equal(await readFile(join(rootfs, 'mode'), 'utf8'), '-rwxr-xr-x\n');
      assert.equal(await readFile(join(rootfs, 'src/b.txt'), 'utf8'), 'b1\n');
    }));

  test('RUN output is streamed as step-output events', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nRUN echo out; echo err >&2\n');
      const {events} = await bench.build();
      const output = events.filter(event => event.type === 'step-output').map(event => event.type === 'step-output' ? `${event.stream}:${event.line}` : '');
      assert.deepEqual(output.sort(), ['stderr:err', 'stdout:out']);
      const order = events.map(event => event.type);
      assert.deepEqual(order.filter(type => type !== 'step-output'), [
        'build-started', 'step-started', 'step-cached', 'step-done', 'step-started', 'step-miss', 'layer-committed', 'step-done', 'build-done',
      ]);
    }));
});

void createReadStream;
