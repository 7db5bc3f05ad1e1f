/**
 * Builder benchmark, side by side with `docker build` (BuildKit) in one run:
 *
 *   a context of 2,000 source files (20 MB), `COPY . .` then a RUN:
 *   - cold build (no build cache), no-op rebuild, rebuild after editing one source file: medians and ratios;
 *   - a 1 GB layer (COPY of a 1 GB file, and a RUN writing 1 GB) with the peak RSS of this process, to show
 *     that layer writing streams.
 *
 * Run: node --import tsx test/bench/build.ts [--runs N] [--no-docker] [--no-big]
 * Docker needs root (a private dockerd is started and stopped, test/helpers/docker.ts); without it only strata
 * figures are printed, with the reason.
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {build, forgetWarmContexts} from '../../engine/build/build.js';
import {pruneCache} from '../../engine/build/cache.js';
import {Store} from '../../engine/store/index.js';
import {baseImage, baseRootfsTar} from '../helpers/base-image.js';
import {startDocker, type DockerDaemon} from '../helpers/docker.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 5;
const withDocker = !args.includes('--no-docker');
const withBig = !args.includes('--no-big');

const dockerfile = 'FROM base:latest\nWORKDIR /app\nCOPY . .\nRUN find . -type f | wc -l > /file-count\n';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function makeContext(dir: string): Promise<string[]> {
  await mkdir(dir, {recursive: true});
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  const files: string[] = [];
  const chunk = Buffer.alloc(10 * 1024);
  for (let d = 0; d < 40; d++) {
    const sub = join(dir, 'src', `module-${String(d).padStart(2, '0')}`);
    await mkdir(sub, {recursive: true});
    for (let f = 0; f < 50; f++) {
      chunk.fill(`// module ${d} file ${f}\n`);
      const path = join(sub, `file-${String(f).padStart(2, '0')}.js`);
      await writeFile(path, chunk);
      files.push(path);
    }
  }
  return files;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

interface Figures {
  cold: number[];
  noop: number[];
  edit: number[];
}

/**
 * Strata and docker measured in turns (strata, docker, strata, docker...), so both see the same machine load:
 * on a shared machine the load moves more than either tool's own variance.
 */
async function benchBoth(context: string, files: string[], root: string, daemon: DockerDaemon | undefined): Promise<{strata: Figures; docker?: Figures}> {
  const store = await Store.open(root);
  await baseImage(store);
  const strataOnce = () => build({store, contextDir: context, tags: ['bench:latest'], network: 'none'});
  const dockerOnce = async (extra: string[] = []) => {
    const result = await daemon!.docker(['build', '--network', 'none', '-q', '-t', 'bench:latest', ...extra, context]);
    if (result.code !== 0) throw new Error(`docker build failed: ${result.stderr}`);
  };
  const strata: Figures = {cold: [], noop: [], edit: []};
  const docker: Figures = {cold: [], noop: [], edit: []};
  // Warm both: base snapshot extracted, base image unpacked.
  await strataOnce();
  if (daemon) await dockerOnce();
  for (let index = 0; index < Math.min(runs, 3); index++) {
    await pruneCache(root);
    forgetWarmContexts();
    strata.cold.push(await timed(strataOnce));
    if (daemon) docker.cold.push(await timed(() => dockerOnce(['--no-cache'])));
  }
  await strataOnce();
  if (daemon) await dockerOnce();
  for (let index = 0; index < runs; index++) {
    strata.noop.push(await timed(strataOnce));
    if (daemon) docker.noop.push(await timed(() => dockerOnce()));
  }
  for (let index = 0; index < runs; index++) {
    // One edit, then each tool rebuilds it (docker's cache has not seen it yet either).
    await writeFile(files[(index * 397) % files.length], `// edited ${index} ${Date.now()}\n`);
    strata.edit.push(await timed(strataOnce));
    if (daemon) docker.edit.push(await timed(() => dockerOnce()));
  }
  return {strata, docker: daemon ? docker : undefined};
}

function printFigures(strata: Figures, docker: Figures | undefined): void {
  const rows: [string, number[], number[] | undefined][] = [
    ['cold build', strata.cold, docker?.cold],
    ['no-op rebuild', strata.noop, docker?.noop],
    ['one-file edit rebuild', strata.edit, docker?.edit],
  ];
  console.log('\n2,000 files / 20 MB context, COPY . . then RUN (medians, ms)');
  console.log('case                     strata     docker     strata/docker');
  for (const [name, mine, theirs] of rows) {
    const a = median(mine);
    const b = theirs ? median(theirs) : NaN;
    console.log(`${name.padEnd(24)} ${a.toFixed(0).padStart(7)}    ${theirs ? b.toFixed(0).padStart(7) : '      -'}    ${theirs ? (a / b).toFixed(2) : '-'}`);
  }
}

async function benchBigLayer(dir: string): Promise<void> {
  const context = join(dir, 'big-context');
  await mkdir(context, {recursive: true});
  const big = join(context, 'big.bin');
  const handle = await import('node:fs/promises').then(fs => fs.open(big, 'w'));
  const block = Buffer.alloc(8 << 20, 7);
  for (let written = 0; written < 1 << 30; written += block.length) await handle.write(block);
  await handle.close();
  await writeFile(join(context, 'Dockerfile'), 'FROM base:latest\nCOPY big.bin /big.bin\nRUN head -c 1073741824 /dev/zero > /made-by-run.bin\n');
  const root = join(dir, 'big-store');
  const store = await Store.open(root);
  await baseImage(store);
  const before = process.memoryUsage().rss;
  const started = performance.now();
  await build({store, contextDir: context, network: 'none'});
  const elapsed = performance.now() - started;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(`\n1 GB layers (COPY of a 1 GB file, RUN writing 1 GB): ${(elapsed / 1000).toFixed(1)} s, rss before ${(before / 2 ** 20).toFixed(0)} MB, peak rss ${(peak / 2 ** 20).toFixed(0)} MB`);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-bench-build-'));
  let daemon: DockerDaemon | undefined;
  try {
    const context = join(dir, 'context');
    const files = await makeContext(context);
    await baseRootfsTar();
    let docker: Figures | undefined;
    if (withDocker) {
      const started = await startDocker();
      if ('skip' in started) console.log(`docker: skipped (${started.skip})`);
      else {
        daemon = started;
        await daemon.loadBaseIntoDocker((await baseRootfsTar()).path, 'base:latest');
        console.log(`docker: private dockerd, storage driver ${daemon.storageDriver}`);
      }
    }
    const figures = await benchBoth(context, files, join(dir, 'store'), daemon);
    docker = figures.docker;
    printFigures(figures.strata, docker);
    if (withBig) await benchBigLayer(dir);
  } finally {
    await daemon?.stop();
    await rm(dir, {recursive: true, force: true});
  }
}

await main();
