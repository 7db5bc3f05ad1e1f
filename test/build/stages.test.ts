import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {readFile, readdir} from 'node:fs/promises';
import {join} from 'node:path';
import {withBench} from './helpers.js';

async function blobCount(root: string): Promise<number> {
  return (await readdir(join(root, 'blobs', 'sha256'))).length;
}

describe('stages and failures', () => {
  test('--target builds only the stages the target needs', () =>
    withBench(async bench => {
      await bench.write('f.txt', 'f');
      await bench.write('Dockerfile', [
        'FROM base:latest AS deps',
        'COPY f.txt /deps.txt',
        'FROM base:latest AS broken',
        'COPY does-not-exist /x',
        'FROM deps AS app',
        'COPY f.txt /app.txt',
        'FROM broken',
        '',
      ].join('\n'));
      const {result, events} = await bench.build({target: 'app'});
      const started = events.find(event => event.type === 'build-started');
      assert.deepEqual(started && started.type === 'build-started' ? started.stages : [], ['deps', 'app']);
      const rootfs = await bench.rootfs(result.imageId);
      assert.equal(await readFile(join(rootfs, 'deps.txt'), 'utf8'), 'f');
      assert.equal(await readFile(join(rootfs, 'app.txt'), 'utf8'), 'f');
      const failed = await bench.fail();
      assert.match(failed.error.message, /not found/, 'the default target (last stage) needs the broken stage');

      const missing = await bench.fail({target: 'nope'});
      assert.equal(missing.error.code, 'ERR_BUILD_TARGET_NOT_FOUND');
      assert.match(missing.error.message, /target stage "nope" could not be found/);
    }));

  test('a broken Dockerfile fails with the line excerpt and writes nothing to the store', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY a\nRUNN echo hi\n');
      const indexBefore = await readFile(join(bench.root, 'index.json'), 'utf8');
      const blobsBefore = await blobCount(bench.root);
      const {error, events} = await bench.fail({tags: ['broken:latest']});
      assert.equal(error.code, 'ERR_DOCKERFILE_SYNTAX');
      assert.match(error.excerpt ?? '', />>> COPY a/);
      const failed = events.find(event => event.type === 'build-failed');
      assert.ok(failed && failed.type === 'build-failed' && failed.excerpt?.includes('Dockerfile:2'));
      assert.equal(await readFile(join(bench.root, 'index.json'), 'utf8'), indexBefore);
      assert.equal(await blobCount(bench.root), blobsBefore);
      assert.deepEqual(await bench.store.fsck(), []);
    }));

  test('a failing step leaves no tag and a store that fsck finds clean', () =>
    withBench(async bench => {
      await bench.write('ok.txt', 'ok');
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY ok.txt /ok\nCOPY missing.txt /missing\n');
      const {error, events} = await bench.fail({tags: ['app:latest']});
      assert.equal(error.code, 'ERR_BUILD_COPY_SOURCE');
      assert.match(error.excerpt ?? '', /Dockerfile:3/);
      const failed = events.find(event => event.type === 'build-failed');
      assert.ok(failed && failed.type === 'build-failed' && failed.step?.instruction === 'COPY missing.txt /missing');
      await assert.rejects(bench.store.resolveImage('app:latest'));
      assert.deepEqual(await bench.store.fsck(), []);
    }));

  test('a missing context folder is refused as docker refuses it', () =>
    withBench(async bench => {
      const {error} = await bench.fail({contextDir: bench.context + '-missing'});
      assert.equal(error.code, 'ERR_BUILD_CONTEXT');
      assert.match(error.message, /unable to prepare context: path ".*-missing" not found/);
    }));

  test('COPY --from a later stage or an unknown image is refused with a clear message', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY --from=nosuchimage /x /x\n');
      const unknown = await bench.fail();
      assert.equal(unknown.error.code, 'ERR_BUILD_BASE_NOT_FOUND');
      await bench.write('Dockerfile', 'FROM nosuchbase\n');
      const base = await bench.fail();
      assert.match(base.error.message, /nosuchbase/);
    }));
});
