import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {appendFile, chmod, mkdir, rename, rm, symlink, utimes, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {writeFileSync} from 'node:fs';
import {build, type BuildHooks, type BuildOptions} from '../../engine/build/build.js';
import {rerun, withWatchBench, type WatchBench} from './helpers.js';

const scratchDockerfile = ['FROM scratch', 'COPY config.txt /config.txt', 'COPY src/ /app/src/', 'COPY assets/ /app/assets/', 'CMD ["/app/src/main"]', ''].join('\n');

async function scratchProject(bench: WatchBench): Promise<void> {
  await bench.write('Dockerfile', scratchDockerfile);
  await bench.write('config.txt', 'mode=dev\n');
  await bench.write('src/main.js', 'console.log(1)\n');
  await bench.write('src/util.js', 'export const x = 1\n');
  await bench.write('assets/logo.svg', '<svg/>\n');
  await bench.write('.dockerignore', 'node_modules\n*.log\n');
  await bench.write('node_modules/dep/index.js', 'module.exports = 1\n');
}

/** Start watching and wait for the first build; returns its image. */
async function started(bench: WatchBench, options: Parameters<WatchBench['start']>[0] = {}): Promise<string> {
  // Generous quiet period: on a loaded machine one writeFile's truncate and write can arrive far apart.
  bench.start({debounceMs: 200, ...options});
  const first = await bench.waitFor('rebuilt');
  assert.equal(await bench.tagged(), first.imageId);
  return first.imageId;
}

describe('watch mode', () => {
  test('an edit to a file under COPY src/ rebuilds from that step only and says which file', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench);
      const watching = bench.of('watching')[0];
      assert.equal(watching.files, 6, 'node_modules is excluded, the Dockerfile and .dockerignore are watched');
      const mark = bench.events.length;
      await bench.write('src/main.js', 'console.log(2)\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rerun(rebuilt), ['COPY src/ /app/src/', 'COPY assets/ /app/assets/']);
      assert.equal(rebuilt.steps[0].reason, 'src/main.js changed');
      assert.equal(rebuilt.steps[1].reason, 'previous step changed');
      assert.deepEqual(rebuilt.changedPaths, ['src/main.js']);
      assert.equal(rebuilt.reason, 'src/main.js changed');
      assert.equal(rebuilt.imageChanged, true);
      assert.equal(rebuilt.previousImageId, firstImage);
      assert.ok(rebuilt.latencyMs >= 0 && rebuilt.buildMs >= 0);
      // The earlier step was a cache hit, and the tag moved to the new image.
      const cached = bench.of('step-cached', mark).map(event => event.instruction);
      assert.deepEqual(cached, ['COPY config.txt /config.txt']);
      assert.equal(await bench.tagged(), rebuilt.imageId);
      assert.notEqual(rebuilt.imageId, firstImage);
      assert.equal(bench.of('build-started', mark).length, 1);
    });
  });

  test('a save that lands while a rebuild reads the file is built next, not reported as a failure', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      let armed = false;
      // The real builder; once armed, the next COPY src/ has its source saved again right after it is planned.
      const engine = {
        store: bench.store,
        build: (options: BuildOptions, hooks: BuildHooks = {}) => build({...options, store: bench.store}, {
          ...hooks,
          onEvent: event => {
            hooks.onEvent?.(event);
            if (armed && event.type === 'step-miss' && event.instruction.startsWith('COPY src/')) {
              armed = false;
              writeFileSync(join(bench.context, 'src/main.js'), 'console.log("saved during the build")\n');
            }
          },
        }),
      };
      // No quiet period: the build is under way for good (not an early start a new event would cancel).
      await started(bench, {engine, debounceMs: 0});
      let mark = bench.events.length;
      await bench.write('src/main.js', 'console.log(2)\n');
      await bench.waitFor('rebuilt', {from: mark});
      mark = bench.events.length;
      armed = true;
      await bench.write('src/main.js', 'console.log(3)\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.equal(armed, false, 'the save landed during the build');
      assert.deepEqual(bench.of('rebuild-failed', mark), [], 'no failure is reported');
      const image = await bench.store.resolveImage(rebuilt.imageId);
      const layer = await bench.store.content.readBlob(image.manifest.layers[1]!.digest);
      assert.match(layer.toString('latin1'), /saved during the build/, 'the image holds the last save');
      assert.equal(await bench.tagged(), rebuilt.imageId);
    });
  });

  test('an edit to an ignored file and a touch rebuild nothing', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench);
      const mark = bench.events.length;
      await bench.write('node_modules/dep/index.js', 'module.exports = 2\n');
      await bench.write('debug.log', 'noise\n');
      const later = new Date(Date.now() + 5000);
      await utimes(join(bench.context, 'src/main.js'), later, later);
      await bench.writeInPlace('src/util.js', 'export const x = 1\n'); // the same bytes again, in place
      await bench.write('config.txt', 'mode=dev\n'); // and through a rename
      const ignored = await bench.waitFor('change-ignored', {from: mark, where: event => event.path === 'src/main.js'});
      assert.equal(ignored.why, 'content unchanged');
      await bench.settle(400);
      assert.equal(bench.of('build-started', mark).length, 0, 'no build started');
      assert.equal(bench.of('change-detected', mark).length, 0);
      assert.ok(!bench.of('change-ignored', mark).some(event => event.path.startsWith('node_modules') || event.path === 'debug.log'), 'ignored paths are not even reported');
      assert.equal(await bench.tagged(), firstImage);
    });
  });

  test('two quick edits make one build that sees both', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await started(bench, {debounceMs: 250});
      const mark = bench.events.length;
      await bench.write('src/main.js', 'console.log(3)\n');
      await bench.write('assets/logo.svg', '<svg id="2"/>\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      await bench.settle(500);
      assert.equal(bench.of('build-started', mark).length, 1);
      assert.deepEqual(rebuilt.changedPaths, ['assets/logo.svg', 'src/main.js']);
      assert.deepEqual(rerun(rebuilt), ['COPY src/ /app/src/', 'COPY assets/ /app/assets/']);
      assert.equal(rebuilt.steps[1].reason, 'previous step changed');
    });
  });

  test('an edit during the quiet period cancels the build started early: one build of the final content', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench, {debounceMs: 600});
      const mark = bench.events.length;
      await bench.write('src/main.js', 'console.log("draft")\n');
      // Long enough for the early check and build to run, well inside the 600 ms quiet period.
      await new Promise(resolve => setTimeout(resolve, 250));
      assert.equal(bench.of('build-started', mark).length, 0, 'nothing is shown before the quiet period ends');
      await bench.write('src/main.js', 'console.log("final")\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      await bench.settle(700);
      assert.equal(bench.of('change-detected', mark).length, 1);
      assert.equal(bench.of('build-started', mark).length, 1, 'the cancelled build left no events');
      assert.equal(bench.of('rebuilt', mark).length, 1);
      assert.deepEqual(rebuilt.changedPaths, ['src/main.js']);
      assert.equal(rebuilt.previousImageId, firstImage);
      assert.equal(await bench.tagged(), rebuilt.imageId);
      const {readLayerFile} = await import('../../engine/layer/index.js');
      const image = await bench.store.resolveImage(rebuilt.imageId);
      const main = await readLayerFile(bench.store.content.openBlob(image.manifest.layers[1].digest), 'app/src/main.js');
      assert.equal(main?.content.toString(), 'console.log("final")\n');
    });
  });

  test('a broken save fixed within the quiet period reports no failure', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench, {debounceMs: 600});
      const mark = bench.events.length;
      await bench.write('Dockerfile', scratchDockerfile.replace('COPY src/', 'COPPY src/'));
      // The early build fails at once, but holds its failure until the quiet period is over.
      await new Promise(resolve => setTimeout(resolve, 250));
      await bench.write('Dockerfile', scratchDockerfile.replace('CMD', 'LABEL fixed=yes\nCMD'));
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      await bench.settle(700);
      assert.equal(bench.of('rebuild-failed', mark).length, 0);
      assert.equal(bench.of('rebuilt', mark).length, 1);
      assert.notEqual(rebuilt.imageId, firstImage);
      assert.equal(await bench.tagged(), rebuilt.imageId);
      assert.equal((await bench.store.resolveImage(rebuilt.imageId)).config.config?.Labels?.fixed, 'yes');
    });
  });

  test('changes during a build are queued and folded into one next build', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await started(bench, {debounceMs: 20});
      const mark = bench.events.length;
      await bench.write('src/main.js', 'console.log(4)\n');
      await bench.waitFor('build-started', {from: mark});
      // The build is running now: three more saves arrive.
      await bench.write('src/a.js', 'a\n');
      await bench.write('src/b.js', 'b\n');
      await bench.write('config.txt', 'mode=prod\n');
      const first = await bench.waitFor('rebuilt', {from: mark});
      const second = await bench.waitFor('rebuilt', {from: bench.events.indexOf(first) + 1});
      await bench.settle(400);
      const builds = bench.of('build-started', mark).length;
      const allChanged = new Set([...first.changedPaths, ...second.changedPaths]);
      for (const path of ['src/a.js', 'src/b.js', 'config.txt']) assert.ok(allChanged.has(path), `${path} was built`);
      assert.ok(builds <= 3, `at most one build per burst, saw ${builds}`);
      // Never two builds at once: every build-started is followed by its end before the next one.
      let open = 0;
      for (const event of bench.events.slice(mark)) {
        if (event.type === 'build-started') assert.equal(open++, 0, 'a build started while another ran');
        if (event.type === 'build-done' || event.type === 'build-failed') open--;
      }
      const image = await bench.tagged();
      assert.equal(image, bench.of('rebuilt').at(-1)!.imageId);
    });
  });

  test('a broken Dockerfile keeps the previous image tagged and a fixed one recovers', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench);
      let mark = bench.events.length;
      await bench.write('Dockerfile', scratchDockerfile.replace('COPY src/', 'COPPY src/'));
      const failed = await bench.waitFor('rebuild-failed', {from: mark});
      assert.match(failed.error, /unknown instruction:? COPPY/i);
      assert.ok(failed.excerpt?.includes('COPPY src/'), 'the excerpt shows the broken line');
      assert.equal(failed.keptImageId, firstImage);
      assert.equal(await bench.tagged(), firstImage, 'the tag still names the previous image');
      mark = bench.events.length;
      await bench.write('Dockerfile', scratchDockerfile.replace('CMD ["/app/src/main"]', 'CMD ["/app/src/main", "--fixed"]'));
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.equal(rebuilt.reason, 'Dockerfile changed');
      assert.deepEqual(rerun(rebuilt), [], 'a metadata-only change re-runs no step');
      assert.equal(rebuilt.imageChanged, true);
      assert.equal(await bench.tagged(), rebuilt.imageId);
      const config = (await bench.store.resolveImage(rebuilt.imageId)).config;
      assert.deepEqual(config.config?.Cmd, ['/app/src/main', '--fixed']);
    });
  });

  test('an edit to the Dockerfile re-plans the build', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await started(bench);
      const mark = bench.events.length;
      await bench.write('Dockerfile', scratchDockerfile.replace('COPY assets/ /app/assets/', 'COPY assets/ /srv/assets/\nENV MODE=dev'));
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rerun(rebuilt), ['COPY assets/ /srv/assets/']);
      assert.equal(rebuilt.steps[0].reason, 'instruction changed');
      const config = (await bench.store.resolveImage(rebuilt.imageId)).config;
      assert.ok(config.config?.Env?.includes('MODE=dev'));
    });
  });

  test('a change made before watching starts is built at start', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench);
      await bench.stop();
      await bench.write('src/util.js', 'export const x = 42\n');
      const mark = bench.events.length;
      bench.start({debounceMs: 200});
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.equal(rebuilt.reason, 'watch started');
      assert.deepEqual(rerun(rebuilt), ['COPY src/ /app/src/', 'COPY assets/ /app/assets/']);
      assert.equal(rebuilt.steps[0].reason, 'src/util.js changed');
      assert.equal(rebuilt.previousImageId, firstImage);
      assert.notEqual(rebuilt.imageId, firstImage);
    });
  });

  test('a build argument changed between sessions is named as the cause at start', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await bench.write('Dockerfile', 'FROM scratch\nARG FLAVOUR=plain\nCOPY config.txt /config.txt\nCOPY src/ /app/$FLAVOUR/\n');
      await started(bench, {buildArgs: {FLAVOUR: 'mild'}});
      await bench.stop();
      const mark = bench.events.length;
      bench.start({debounceMs: 200, buildArgs: {FLAVOUR: 'hot'}});
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rerun(rebuilt), ['COPY src/ /app/hot/']);
      assert.equal(rebuilt.steps[0].reason, 'ARG FLAVOUR changed');
    });
  });

  test('two watchers of one context never build at the same time', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const {watchBuild} = await import('../../engine/watch/index.js');
      const controller = new AbortController();
      const timeline: string[] = [];
      const session = (tag: string) =>
        watchBuild({store: bench.store, contextDir: bench.context, tags: [tag], debounceMs: 50, signal: controller.signal}, event => {
          if (event.type === 'build-started' || event.type === 'build-done' || event.type === 'build-failed') timeline.push(event.type);
          if (event.type === 'rebuilt') timeline.push(`rebuilt ${tag}`);
        });
      const sessions = [session('app:one'), session('app:two')];
      const until = async (done: () => boolean) => {
        for (let waited = 0; !done() && waited < 30_000; waited += 25) await new Promise(resolve => setTimeout(resolve, 25));
        assert.ok(done(), `timed out; timeline: ${timeline.join(', ')}`);
      };
      try {
        await until(() => timeline.filter(line => line.startsWith('rebuilt')).length === 2);
        await bench.write('src/main.js', 'console.log("both")\n');
        await until(() => timeline.filter(line => line.startsWith('rebuilt')).length === 4);
      } finally {
        controller.abort();
        await Promise.all(sessions);
      }
      let open = 0;
      for (const line of timeline) {
        if (line === 'build-started') assert.equal(open++, 0, `builds overlapped: ${timeline.join(', ')}`);
        if (line === 'build-done' || line === 'build-failed') open--;
      }
      const one = await bench.store.resolveImage('app:one');
      const two = await bench.store.resolveImage('app:two');
      assert.equal(one.id, two.id, 'both watchers made the same image');
    });
  });

  test('an unchanged context at start rebuilds nothing and keeps the image', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench);
      await bench.stop();
      const mark = bench.events.length;
      bench.start({debounceMs: 200});
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rerun(rebuilt), []);
      assert.equal(rebuilt.imageChanged, false);
      assert.equal(rebuilt.imageId, firstImage);
    });
  });

  test("an editor's save through a temporary file and rename is one change, its temporary file none", async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await started(bench);
      const mark = bench.events.length;
      // vim: a swap file, then write-to-temp and rename over the original.
      await writeFile(join(bench.context, 'src/.main.js.swp'), 'swap');
      await writeFile(join(bench.context, 'src/main.js.tmp123'), 'console.log(5)\n');
      await rename(join(bench.context, 'src/main.js.tmp123'), join(bench.context, 'src/main.js'));
      await rm(join(bench.context, 'src/.main.js.swp'));
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      await bench.settle(300);
      assert.deepEqual(rebuilt.changedPaths, ['src/main.js']);
      assert.equal(bench.of('build-started', mark).length, 1);
      assert.ok(!bench.events.slice(mark).some(event => 'path' in event && String(event.path).endsWith('.swp')));
    });
  });

  test('a .dockerignore edit re-reads the rules: a newly excluded file stops triggering, a newly included folder starts', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await bench.write('Dockerfile', 'FROM scratch\nCOPY . /app/\n');
      await started(bench);
      let mark = bench.events.length;
      await bench.write('.dockerignore', 'assets\n*.log\n');
      let rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.equal(rebuilt.reason, '.dockerignore changed');
      assert.equal(rebuilt.steps[0]?.instruction, 'COPY . /app/');
      // node_modules is now part of the context and watched.
      mark = bench.events.length;
      await bench.write('node_modules/dep/index.js', 'module.exports = 3\n');
      rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rebuilt.changedPaths, ['node_modules/dep/index.js']);
      assert.equal(rebuilt.steps[0].reason, 'node_modules/dep/index.js changed');
      // assets is now excluded: editing it does nothing.
      mark = bench.events.length;
      await bench.write('assets/logo.svg', '<svg id="3"/>\n');
      await bench.settle(400);
      assert.equal(bench.of('build-started', mark).length, 0);
    });
  });

  test('a context given through a symlink is watched through to its files', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const link = join(bench.dir, 'link');
      await symlink(bench.context, link);
      bench.start({debounceMs: 200, contextDir: link});
      await bench.waitFor('rebuilt');
      assert.equal(bench.of('watching')[0].files, 6);
      const mark = bench.events.length;
      await bench.write('src/util.js', 'export const x = 7\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rebuilt.changedPaths, ['src/util.js']);
    });
  });

  test('a Dockerfile outside the context is watched too', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const outside = join(bench.dir, 'build', 'app.Dockerfile');
      await mkdir(join(bench.dir, 'build'), {recursive: true});
      await writeFile(outside, 'FROM scratch\nCOPY src/ /app/\n');
      await started(bench, {dockerfile: outside});
      const mark = bench.events.length;
      await appendFile(outside, 'LABEL stage=two\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rebuilt.changedPaths, [outside]);
      assert.equal((await bench.store.resolveImage(rebuilt.imageId)).config.config?.Labels?.stage, 'two');
    });
  });

  test('a mode change is a change; removing and adding files are changes', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await started(bench);
      let mark = bench.events.length;
      await chmod(join(bench.context, 'src/util.js'), 0o755);
      let rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rebuilt.changedPaths, ['src/util.js']);
      assert.equal(rebuilt.steps[0].reason, 'src/util.js changed');
      const afterChmod = rebuilt.imageId;
      mark = bench.events.length;
      await bench.write('src/touch-me.js', 'x\n');
      rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rebuilt.changedPaths, ['src/touch-me.js']);
      assert.equal(rebuilt.reason, 'src/touch-me.js added');
      mark = bench.events.length;
      await rm(join(bench.context, 'src/touch-me.js'));
      rebuilt = await bench.waitFor('rebuilt', {from: mark});
      assert.deepEqual(rebuilt.changedPaths, ['src/touch-me.js']);
      assert.equal(rebuilt.reason, 'src/touch-me.js removed');
      // The context is as it was after the chmod: the cache has that layer, nothing re-runs.
      assert.deepEqual(rerun(rebuilt), []);
      assert.equal(rebuilt.imageId, afterChmod);
      assert.equal(await bench.tagged(), afterChmod);
    });
  });

  test('a new folder of files and its removal each rebuild, and the image follows', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await started(bench);
      const files = async (imageId: string) => {
        const image = await bench.store.resolveImage(imageId);
        const {readLayerMembers} = await import('../../engine/layer/index.js');
        const paths: string[] = [];
        await readLayerMembers(bench.store.content.openBlob(image.manifest.layers[1].digest), member => {
          paths.push(member.path);
        });
        return paths.filter(path => path.includes('feature'));
      };
      let mark = bench.events.length;
      await mkdir(join(bench.context, 'src/feature/deep'), {recursive: true});
      await writeFile(join(bench.context, 'src/feature/a.js'), 'a\n');
      await writeFile(join(bench.context, 'src/feature/deep/b.js'), 'b\n');
      let rebuilt = await bench.waitFor('rebuilt', {from: mark, where: event => event.changedPaths.includes('src/feature/deep/b.js')});
      assert.deepEqual((await files(rebuilt.imageId)).sort(), ['app/src/feature', 'app/src/feature/a.js', 'app/src/feature/deep', 'app/src/feature/deep/b.js']);
      await bench.settle(300);
      mark = bench.events.length;
      await rm(join(bench.context, 'src/feature'), {recursive: true});
      rebuilt = await bench.waitFor('rebuilt', {from: mark});
      await bench.settle(300);
      const last = bench.of('rebuilt').at(-1)!;
      assert.ok(last.changedPaths.includes('src/feature'), `changed: ${last.changedPaths.join(', ')}`);
      assert.deepEqual(await files(last.imageId), []);
      assert.equal(await bench.tagged(), last.imageId);
    });
  });

  test('a replaced image is removed once no tag names it, unless pruning is off', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      const firstImage = await started(bench);
      let mark = bench.events.length;
      await bench.write('src/main.js', 'console.log("pruned")\n');
      const rebuilt = await bench.waitFor('rebuilt', {from: mark});
      const pruned = await bench.waitFor('image-pruned', {from: mark});
      assert.equal(pruned.imageId, firstImage);
      await assert.rejects(bench.store.resolveImage(firstImage), /No such image/);
      await bench.stop();
      mark = bench.events.length;
      bench.start({debounceMs: 200, prune: false});
      await bench.waitFor('rebuilt', {from: mark});
      mark = bench.events.length;
      await bench.write('src/main.js', 'console.log("kept")\n');
      const next = await bench.waitFor('rebuilt', {from: mark});
      await bench.settle(200);
      assert.equal(bench.of('image-pruned', mark).length, 0);
      const kept = await bench.store.resolveImage(rebuilt.imageId);
      assert.deepEqual(kept.tags, [], 'the replaced image stays, dangling');
      assert.equal(await bench.tagged(), next.imageId);
    });
  });

  test('stopping ends the session, and a context that is not a folder is refused', async () => {
    await withWatchBench(async bench => {
      await scratchProject(bench);
      await started(bench);
      await bench.stop();
      const stopped = bench.of('watch-stopped');
      assert.equal(stopped.length, 1);
      assert.equal(stopped[0].builds, 1);
      const mark = bench.events.length;
      await bench.write('src/main.js', 'after stop\n');
      await new Promise(resolve => setTimeout(resolve, 300));
      assert.equal(bench.events.length, mark, 'nothing happens after stop');
      const {watchBuild} = await import('../../engine/watch/index.js');
      await assert.rejects(watchBuild({store: bench.store, contextDir: join(bench.dir, 'missing')}, () => {}), {code: 'ERR_WATCH_CONTEXT'});
    });
  });
});
