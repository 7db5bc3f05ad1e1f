// Benchmark (not a test): seeding the snapshot of a rebuilt `COPY . .` after a one-file edit, from the earlier
// snapshot of the same step (2,000 files in 50 folders, 20 MB, extracted as the engine extracts a layer).
// Per run: wall time until the view (earlier snapshot + a folder of changes, see SeedInProgress.view) and until
// the folder is complete, this thread's CPU time (what a rebuild's main thread pays) and the CPU of every thread
// and child process (what the 2-core machine pays, the layer hash included in a real rebuild). Medians.
// The process holds `ballast` MB (a watch process is about 200 MB), since forking a helper costs in proportion.
// Needs root (seeding needs it). Run: node --import tsx test/bench/snapshot-seed.ts [files=2000] [megabytes=20] [runs=20] [ballast=200]
import {createReadStream, readdirSync, readFileSync} from 'node:fs';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {createWriteStream} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {finished} from 'node:stream/promises';
import {startLinking} from '../../engine/build/snapshot-seed.js';
import type {LayerEntry} from '../../engine/layer/entry.js';
import {writeLayer} from '../../engine/layer/writer.js';
import {extractLayerDiff} from '../../engine/snapshot/extract-diff.js';

const fileCount = Number(process.argv[2] ?? 2000);
const megabytes = Number(process.argv[3] ?? 20);
const runs = Number(process.argv[4] ?? 20);
const ballast = Buffer.alloc(Number(process.argv[5] ?? 200) * 1024 * 1024).fill(1);

/** Deterministic filler: a cheap xorshift stream, as the watch benchmark's context. */
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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Nanoseconds this thread has run (the scheduler's figure, finer than getrusage's ticks). */
function mainThreadNs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** Nanoseconds every thread of this process has run, plus waited-for children (in clock ticks, 10 ms). */
function totalNs(): number {
  let sum = 0;
  for (const task of readdirSync('/proc/self/task')) {
    try {
      sum += Number(readFileSync(`/proc/self/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17 of stat, 14 and 15 after the name.
  return sum + (Number(fields[13]) + Number(fields[14])) * 1e7;
}

if (process.getuid?.() !== 0) {
  console.log('snapshot-seed: skipped, seeding snapshots needs root');
  process.exit(0);
}

const dir = await mkdtemp(join(tmpdir(), 'strata-bench-seed-'));
try {
  // The context and the entries of `COPY . /app/`, with identities as CopyPlan gives them.
  const context = join(dir, 'context');
  const perFile = Math.floor((megabytes * 1024 * 1024) / fileCount);
  const mtime = new Date(1_700_000_000_000);
  const entries: LayerEntry[] = [{path: 'app', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime}];
  const identities: Record<string, string> = {};
  const addFile = (path: string, sourcePath: string, size: number) => {
    entries.push({path, type: 'file', mode: 0o644, uid: 0, gid: 0, size, sourcePath, mtime});
    identities[path] = `${path}|1`;
  };
  await mkdir(join(context, 'src'), {recursive: true});
  entries.push({path: 'app/src', type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime});
  await writeFile(join(context, 'src', 'app.js'), 'console.log("edit 0")\n');
  addFile('app/src/app.js', join(context, 'src', 'app.js'), 22);
  for (let index = 0; index < 50; index++) {
    const name = `module${String(index).padStart(2, '0')}`;
    await mkdir(join(context, 'src', name));
    entries.push({path: `app/src/${name}`, type: 'dir', mode: 0o755, uid: 0, gid: 0, mtime});
  }
  for (let index = 1; index < fileCount; index++) {
    const relative = `src/module${String(index % 50).padStart(2, '0')}/file${index}.js`;
    await writeFile(join(context, relative), filler(index, perFile));
    addFile(`app/${relative}`, join(context, relative), perFile);
  }

  // The earlier snapshot, extracted from the earlier layer as Snapshots.ensure extracts it.
  const blob = join(dir, 'earlier.tar');
  const out = createWriteStream(blob);
  await writeLayer(entries, out);
  await finished(out);
  const earlier = join(dir, 'earlier');
  await extractLayerDiff(createReadStream(blob), earlier, [], {chown: true});

  // Each run: src/app.js edited, so its identity changes; everything else is linked.
  const edited = join(dir, 'edited.js');
  await writeFile(edited, 'console.log("edit 1")\n');
  const current = {...identities, 'app/src/app.js': 'app/src/app.js|2'};
  const now = entries.map(entry => (entry.path === 'app/src/app.js' ? {...entry, sourcePath: edited} : entry));
  const reuse = {dir: earlier, previous: identities, current};

  const views: number[] = [];
  const walls: number[] = [];
  const mains: number[] = [];
  const totals: number[] = [];
  for (let run = 0; run < runs + 2; run++) {
    const target = join(dir, `seed-${run}`);
    await mkdir(target);
    const wall = performance.now();
    const total = totalNs();
    const main = mainThreadNs();
    const linking = startLinking(target, now, reuse, `${target}-view`);
    let viewed = 0;
    void linking.view.then(made => (viewed = made ? performance.now() - wall : Number.NaN));
    await linking.built;
    const figures = [performance.now() - wall, (mainThreadNs() - main) / 1e6, (totalNs() - total) / 1e6] as const;
    // The first two runs warm up (a worker, the page cache, the JIT); the first is shown on its own.
    if (run === 0) console.log(`first seed: wall ${figures[0].toFixed(1)} ms, main thread ${figures[1].toFixed(1)} ms, all ${figures[2].toFixed(1)} ms`);
    if (run >= 2) {
      views.push(viewed);
      walls.push(figures[0]);
      mains.push(figures[1]);
      totals.push(figures[2]);
    }
    await rm(target, {recursive: true, force: true});
    await rm(`${target}-view`, {recursive: true, force: true});
  }
  const mean = totals.reduce((sum, value) => sum + value, 0) / totals.length;
  console.log(
    `seed a ${fileCount}-file, ${megabytes} MB snapshot after a one-file edit (${runs} runs): ` +
      `view (overlay lowers) after ${median(views).toFixed(1)} ms, folder after ${median(walls).toFixed(1)} ms, main thread ${median(mains).toFixed(1)} ms, ` +
      `all threads and children ${median(totals).toFixed(1)} ms median (${mean.toFixed(1)} mean; children in 10 ms ticks)`,
  );
} finally {
  ballast.fill(0);
  await rm(dir, {recursive: true, force: true});
}
