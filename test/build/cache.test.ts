import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {chmod, readdir, readFile, rm, utimes, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {cacheRoots, describeFileChanges, explainMiss, pruneCache} from '../../engine/build/cache.js';
import {stepsOf, withBench} from './helpers.js';

const dockerfile = [
  'FROM base:latest',
  'ARG VERSION=1',
  'WORKDIR /app',
  'COPY package.txt ./',
  'COPY src/ ./src/',
  'LABEL version=$VERSION',
  '',
].join('\n');

async function project(bench: {write(path: string, content: string): Promise<void>}): Promise<void> {
  await bench.write('Dockerfile', dockerfile);
  await bench.write('package.txt', 'deps\n');
  await bench.write('src/app.js', 'console.log("app")\n');
  await bench.write('src/lib/util.js', 'export const x = 1\n');
}

describe('build cache', () => {
  test('a rebuild with nothing changed hits at every step and gives the same image ID', () =>
    withBench(async bench => {
      await project(bench);
      const first = await bench.build({tags: ['app:1']});
      assert.deepEqual(stepsOf(first.events).map(step => step.reason), [undefined, 'no cache record', 'no cache record', 'no cache record']);
      const second = await bench.build({tags: ['app:1']});
      assert.ok(stepsOf(second.events).every(step => step.cached));
      assert.equal(second.result.imageId, first.result.imageId);
      assert.ok(second.result.steps.every(step => step.cached));
    }));

  test('editing a copied file misses at that COPY, says which file, and the steps before it hit', () =>
    withBench(async bench => {
      await project(bench);
      const first = await bench.build();
      await bench.write('src/app.js', 'console.log("changed")\n');
      const second = await bench.build();
      assert.deepEqual(stepsOf(second.events), [
        {instruction: 'FROM base:latest', cached: true},
        {instruction: 'WORKDIR /app', cached: true},
        {instruction: 'COPY package.txt ./', cached: true},
        {instruction: 'COPY src/ ./src/', cached: false, reason: 'src/app.js changed'},
      ]);
      assert.notEqual(second.result.imageId, first.result.imageId);
      const rootfs = await bench.rootfs(second.result.imageId);
      assert.equal(await readFile(join(rootfs, 'app/src/app.js'), 'utf8'), 'console.log("changed")\n');
    }));

  test('touching a file (mtime only) hits, chmod misses, and several edits are counted under their folder', () =>
    withBench(async bench => {
      await project(bench);
      await bench.build();
      const later = new Date(Date.now() + 60_000);
      await utimes(join(bench.context, 'src/app.js'), later, later);
      const touched = await bench.build();
      assert.ok(stepsOf(touched.events).every(step => step.cached), 'mtime is not part of the key');

      await chmod(join(bench.context, 'src/app.js'), 0o755);
      const chmodded = await bench.build();
      assert.equal(stepsOf(chmodded.events).at(-1)!.reason, 'src/app.js changed');

      await bench.write('src/lib/util.js', 'export const x = 2\n');
      await bench.write('src/lib/new.js', 'new\n');
      const edited = await bench.build();
      assert.equal(stepsOf(edited.events).at(-1)!.reason, '2 files changed under src/lib/');
    }));

  test('a changed build arg misses where it is used and says which ARG', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nARG VERSION=1\nCOPY ver.txt /v$VERSION/\n');
      await bench.write('ver.txt', 'v');
      await bench.build();
      const changed = await bench.build({buildArgs: {VERSION: '2'}});
      assert.equal(stepsOf(changed.events).at(-1)!.reason, 'ARG VERSION changed');
      const unused = await bench.build({buildArgs: {VERSION: '2', UNUSED: 'x'}});
      assert.ok(stepsOf(unused.events).every(step => step.cached), 'an undeclared build arg changes nothing');
    }));

  test('a COPY rebuilt from its earlier layer has the layer a build from scratch makes, and the files of the edit', () =>
    withBench(async bench => {
      await project(bench);
      await bench.write('src/old.js', 'to be removed\n');
      await bench.write('src/gone/x.js', 'a folder to be removed\n');
      await bench.write('src/flip', 'a file that becomes a folder\n');
      for (let index = 0; index < 40; index++) await bench.write(`src/lib/m${index}.js`, `export const m${index} = ${'x'.repeat(index * 50)}\n`);
      await bench.build();
      await bench.write('src/app.js', 'console.log("edited")\n');
      await bench.write('src/lib/added.js', 'export const added = 1\n');
      await rm(join(bench.context, 'src/old.js'));
      await rm(join(bench.context, 'src/gone'), {recursive: true});
      await rm(join(bench.context, 'src/flip'));
      await bench.write('src/flip/inner.js', 'now inside a folder\n');
      const rebuilt = await bench.build();
      assert.equal(stepsOf(rebuilt.events).at(-1)?.cached, false);
      const scratch = await bench.build({noCache: true});
      const rebuiltLayers = (await bench.config(rebuilt.result.imageId)).rootfs.diff_ids;
      assert.deepEqual(rebuiltLayers, (await bench.config(scratch.result.imageId)).rootfs.diff_ids, 'same layer digests as a --no-cache build');
      const rootfs = await bench.rootfs(rebuilt.result.imageId);
      assert.equal(await readFile(join(rootfs, 'app/src/app.js'), 'utf8'), 'console.log("edited")\n');
      assert.equal(await readFile(join(rootfs, 'app/src/lib/added.js'), 'utf8'), 'export const added = 1\n');
      assert.equal(await readFile(join(rootfs, 'app/src/lib/m39.js'), 'utf8'), `export const m39 = ${'x'.repeat(39 * 50)}\n`);
      await assert.rejects(readFile(join(rootfs, 'app/src/old.js')), {code: 'ENOENT'});
      await assert.rejects(readdir(join(rootfs, 'app/src/gone')), {code: 'ENOENT'});
      assert.equal(await readFile(join(rootfs, 'app/src/flip/inner.js'), 'utf8'), 'now inside a folder\n');
    }));

  test('a RUN after a rebuilt COPY sees exactly the edited files, with its events after the COPY is done', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', [
        'FROM base:latest', 'WORKDIR /app', 'COPY src/ ./src/',
        'RUN cat src/app.js > /seen.txt && ls src src/lib > /listing.txt && echo ran', 'LABEL done=yes', '',
      ].join('\n'));
      await bench.write('src/app.js', 'console.log("first")\n');
      await bench.write('src/old.js', 'to be removed\n');
      for (let index = 0; index < 30; index++) await bench.write(`src/lib/m${index}.js`, `export const m${index} = ${index}\n`);
      await bench.build();
      await bench.write('src/app.js', 'console.log("second")\n');
      await bench.write('src/lib/added.js', 'export const added = 1\n');
      await rm(join(bench.context, 'src/old.js'));
      const rebuilt = await bench.build();
      assert.deepEqual(stepsOf(rebuilt.events).map(step => step.cached), [true, true, false, false]);
      const rootfs = await bench.rootfs(rebuilt.result.imageId);
      assert.equal(await readFile(join(rootfs, 'seen.txt'), 'utf8'), 'console.log("second")\n');
      const listing = await readFile(join(rootfs, 'listing.txt'), 'utf8');
      assert.ok(listing.includes('added.js') && !listing.includes('old.js'), listing);
      // Step order holds although the RUN may start while the COPY layer is still being stored.
      const at = (type: string, instruction: string) =>
        rebuilt.events.findIndex(event => event.type === type && 'instruction' in event && event.instruction.startsWith(instruction));
      const output = rebuilt.events.findIndex(event => event.type === 'step-output' && event.line === 'ran');
      assert.ok(at('step-done', 'COPY') < at('step-started', 'RUN'), 'the COPY is done before the RUN starts');
      assert.ok(at('step-started', 'RUN') < output && output < at('step-done', 'RUN'), 'the RUN output is inside its step');
      // The same layers as a build from scratch (the RUN's files compared by content: its layer holds times).
      const scratch = await bench.build({noCache: true});
      assert.equal((await bench.config(rebuilt.result.imageId)).rootfs.diff_ids[2], (await bench.config(scratch.result.imageId)).rootfs.diff_ids[2]);
      const scratchRootfs = await bench.rootfs(scratch.result.imageId);
      assert.equal(await readFile(join(scratchRootfs, 'listing.txt'), 'utf8'), listing);
      assert.deepEqual(await bench.store.fsck(), []);
      const leftovers = (await readdir(join(bench.root, 'snapshots'))).filter(name => name.startsWith('.tmp'));
      assert.deepEqual(leftovers, [], 'no snapshot folder is left half made');
    }));

  test('a RUN that fails after a rebuilt COPY fails at its own step, and the COPY layer is kept for the next build', () =>
    withBench(async bench => {
      const dockerfile = (command: string) => ['FROM base:latest', 'COPY src/ /src/', `RUN ${command}`, ''].join('\n');
      await bench.write('Dockerfile', dockerfile('cat /src/app.js'));
      await bench.write('src/app.js', 'fine\n');
      for (let index = 0; index < 10; index++) await bench.write(`src/m${index}.js`, `${index}\n`);
      await bench.build();
      await bench.write('src/app.js', 'edited\n');
      await bench.write('Dockerfile', dockerfile('grep -q nothing-like-this /src/app.js'));
      const {error, events} = await bench.fail();
      assert.equal(error.code, 'ERR_BUILD_RUN_FAILED');
      assert.ok(error.excerpt?.includes('grep -q nothing-like-this'), 'the excerpt shows the RUN');
      assert.deepEqual(stepsOf(events).map(step => [step.instruction.split(' ')[0], step.cached]), [['FROM', true], ['COPY', false], ['RUN', false]]);
      await bench.write('Dockerfile', dockerfile('cat /src/app.js > /seen.txt'));
      const fixed = await bench.build();
      assert.deepEqual(stepsOf(fixed.events).map(step => step.cached), [true, true, false], 'the COPY layer of the failed build is a hit');
      assert.equal(await readFile(join(await bench.rootfs(fixed.result.imageId), 'seen.txt'), 'utf8'), 'edited\n');
      assert.deepEqual(await bench.store.fsck(), []);
      const leftovers = (await readdir(join(bench.root, 'snapshots'))).filter(name => name.startsWith('.tmp'));
      assert.deepEqual(leftovers, []);
    }));

  test('--no-cache runs every step and says so; the result is cached for the next build', () =>
    withBench(async bench => {
      await project(bench);
      await bench.build();
      const forced = await bench.build({noCache: true});
      assert.deepEqual(stepsOf(forced.events).slice(1).map(step => step.reason), ['--no-cache', '--no-cache', '--no-cache']);
      const again = await bench.build();
      assert.ok(stepsOf(again.events).every(step => step.cached));
    }));

  test('a changed base image misses at the first step and says so', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM mybase\nCOPY f.txt /\n');
      await bench.write('f.txt', 'f');
      await bench.write('base.Dockerfile', 'FROM base:latest\nCOPY f.txt /base-marker\n');
      await bench.build({dockerfile: join(bench.context, 'base.Dockerfile'), tags: ['mybase']});
      await bench.build();
      await bench.write('base.Dockerfile', 'FROM base:latest\nCOPY f.txt /other-marker\n');
      await bench.build({dockerfile: join(bench.context, 'base.Dockerfile'), tags: ['mybase']});
      const rebuilt = await bench.build();
      assert.equal(stepsOf(rebuilt.events).at(-1)!.reason, 'base image changed');
    }));

  test('an unchanged context is not read again: hashes are remembered by size, mtime and inode', () =>
    withBench(async bench => {
      await project(bench);
      const old = new Date(Date.now() - 3600_000);
      for (const path of ['package.txt', 'src/app.js', 'src/lib/util.js']) await utimes(join(bench.context, path), old, old);
      await bench.build();
      const hashFiles = await readdir(join(bench.root, 'cache', 'context'));
      assert.equal(hashFiles.length, 1);
      const remembered = JSON.parse(await readFile(join(bench.root, 'cache', 'context', hashFiles[0]), 'utf8'));
      assert.deepEqual(Object.keys(remembered.files).sort(), ['package.txt', 'src/app.js', 'src/lib/util.js']);
      // Poison the remembered hash of app.js: a build that trusts the memory (same size, mtime, inode) hits.
      remembered.files['src/app.js'][3] = 'sha256:' + '0'.repeat(64);
      await writeFile(join(bench.root, 'cache', 'context', hashFiles[0]), JSON.stringify(remembered));
      const {forgetWarmContexts} = await import('../../engine/build/build.js');
      forgetWarmContexts(); // what a new process starts with: only the file
      const {events} = await bench.build();
      assert.deepEqual(stepsOf(events).filter(step => !step.cached).map(step => step.reason), ['src/app.js changed'],
        'the remembered (poisoned) hash was used instead of reading the file');
    }));

  test('watch mode hint: with changedPaths only those paths are looked at again', () =>
    withBench(async bench => {
      await project(bench);
      // Old files: their remembered hashes are trusted (not "racy"), so only the hint decides what is re-read.
      const old = new Date(Date.now() - 3600_000);
      for (const path of ['package.txt', 'src/app.js', 'src/lib/util.js']) await utimes(join(bench.context, path), old, old);
      await bench.build();
      await bench.write('src/app.js', 'console.log("seen")\n');
      await bench.write('src/lib/util.js', 'export const x = "not announced"\n');
      const hinted = await bench.build({changedPaths: ['src/app.js']});
      assert.equal(stepsOf(hinted.events).at(-1)!.reason, 'src/app.js changed', 'the unannounced edit is not looked at');
      const full = await bench.build();
      assert.equal(stepsOf(full.events).at(-1)!.reason, 'src/lib/util.js changed', 'a build without the hint checks everything');
    }));

  test('builder prune empties the cache and cache roots keep layers alive until then', () =>
    withBench(async bench => {
      await project(bench);
      const {result} = await bench.build();
      const roots = await cacheRoots(bench.root);
      assert.equal(roots.length, 3);
      await bench.store.removeImage(result.imageId);
      await bench.store.gc({keep: roots});
      for (const digest of roots) assert.ok(await bench.store.content.hasBlob(digest), 'cached layers survive gc');
      const pruned = await pruneCache(bench.root);
      assert.equal(pruned.records, 3);
      assert.deepEqual(await cacheRoots(bench.root), []);
      await bench.store.gc({keep: await cacheRoots(bench.root)});
      for (const digest of roots) assert.equal(await bench.store.content.hasBlob(digest), false);
      assert.deepEqual(await bench.store.fsck(), []);
      const rebuilt = await bench.build();
      assert.ok(stepsOf(rebuilt.events).slice(1).every(step => !step.cached));
    }));

  test('identical input gives identical layer bytes, in another store too', async () => {
    const diffIds: string[][] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      await withBench(async bench => {
        await bench.write('Dockerfile', 'FROM base:latest\nWORKDIR /app\nCOPY src/ ./src/\nCOPY --chown=app --chmod=640 src/app.js /owned.js\n');
        await bench.write('src/app.js', 'console.log(1)\n');
        await bench.write('src/lib/util.js', 'export {}\n');
        const fixed = new Date('2025-01-02T03:04:05Z');
        for (const path of ['src/app.js', 'src/lib/util.js', 'src/lib', 'src']) await utimes(join(bench.context, path), fixed, fixed);
        const {result} = await bench.build();
        diffIds.push((await bench.config(result.imageId)).rootfs.diff_ids);
      });
    }
    assert.deepEqual(diffIds[0], diffIds[1]);
  });

  test('miss reasons compare the inputs of the last build of the same step', () => {
    const base = {key: 'k', instruction: 'COPY src/ /app/', parent: 'p', first: false, args: {}, files: {'src/a.js': '1', 'src/b.js': '1'}};
    assert.equal(explainMiss(undefined, base, {noCache: false}), 'no cache record');
    assert.equal(explainMiss(base, base, {noCache: true}), '--no-cache');
    assert.equal(explainMiss(base, {...base, parent: 'q'}, {noCache: false}), 'previous step changed');
    assert.equal(explainMiss(base, {...base, parent: 'q', first: true}, {noCache: false}), 'base image changed');
    assert.equal(explainMiss(base, {...base, instruction: 'COPY src/ /srv/'}, {noCache: false}), 'instruction changed');
    assert.equal(explainMiss(base, {...base, files: {'src/a.js': '2', 'src/b.js': '1'}}, {noCache: false}), 'src/a.js changed');
    assert.equal(explainMiss(base, {...base, files: {'src/a.js': '1'}}, {noCache: false}), 'src/b.js removed');
    const run = {key: 'k', instruction: 'RUN make', parent: 'p', first: false, args: {V: '1'}, env: {A: '1'}};
    assert.equal(explainMiss(run, {...run, args: {V: '2'}}, {noCache: false}), 'ARG V changed');
    assert.equal(explainMiss(run, {...run, env: {A: '2'}}, {noCache: false}), 'ENV A changed');
    assert.equal(describeFileChanges({}, {'a/b/c': '1', 'a/b/d': '1', 'a/e': '1'}), '3 files added under a/');
    assert.equal(describeFileChanges({x: '1'}, {x: '1'}), undefined);
  });
});
