// Benchmark (not a test): watch mode on a 2,000-file, 20 MB context built as `FROM base` + `COPY . .` + a RUN.
// Twenty edits of one source file, each timed from the write to the `rebuilt` event (the new image tagged):
// median and p95, with the build alone and the watcher's share. Then, when a private dockerd can run, the same
// edits rebuilt with `docker build` (BuildKit), timed from the write to the command's exit, and the ratio.
// Target: median under 150 ms.
// Run: node --import tsx test/bench/watch.ts [files=2000] [megabytes=20] [edits=20] [debounceMs=50, the default] [dockerEdits=edits]
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Store} from '../../engine/store/index.js';
import {defaultDebounceMs, watchBuild, type WatchEvent} from '../../engine/watch/index.js';
import {baseImage, baseRootfsTar} from '../helpers/base-image.js';
import {startDocker} from '../helpers/docker.js';

const fileCount = Number(process.argv[2] ?? 2000);
const megabytes = Number(process.argv[3] ?? 20);
const edits = Number(process.argv[4] ?? 20);
const debounceMs = Number(process.argv[5] ?? defaultDebounceMs);
const dockerEdits = Number(process.argv[6] ?? edits);

const dockerfile = ['FROM base:latest', 'WORKDIR /app', 'COPY . .', 'RUN wc -c src/app.js > /app-size.txt', 'CMD ["sh"]', ''].join('\n');

/** Deterministic filler: a cheap xorshift stream, so file contents do not compress to nothing. */
function filler(seed: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let state = seed * 2654435761 + 1;
  for (let index = 0; index < size; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = 32 + ((state >>> 0) % 94);
  }
  return bytes;
}

async function makeContext(dir: string): Promise<void> {
  const perFile = Math.floor((megabytes * 1024 * 1024) / fileCount);
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  await writeFile(join(dir, '.dockerignore'), 'node_modules\n*.log\n');
  await mkdir(join(dir, 'src'), {recursive: true});
  await writeFile(join(dir, 'src', 'app.js'), 'console.log("edit 0")\n');
  for (let index = 1; index < fileCount; index++) {
    const folder = join(dir, 'src', `module${String(index % 50).padStart(2, '0')}`);
    await mkdir(folder, {recursive: true});
    await writeFile(join(folder, `file${index}.js`), filler(index, perFile));
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function p95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)];
}

const ms = (value: number) => `${value.toFixed(0)} ms`;

async function benchStrata(context: string, root: string): Promise<number[]> {
  const store = await Store.open(root);
  await baseImage(store);
  const controller = new AbortController();
  const events: WatchEvent[] = [];
  let wake: (() => void) | undefined;
  const session = watchBuild({store, contextDir: context, tags: ['bench:watch'], debounceMs, signal: controller.signal}, event => {
    events.push(event);
    wake?.();
  });
  const next = async (type: WatchEvent['type'], from: number): Promise<WatchEvent> => {
    for (;;) {
      const found = events.slice(from).find(event => event.type === type || event.type === 'rebuild-failed');
      if (found) {
        if (found.type === 'rebuild-failed') throw new Error(`rebuild failed: ${found.error}`);
        return found;
      }
      await new Promise<void>(resolve => (wake = resolve));
    }
  };
  const coldStart = performance.now();
  const first = (await next('rebuilt', 0)) as Extract<WatchEvent, {type: 'rebuilt'}>;
  const watching = events.find(event => event.type === 'watching') as Extract<WatchEvent, {type: 'watching'}>;
  console.log(`strata: watching ${watching.files} files; first build ${ms(first.buildMs)} (start to first image ${ms(performance.now() - coldStart)})`);
  const latencies: number[] = [];
  const builds: number[] = [];
  const reported: number[] = [];
  const stepTimes = new Map<string, number[]>();
  for (let edit = 1; edit <= edits; edit++) {
    const mark = events.length;
    const wrote = performance.now();
    await writeFile(join(context, 'src', 'app.js'), `console.log("edit ${edit}")\n`);
    const rebuilt = (await next('rebuilt', mark)) as Extract<WatchEvent, {type: 'rebuilt'}>;
    latencies.push(performance.now() - wrote);
    builds.push(rebuilt.buildMs);
    reported.push(rebuilt.latencyMs);
    for (const step of rebuilt.steps) stepTimes.set(step.instruction, [...(stepTimes.get(step.instruction) ?? []), step.durationMs]);
    const reran = rebuilt.steps.map(step => step.instruction).join(' + ');
    if (edit === 1) console.log(`strata: each edit re-runs ${reran} (${rebuilt.steps[0]?.reason})`);
    if ((await store.resolveImage('bench:watch')).id !== rebuilt.imageId) throw new Error('the tag does not name the new image');
    await new Promise(resolve => setTimeout(resolve, 150));
  }
  controller.abort();
  await session;
  console.log(
    `strata watch: write -> image tagged: median ${ms(median(latencies))}, p95 ${ms(p95(latencies))} over ${edits} edits ` +
      `(debounce ${debounceMs} ms; build alone median ${ms(median(builds))}; watcher-reported latency median ${ms(median(reported))})`,
  );
  const watcherShare = latencies.map((latency, index) => latency - builds[index]);
  console.log(`strata: watcher share (event, ${debounceMs} ms quiet period, re-hash) median ${ms(median(watcherShare))}`);
  for (const [instruction, times] of stepTimes) console.log(`strata: step ${instruction}: median ${ms(median(times))}`);
  return latencies;
}

async function benchDocker(context: string): Promise<number[] | undefined> {
  if (dockerEdits <= 0) return undefined;
  const docker = await startDocker();
  if ('skip' in docker) {
    console.log(`docker: skipped (${docker.skip})`);
    return undefined;
  }
  try {
    console.log(`docker: private dockerd with ${docker.storageDriver}`);
    await docker.loadBaseIntoDocker((await baseRootfsTar()).path, 'base:latest');
    const build = async () => {
      const started = performance.now();
      const result = await docker.docker(['build', '--network', 'none', '-t', 'bench:docker', '.'], {cwd: context});
      if (result.code !== 0) throw new Error(`docker build failed: ${result.stderr.slice(-2000)}`);
      return performance.now() - started;
    };
    console.log(`docker: cold build ${ms(await build())}`);
    const latencies: number[] = [];
    for (let edit = 1; edit <= dockerEdits; edit++) {
      const wrote = performance.now();
      await writeFile(join(context, 'src', 'app.js'), `console.log("docker edit ${edit}")\n`);
      await build();
      latencies.push(performance.now() - wrote);
    }
    console.log(`docker build after one edit: median ${ms(median(latencies))}, p95 ${ms(p95(latencies))} over ${dockerEdits} edits (no watcher; compose watch adds its 500 ms debounce)`);
    return latencies;
  } finally {
    await docker.stop();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'strata-bench-watch-'));
try {
  const context = join(dir, 'context');
  await mkdir(context);
  await makeContext(context);
  console.log(`context: ${fileCount} files, ${megabytes} MB; Dockerfile: ${dockerfile.trim().split('\n').join(' | ')}`);
  const strata = await benchStrata(context, join(dir, 'store'));
  const docker = await benchDocker(context);
  if (docker) {
    console.log(`median: strata watch ${ms(median(strata))} vs docker build ${ms(median(docker))}: ${(median(docker) / median(strata)).toFixed(1)}x faster`);
  }
  console.log(`target: median under 150 ms: ${median(strata) < 150 ? 'met' : 'NOT met'}`);
} finally {
  await rm(dir, {recursive: true, force: true});
}
