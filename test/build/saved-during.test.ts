/**
 * Saves that land while a build runs: a COPY whose source changes between the plan (whose checksum makes the
 * cache key) and the layer's write must not record bytes under another content's key; a RUN started early on a
 * COPY that then fails is stopped, not left to finish.
 */
import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {readdir, readFile, rm, utimes, writeFile} from 'node:fs/promises';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {build} from '../../engine/build/build.js';
import type {BuildEvent} from '../../engine/build/events.js';
import {probeRuntime} from '../../engine/runtime/index.js';
import {startLayerFiles} from '../../engine/layer/index.js';
import {withBench} from './helpers.js';

const probe = await probeRuntime().catch(() => ({available: false as const, reason: 'probe failed'}));

describe('saves during a build', () => {
  test('a COPY source saved while its layer is written fails the step and records nothing under the old content', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM scratch\nCOPY src/ /app/\n');
      await bench.write('src/a.txt', 'version one\n');
      await bench.write('src/b.txt', 'unchanged\n');
      const events: BuildEvent[] = [];
      // The plan is made (its checksums are the key) when the miss is reported; the file changes right after.
      const failed = build({store: bench.store, contextDir: bench.context, tags: ['app:1']}, {
        onEvent: event => {
          events.push(event);
          if (event.type === 'step-miss' && event.instruction.startsWith('COPY')) writeFileSync(join(bench.context, 'src/a.txt'), 'version two, longer\n');
        },
      });
      await assert.rejects(failed, /src\/a\.txt changed while it was being copied/);
      assert.ok(events.some(event => event.type === 'build-failed'));
      await assert.rejects(bench.store.resolveImage('app:1'), 'nothing is tagged');

      // Back to the content the failed build planned with: built afresh, holding that content.
      await writeFile(join(bench.context, 'src/a.txt'), 'version one\n');
      const again = await bench.build({tags: ['app:1']});
      assert.equal(again.events.some(event => event.type === 'step-cached' && event.instruction.startsWith('COPY')), false, 'no record of the failed step to hit');
      const rootfs = await bench.rootfs(again.result.imageId);
      assert.equal(await readFile(join(rootfs, 'app/a.txt'), 'utf8'), 'version one\n');
      assert.deepEqual(await bench.store.fsck(), []);
      assert.deepEqual((await readdir(join(bench.root, 'snapshots'))).filter(name => name.startsWith('.tmp')), [], 'no seed is left half made');
    }));

  test('a source only touched since it was listed (same bytes, new times) is no change, even when the layer is written afresh', () =>
    withBench(async bench => {
      // A first COPY whose change makes the second one write its layer from scratch (another parent).
      await bench.write('Dockerfile', 'FROM scratch\nCOPY first.txt /first.txt\nCOPY src/ /app/\n');
      await bench.write('first.txt', 'one\n');
      await bench.write('src/x.txt', 'x\n');
      await bench.write('src/y.txt', 'y\n');
      await bench.build({changedPaths: undefined});
      // As watch mode does: x.txt only touched (the watcher drops it: same content), first.txt edited.
      await utimes(join(bench.context, 'src/x.txt'), new Date(2030, 0, 1), new Date(2030, 0, 1));
      await writeFile(join(bench.context, 'first.txt'), 'two\n');
      const {build: warm} = await import('../../engine/build/build.js');
      const events: BuildEvent[] = [];
      const result = await warm({store: bench.store, contextDir: bench.context, changedPaths: ['first.txt']}, {onEvent: event => events.push(event)});
      assert.ok(result.imageId);
      assert.equal(events.filter(event => event.type === 'step-miss').length, 2, 'both COPY steps ran');
      const again = await warm({store: bench.store, contextDir: bench.context, changedPaths: []});
      assert.equal(again.imageId, result.imageId, 'and the next build is a hit, not a failure');
    }));

  test('a RUN started early on a COPY whose layer then fails is stopped at once', {timeout: 60_000, skip: probe.available ? false : `no namespaces: ${(probe as {reason?: string}).reason}`}, () =>
    withBench(async bench => {
      const marker = String(20000 + Math.floor(Math.random() * 9999));
      await bench.write('Dockerfile', ['FROM base:latest', 'COPY src/ /app/src/', `RUN sleep ${marker}`, ''].join('\n'));
      for (let index = 0; index < 20; index++) await bench.write(`src/m${index}.txt`, `module ${index}\n`);
      // A large file that stays as it is: the layer takes a while to write (its bytes are copied from the
      // earlier layer and hashed), while the seed's view (only the edited file) is ready at once, so the RUN
      // is running on it when the COPY fails.
      await bench.write('src/big.bin', Buffer.alloc(96 << 20, 7));
      await bench.write('src/edited.txt', 'one\n');
      // The first build records the COPY (so the next one splices it and starts its RUN early); its RUN is not
      // waited for: a RUN of `true` stands in.
      await bench.build({dockerfileText: ['FROM base:latest', 'COPY src/ /app/src/', 'RUN true', ''].join('\n'), dockerfile: join(bench.context, 'Dockerfile')});
      await bench.write('src/edited.txt', 'two\n');
      // As watch mode writes it: the layer on the worker, this thread free to start the RUN.
      assert.equal(await startLayerFiles(), true);
      const started = Date.now();
      const failing = build({store: bench.store, contextDir: bench.context, dockerfile: join(bench.context, 'Dockerfile'), dockerfileText: ['FROM base:latest', 'COPY src/ /app/src/', `RUN sleep ${marker}`, ''].join('\n')}, {
        onEvent: event => {
          // Saved again once planned: the COPY's layer fails its check, while the RUN may already run on it.
          if (event.type === 'step-miss' && event.instruction.startsWith('COPY')) writeFileSync(join(bench.context, 'src/edited.txt'), 'three, and longer\n');
        },
      });
      const sleeping = async (): Promise<string[]> => {
        const found: string[] = [];
        for (const pid of await readdir('/proc')) {
          if (!/^\d+$/.test(pid)) continue;
          const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          // The step's processes: its command, and the helpers that start it (their arguments name it).
          if (cmdline.includes(`sleep\0${marker}`) || cmdline.includes(`sleep ${marker}`)) found.push(pid);
        }
        return found;
      };
      // Watch for the RUN's process while the build goes on: it must have started early, for the point.
      let seen = false;
      let settled = false;
      void failing.catch(() => {}).finally(() => (settled = true));
      while (!settled) {
        if (!seen && (await sleeping()).length > 0) seen = true;
        await new Promise(resolve => setTimeout(resolve, 10));
      }
      await assert.rejects(failing, /src\/edited\.txt changed while it was being copied/);
      assert.ok(seen, 'the RUN had been started on the seed\'s view when the COPY failed');
      assert.ok(Date.now() - started < 15_000, `failed in ${Date.now() - started} ms, not after the RUN's sleep`);
      assert.deepEqual(await sleeping(), [], 'no process of the RUN is left');
      await rm(join(bench.context, 'src'), {recursive: true, force: true});
    }));
});
