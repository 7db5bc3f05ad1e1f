// Benchmark (not a test): the main-thread JavaScript around the COPY step of a watch rebuild, on the 2,000-file,
// 20 MB context of the watch benchmark (`COPY . .` into WORKDIR /app). One file is rewritten before each round,
// and the context forgets only that path, as watch does. Per round, medians of:
// - planCopy on the warm Context (cold plan printed once);
// - Context.saveHashes after the plan (the build saves them when it ends);
// - writeLayer splicing against the earlier layer into a discarding stream: the time until its first byte
//   (the preprocessing: sort, checks, signatures, the earlier map) and in all;
// - the build cache companions: reading the earlier step's identities and map, writing the new ones.
// Run: node --import tsx test/bench/copy-plan.ts [files=2000] [megabytes=20] [rounds=30]
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {createWriteStream} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Writable} from 'node:stream';
import {finished} from 'node:stream/promises';
import {BuildCache} from '../../engine/build/cache.js';
import {Context} from '../../engine/build/context.js';
import {contextTree, planCopy, type CopyPlan} from '../../engine/build/copy.js';
import {RootfsView} from '../../engine/build/rootfs-view.js';
import {writeLayer, type LayerMapEntry} from '../../engine/layer/index.js';

const fileCount = Number(process.argv[2] ?? 2000);
const megabytes = Number(process.argv[3] ?? 20);
const rounds = Number(process.argv[4] ?? 30);

/** Deterministic filler (the watch benchmark's): a cheap xorshift stream. */
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
  await writeFile(join(dir, 'Dockerfile'), 'FROM base\nWORKDIR /app\nCOPY . .\n');
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

const ms = (value: number) => `${value.toFixed(1)} ms`;

const discard = (onFirst: () => void) => {
  let first = true;
  return new Writable({
    highWaterMark: 1 << 22,
    write(_chunk, _encoding, callback) {
      if (first) {
        first = false;
        onFirst();
      }
      callback();
    },
  });
};

const dir = await mkdtemp(join(tmpdir(), 'strata-bench-copy-plan-'));
try {
  const contextDir = join(dir, 'context');
  const lower = join(dir, 'lower');
  await mkdir(contextDir);
  await mkdir(join(lower, 'app'), {recursive: true});
  await mkdir(join(lower, 'etc'), {recursive: true});
  await makeContext(contextDir);
  const cache = new BuildCache(join(dir, 'store'));
  const context = new Context(contextDir, {hashFile: cache.contextHashFile(contextDir)});
  const target = new RootfsView([lower]);
  const plan = (): Promise<CopyPlan> =>
    planCopy({
      add: false, sources: ['.'], heredocs: [], dest: '.', workdir: '/app', tree: contextTree(context), target,
      scratchDir: join(dir, 'scratch'),
    });

  let started = performance.now();
  let current = await plan();
  console.log(`planCopy cold (${current.entries.length} entries, every file hashed): ${ms(performance.now() - started)}`);
  started = performance.now();
  await context.saveHashes();
  console.log(`saveHashes cold: ${ms(performance.now() - started)}`);

  // The first layer, stored as a blob to splice from.
  const blobPath = join(dir, 'layer-0.tar');
  const out = createWriteStream(blobPath);
  const first = await writeLayer(current.entries, out, {identities: current.identities});
  await finished(out);
  const earlier: {blobPath: string; map: LayerMapEntry[]} = {blobPath, map: first.map!};
  let previousKey = 'sha256:' + '0'.repeat(64);
  await cache.putRecordFiles(previousKey, current.identities);
  await cache.putRecordMap(previousKey, first.diffId, first.map!);
  let previousDiffId = first.diffId;

  const times = {plan: [] as number[], save: [] as number[], firstByte: [] as number[], write: [] as number[], read: [] as number[], put: [] as number[]};
  for (let round = 1; round <= rounds; round++) {
    await writeFile(join(contextDir, 'src', 'app.js'), `console.log("edit ${round}")\n`);
    context.invalidate(['src/app.js']);

    started = performance.now();
    current = await plan();
    times.plan.push(performance.now() - started);
    started = performance.now();
    await context.saveHashes();
    times.save.push(performance.now() - started);

    started = performance.now();
    const [files, map] = await Promise.all([cache.getRecordFiles(previousKey), cache.getRecordMap(previousKey, previousDiffId)]);
    times.read.push(performance.now() - started);
    if (!files || !map) throw new Error('bench: the earlier record companions did not read back');

    let firstByte = 0;
    started = performance.now();
    const written = await writeLayer(current.entries, discard(() => (firstByte = performance.now() - started)), {
      identities: current.identities,
      // The splice always starts from layer 0 (its blob is on disk; the later ones went to the discarding
      // stream): one edited file differs from it either way.
      reuse: earlier,
    });
    times.write.push(performance.now() - started);
    times.firstByte.push(firstByte);

    const key = `sha256:${String(round).padStart(64, '0')}`;
    started = performance.now();
    await Promise.all([cache.putRecordFiles(key, current.identities), cache.putRecordMap(key, written.diffId, written.map!)]);
    times.put.push(performance.now() - started);
    // The next round reads what this one wrote, as the next rebuild reads the step's last record.
    previousKey = key;
    previousDiffId = written.diffId;
  }
  console.log(`over ${rounds} rounds of one edited file (medians):`);
  console.log(`  planCopy warm:                    ${ms(median(times.plan))}`);
  console.log(`  saveHashes:                       ${ms(median(times.save))}`);
  console.log(`  writeLayer splice, first byte:    ${ms(median(times.firstByte))}`);
  console.log(`  writeLayer splice, in all:        ${ms(median(times.write))}`);
  console.log(`  cache getRecordFiles + Map:       ${ms(median(times.read))}`);
  console.log(`  cache putRecordFiles + Map:       ${ms(median(times.put))}`);
} finally {
  await rm(dir, {recursive: true, force: true});
}
