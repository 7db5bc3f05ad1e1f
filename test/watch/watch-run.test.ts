/**
 * Watch mode over a Dockerfile with RUN steps, on a store holding the offline base image.
 */
import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {probeRuntime} from '../../engine/runtime/index.js';
import {Snapshots} from '../../engine/snapshot/snapshots.js';
import {lookupInStack} from '../../engine/snapshot/stack.js';
import {readFile, rm} from 'node:fs/promises';
import {join} from 'node:path';
import {rerun, withWatchBench, type WatchBench} from './helpers.js';
import {build} from '../../engine/build/build.js';
import {Store} from '../../engine/store/index.js';
import {baseImage} from '../helpers/base-image.js';

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

  test('rebuilt COPY layers equal a fresh build, and the RUN after them sees exactly the new files', () =>
    withWatchBench(async bench => {
      const listing = ['FROM base:latest', 'WORKDIR /app', 'COPY src/ ./src/', 'RUN ls -R src > listing.txt && cat src/main.txt src/lib/util.txt > out.txt', ''].join('\n');
      await bench.write('Dockerfile', listing);
      await bench.write('src/main.txt', 'main one\n');
      await bench.write('src/lib/util.txt', 'util one\n');
      for (let index = 0; index < 40; index++) await bench.write(`src/data/part${index}.bin`, Buffer.alloc(50_000 + index, index));
      bench.start({debounceMs: 200});
      await bench.waitFor('rebuilt');
      // Each into a new store: no earlier layer, record or snapshot to reuse, so the COPY layer is written afresh.
      // Layers: the base, WORKDIR, COPY, RUN.
      const freshCopyLayer = async (tag: string) => {
        const freshStore = await Store.open(join(bench.dir, `fresh-${tag}`));
        await baseImage(freshStore);
        await build({store: freshStore, contextDir: bench.context, tags: ['fresh:latest']});
        return (await freshStore.resolveImage('fresh:latest')).config.rootfs.diff_ids[2];
      };
      // An edit in place (the earlier snapshot keeps every name: the RUN starts on the seed's view), then a
      // removal and an addition (it does not: the RUN starts on the linked snapshot).
      const edits: [string, () => Promise<void>, string, string][] = [
        ['edit', () => bench.write('src/main.txt', 'main two\n'), 'main two\nutil one\n', 'main.txt'],
        ['remove and add', async () => {
          await rm(join(bench.context, 'src/lib/util.txt'));
          await bench.write('src/lib/other.txt', 'other\n');
          await bench.write('src/lib/util.txt', 'util two\n');
          await rm(join(bench.context, 'src/data/part7.bin'));
        }, 'main two\nutil two\n', 'other.txt'],
      ];
      for (const [name, edit, out, listed] of edits) {
        const mark = bench.events.length;
        await edit();
        const rebuilt = await bench.waitFor('rebuilt', {from: mark});
        assert.deepEqual(rerun(rebuilt), ['COPY src/ ./src/', 'RUN ls -R src > listing.txt && cat src/main.txt src/lib/util.txt > out.txt'], name);
        const image = await bench.store.resolveImage(rebuilt.imageId);
        assert.equal(image.config.rootfs.diff_ids[2], await freshCopyLayer(String(mark)), `${name}: the COPY layer is the one a fresh build makes`);
        assert.equal(await fileInImage(bench, rebuilt.imageId, 'app/out.txt'), out, `${name}: the RUN read the new files`);
        const seen = await fileInImage(bench, rebuilt.imageId, 'app/listing.txt');
        assert.ok(seen.includes(listed), `${name}: the RUN listed ${listed}`);
        if (name === 'remove and add') assert.ok(!seen.includes('part7.bin'), 'the RUN did not see the removed file');
      }
      assert.deepEqual(await bench.store.fsck(), [], 'fsck finds the store clean');
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
