/**
 * Watch mode over a Dockerfile with RUN steps, on a store holding the offline base image.
 */
import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {probeRuntime} from '../../engine/runtime/index.js';
import {Snapshots} from '../../engine/snapshot/snapshots.js';
import {lookupInStack} from '../../engine/snapshot/stack.js';
import {readFile} from 'node:fs/promises';
import {rerun, withWatchBench, type WatchBench} from './helpers.js';

const probe = await probeRuntime().catch(error => ({available: false, reason: (error as Error).message}));
const skip = (probe as {available?: boolean}).available === false ? `no Linux namespaces here: ${(probe as {reason?: string}).reason}` : false;

const dockerfile = [
  'FROM base:latest',
  'RUN echo prepared > /prepared.txt',
  'COPY src/ /app/src/',
  'RUN sh /app/src/check.sh && cat /app/src/main.txt > /app/out.txt',
  'CMD ["cat", "/app/out.txt"]',
  '',
].join('\n');

async function fileInImage(bench: WatchBench, imageId: string, path: string): Promise<string> {
  const image = await bench.store.resolveImage(imageId);
  const snapshots = new Snapshots({root: bench.root, content: bench.store.content});
  const lowers = await snapshots.ensure(image.config.rootfs.diff_ids, image.manifest.layers.map(layer => layer.digest));
  const found = await lookupInStack(lowers, path);
  assert.ok(found, `${path} exists in the image`);
  return readFile(found.hostPath, 'utf8');
}

describe('watch mode with RUN', {skip}, () => {
  test('an edit under COPY src/ re-runs that COPY and the RUN after it, never the RUN before', () =>
    withWatchBench(async bench => {
      await bench.write('Dockerfile', dockerfile);
      await bench.write('src/check.sh', 'exit 0\n');
      await bench.write('src/main.txt', 'version one\n');
      bench.start({debounceMs: 200});
      const first = await bench.waitFor('rebuilt');
      assert.equal(await fileInImage(bench, first.imageId, 'app/out.txt'), 'version one\n');
      const mark = bench.events.length;
      await bench.write('src/main.txt', 'version two\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rerun(rebuilt), ['COPY src/ /app/src/', 'RUN sh /app/src/check.sh && cat /app/src/main.txt > /app/out.txt']);
      assert.deepEqual(rebuilt.steps.map(step => step.reason), ['src/main.txt changed', 'previous step changed']);
      assert.deepEqual(bench.of('step-cached', mark).map(event => event.instruction), ['FROM base:latest', 'RUN echo prepared > /prepared.txt']);
      assert.equal(await fileInImage(bench, rebuilt.imageId, 'app/out.txt'), 'version two\n');
      assert.equal(await bench.tagged(), rebuilt.imageId);
    }, {base: true}));

  test('a RUN that fails keeps the previous image tagged, and the next good save recovers', () =>
    withWatchBench(async bench => {
      await bench.write('Dockerfile', dockerfile);
      await bench.write('src/check.sh', 'exit 0\n');
      await bench.write('src/main.txt', 'good\n');
      bench.start({debounceMs: 200});
      const good = await bench.waitFor('rebuilt');
      let mark = bench.events.length;
      await bench.write('src/check.sh', 'echo "check failed: missing semicolon" >&2\nexit 3\n');
      const failed = await bench.waitFor('rebuild-failed', {from: mark});
      assert.match(failed.error, /exit code: 3/);
      assert.equal(failed.step?.instruction, 'RUN sh /app/src/check.sh && cat /app/src/main.txt > /app/out.txt');
      assert.ok(failed.excerpt?.includes('RUN sh /app/src/check.sh'), 'the excerpt shows the failing RUN');
      assert.equal(failed.keptImageId, good.imageId);
      assert.equal(await bench.tagged(), good.imageId, 'the tag still names the good image');
      assert.ok(bench.of('step-output', mark).some(event => event.line.includes('check failed')), "the RUN's output is passed through");
      mark = bench.events.length;
      await bench.write('src/check.sh', 'exit 0\n');
      await bench.write('src/main.txt', 'fixed\n');
      const recovered = await bench.waitFor('rebuilt', {from: mark});
      assert.equal(await bench.tagged(), recovered.imageId);
      assert.equal(await fileInImage(bench, recovered.imageId, 'app/out.txt'), 'fixed\n');
    }, {base: true}));
});
