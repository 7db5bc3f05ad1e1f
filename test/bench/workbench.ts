// Benchmark (not a test): the workbench over a store of 2,000 images, one of which has a 100,000-file layer.
// Prints the first frame time, key press to next frame (median and p95) in the image list and in the file
// tree, and the peak memory. Targets: first frame < 400 ms, p95 < 30 ms, peak RSS < 250 MB.
// Run: node --import tsx test/bench/workbench.ts [images=2000] [files=100000] [presses=200]
// To measure again without making the store again (it takes a while): make one with
// `--setup DIR IMAGES FILES`, then run with `--store DIR/store [images] [files] [presses]` (that store is kept).
import {spawnSync} from 'node:child_process';
import {EventEmitter} from 'node:events';
import {mkdtemp, rm} from 'node:fs/promises';
import os, {tmpdir} from 'node:os';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';
import {performance} from 'node:perf_hooks';
import {Engine} from '../../engine/index.js';
import {writeLayer, type LayerEntry} from '../../engine/layer/index.js';

// As `strata ui` does: React's production build (it is chosen when react is first loaded).
process.env.NODE_ENV ??= 'production';
const React = (await import('react')).default;
const ink = await import('ink');
const {render} = ink;
const {App} = await import('../../source/app/App.js');
// As `strata ui` does: the workbench's garbage collection setting (see source/app/memory.ts).
(await import('../../source/app/memory.js')).tuneHeapForWorkbench();

// `--setup DIR IMAGES FILES` (internal): make the store in DIR in a child process, so the measured process's
// memory is the workbench's, not what writing 100,000 files into a tar took.
const setupMode = process.argv[2] === '--setup';
const reusedStore = process.argv[2] === '--store' ? process.argv[3] : undefined;
const args = setupMode || reusedStore ? process.argv.slice(4) : process.argv.slice(2);
const imageCount = Number(args[0] ?? 2000);
const fileCount = Number(args[1] ?? 100_000);
const presses = Number(args[2] ?? 200);
const columns = 100;
const rows = 30;

/** A terminal for Ink: remembers what was drawn and lets the benchmark type keys. */
class Terminal extends EventEmitter {
  readonly columns = columns;
  readonly rows = rows;
  readonly isTTY = true;
  frame = '';
  write = (data: string): boolean => {
    // Synchronized-output markers come as writes of their own; a frame is the big write between them.
    if (data.length > 64) this.frame = data;
    return true;
  };
}

class Keyboard extends EventEmitter {
  readonly isTTY = true;
  private pending: string | null = null;
  type(data: string): void {
    this.pending = data;
    this.emit('readable');
    this.emit('data', data);
  }
  read = (): string | null => {
    const data = this.pending;
    this.pending = null;
    return data;
  };
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

function* bigLayer(): Generator<LayerEntry> {
  const perDir = 100;
  yield {path: 'usr', type: 'dir', mode: 0o755, uid: 0, gid: 0};
  yield {path: 'usr/share', type: 'dir', mode: 0o755, uid: 0, gid: 0};
  for (let d = 0; d < fileCount / perDir; d++) {
    yield {path: `usr/share/pkg${d}`, type: 'dir', mode: 0o755, uid: 0, gid: 0};
    for (let f = 0; f < perDir; f++) {
      const content = Buffer.from(`file ${d}/${f} `.repeat(1 + ((d * perDir + f) % 40)));
      yield {path: `usr/share/pkg${d}/file-${f}.txt`, type: 'file', mode: 0o644, uid: 0, gid: 0, content};
    }
  }
}

async function putLayer(engine: Engine, entries: Iterable<LayerEntry>): Promise<{digest: string; size: number}> {
  const writer = engine.store.content.createBlobWriter();
  await writeLayer(entries, writer);
  const blob = await writer.commit();
  return {digest: blob.digest, size: blob.size};
}

const mediaType = 'application/vnd.oci.image.layer.v1.tar';

async function makeStore(root: string): Promise<Engine> {
  const engine = await Engine.open({root, env: {}});
  const base = await putLayer(engine, [
    {path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0},
    {path: 'etc/os-release', type: 'file', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('ID=bench\n')},
  ]);
  const big = await putLayer(engine, bigLayer());
  const created = (minutesAgo: number): string => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const config = (i: number, layers: {digest: string}[]) => ({
    architecture: 'amd64',
    os: 'linux',
    created: created(i),
    config: {Labels: {'bench.index': String(i)}},
    rootfs: {type: 'layers' as const, diff_ids: layers.map(layer => layer.digest)},
    history: layers.map((_, index) => ({created: created(i), created_by: index === 0 ? 'ADD base.tar /' : `COPY pkg/ /usr/share/ # ${i}`})),
  });
  await engine.store.putImage({config: config(0, [base, big]), layers: [{mediaType, ...base}, {mediaType, ...big}], tags: ['big:latest']});
  // The other images go in with one index write (putImage per image would rewrite index.json 2,000 times).
  const entries: {mediaType: string; digest: string; size: number; annotations: Record<string, string>}[] = [];
  const makeOne = async (i: number) => {
    const configBytes = Buffer.from(JSON.stringify(config(i, [base])));
    const configBlob = await engine.store.content.putBlob(configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: configBlob.digest, size: configBlob.size},
      layers: [{mediaType, ...base}],
    };
    const manifestBlob = await engine.store.content.putBlob(Buffer.from(JSON.stringify(manifest)));
    const name = `app${i % 500}:v${Math.floor(i / 500)}`;
    entries[i - 1] = {
      mediaType: manifest.mediaType,
      digest: manifestBlob.digest,
      size: manifestBlob.size,
      annotations: {'org.opencontainers.image.ref.name': name, 'io.containerd.image.name': `docker.io/library/${name}`},
    };
  };
  for (let i = 1; i < imageCount; i += 64) {
    await Promise.all(Array.from({length: Math.min(64, imageCount - i)}, (_, k) => makeOne(i + k)));
  }
  await engine.store.updateIndex(index => {
    index.manifests.push(...entries);
  });
  return engine;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

const ms = (value: number): string => `${value.toFixed(1)} ms`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

if (setupMode) {
  const engine = await makeStore(join(process.argv[3], 'store'));
  // Index the big layer and list the images once, as any earlier look at the store would have (both are
  // remembered on disk); the benchmark measures the workbench, not a store's first-ever listing.
  await engine.layerTree('big:latest', 1, {aggregate: false});
  await engine.listImages();
  await engine.close();
  process.exit(0);
}

/** Ink's own cost of a frame on this machine: a static 100x30 screen with one changing character. */
async function inkFloor(): Promise<number> {
  const terminal = new Terminal();
  let set: (value: number) => void = () => undefined;
  function Static(): React.JSX.Element {
    const [n, setN] = React.useState(0);
    set = setN;
    const lines = Array.from({length: rows - 3}, (_, i) => `row ${i} ${'x'.repeat(columns - 16)} ${i === n % (rows - 3) ? '>' : ' '}`);
    return React.createElement(ink.Box, {borderStyle: 'round', width: columns, height: rows - 1}, React.createElement(ink.Text, null, lines.join('\n')));
  }
  const instance = render(React.createElement(Static), {stdout: terminal as unknown as NodeJS.WriteStream, stdin: new Keyboard() as unknown as NodeJS.ReadStream, patchConsole: false, maxFps: 1000});
  await new Promise(resolve => setTimeout(resolve, 100));
  const cpu = process.cpuUsage();
  for (let i = 1; i <= 100; i++) {
    set(i);
    await new Promise(resolve => setTimeout(resolve, 2));
  }
  const used = process.cpuUsage(cpu);
  instance.unmount();
  return (used.user + used.system) / 1000 / 100;
}

const folder = await mkdtemp(join(tmpdir(), 'strata-bench-workbench-'));
const storeRoot = reusedStore ?? join(folder, 'store');
try {
  if (reusedStore) console.log(`store: ${reusedStore} (reused; made with --setup for ${imageCount} images and ${fileCount} files)`);
  else {
    const setupStart = performance.now();
    const setup = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--setup', folder, String(imageCount), String(fileCount)], {stdio: 'inherit'});
    if (setup.status !== 0) throw new Error('store setup failed');
    console.log(`store: ${imageCount} images, one with a ${fileCount}-file layer (indexed), made in ${(performance.now() - setupStart).toFixed(0)} ms`);
  }
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  collect();
  // Modules loaded, nothing opened: what any `strata ui` costs before it shows a store.
  const baselineRss = process.memoryUsage().rss;
  // A fresh engine for the workbench, as `strata ui` opens one.
  const engine = await Engine.open({root: storeRoot, env: {}});

  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 5);

  const terminal = new Terminal();
  const keyboard = new Keyboard();
  let renders = 0;
  let lastRenderAt = 0;
  const renderWaiters: (() => void)[] = [];
  const started = performance.now();
  let firstFrameAt = 0;
  const instance = render(React.createElement(App, {engine, root: engine.root, cwd: folder}), {
    stdout: terminal as unknown as NodeJS.WriteStream,
    stdin: keyboard as unknown as NodeJS.ReadStream,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: 60,
    onRender: () => {
      renders++;
      lastRenderAt = performance.now();
      if (!firstFrameAt) firstFrameAt = lastRenderAt;
      for (const resolve of renderWaiters.splice(0)) resolve();
    },
  });

  async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<number> {
    const begin = performance.now();
    while (!check()) {
      if (performance.now() - begin > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise(resolve => setTimeout(resolve, 1));
    }
    return performance.now();
  }

  /** Types a key and returns the time until the next frame is drawn. */
  const cpuTimes: number[] = [];
  async function keyToFrame(key: string): Promise<number> {
    await new Promise(resolve => setTimeout(resolve, 20));
    const frame = new Promise<void>(resolve => renderWaiters.push(resolve));
    const at = performance.now();
    const cpu = process.cpuUsage();
    keyboard.type(key);
    await Promise.race([frame, new Promise(resolve => setTimeout(resolve, 1000))]);
    const used = process.cpuUsage(cpu);
    cpuTimes.push((used.user + used.system) / 1000);
    return lastRenderAt >= at ? lastRenderAt - at : 1000;
  }

  const listedAt = await until(() => terminal.frame.includes(`${imageCount} images`) && terminal.frame.includes('app'), 'the image list');
  console.log(`first frame: ${ms(firstFrameAt - started)} (any paint), ${ms(listedAt - started)} (with the ${imageCount} images listed)`);
  const peaks: string[] = [];
  const notePeak = (phase: string): void => {
    peaks.push(`${phase} ${mb(Math.max(peakRss, process.memoryUsage().rss))}`);
  };
  notePeak('image list shown');

  const listTimes: number[] = [];
  for (let i = 0; i < presses; i++) listTimes.push(await keyToFrame(i % 10 === 9 ? '\u001B[6~' : 'j'));
  listTimes.push(await keyToFrame('G'), await keyToFrame('g'), await keyToFrame('s'), await keyToFrame('s'), await keyToFrame('s'));
  notePeak('list keys');
  console.log(`images list, key to frame: median ${ms(percentile(listTimes, 0.5))}, p95 ${ms(percentile(listTimes, 0.95))}, max ${ms(Math.max(...listTimes))} (${listTimes.length} keys: j, PgDn, G, g, s)`);

  // Go to the big image and its 100,000-file layer.
  for (const key of ['/', ...'big:latest', '\r']) await keyToFrame(key);
  await until(() => terminal.frame.includes('COPY pkg/'), 'the big image layers');
  notePeak('big image selected');
  await keyToFrame(']');
  await keyToFrame('3');
  const treeAsked = performance.now();
  const treeShown = await until(() => terminal.frame.includes('pkg0/'), 'the big tree', 120_000);
  notePeak('tree shown');
  console.log(`file tree: ${fileCount} files shown ${ms(treeShown - treeAsked)} after asking (engine tree included)`);

  const treeTimes: number[] = [];
  const treeKeys = ['j', 'j', 'j', 'j', 'j', 'j', 'j', 'j', '\u001B[6~', 'k'];
  for (let i = 0; i < presses; i++) treeTimes.push(await keyToFrame(treeKeys[i % treeKeys.length]));
  const toggles: Record<string, number[]> = {'G (bottom)': [], 'g (top)': [], 'space (fold/unfold)': [], 's (sort by size)': [], 'u (hide unchanged)': [], '/ find + Enter': []};
  for (let i = 0; i < 5; i++) {
    toggles['G (bottom)'].push(await keyToFrame('G'));
    toggles['g (top)'].push(await keyToFrame('g'));
    await keyToFrame('j');
    toggles['space (fold/unfold)'].push(await keyToFrame(' '));
    toggles['s (sort by size)'].push(await keyToFrame('s'));
    toggles['u (hide unchanged)'].push(await keyToFrame('u'));
    await keyToFrame('/');
    for (const key of `file-${i}7.txt`) await keyToFrame(key);
    toggles['/ find + Enter'].push(await keyToFrame('\r'));
  }
  notePeak('tree keys');
  const allTree = [...treeTimes, ...Object.values(toggles).flat()];
  console.log(`file tree, key to frame: median ${ms(percentile(allTree, 0.5))}, p95 ${ms(percentile(allTree, 0.95))}, max ${ms(Math.max(...allTree))} (${allTree.length} keys)`);
  for (const [name, times] of Object.entries(toggles)) console.log(`  ${name}: median ${ms(percentile(times, 0.5))}, max ${ms(Math.max(...times))}`);

  const all = [...listTimes, ...allTree];
  console.log(`CPU per key (less sensitive to machine load): median ${ms(percentile(cpuTimes, 0.5))}, p95 ${ms(percentile(cpuTimes, 0.95))}`);
  console.log(`all keys: median ${ms(percentile(all, 0.5))}, p95 ${ms(percentile(all, 0.95))} over ${all.length} keys, ${renders} frames drawn`);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  collect();
  const settled = process.memoryUsage();
  instance.unmount();
  console.log(`memory with the 100,000-file tree open, after gc: RSS ${mb(settled.rss)}, heap ${mb(settled.heapUsed)}`);
  console.log(`memory: peak RSS ${mb(peakRss)} (${mb(baselineRss)} before the workbench opened, modules loaded); peak so far when ${peaks.join(', ')}`);
  const probe = await Engine.open({root: storeRoot, env: {}});
  const listStart = performance.now();
  await probe.listImages();
  console.log(`engine alone: listImages of ${imageCount} images ${ms(performance.now() - listStart)} (a fresh Engine)`);
  await probe.close();
  const floor = await inkFloor();
  console.log(`ink floor on this machine: ${ms(floor)} CPU per frame for a static ${columns}x${rows} screen`);
  console.log(`machine: ${os.cpus().length} CPUs, load average ${os.loadavg().map(load => load.toFixed(1)).join(' ')}`);
  const verdict = (ok: boolean): string => (ok ? 'ok' : 'MISSED');
  console.log(`per key, the workbench's CPU (median ${ms(percentile(cpuTimes, 0.5))}) against Ink's own cost of a frame (${ms(floor)}) says how much is ours`);
  console.log(`targets: first frame < 400 ms ${verdict(listedAt - started < 400)}; p95 < 30 ms ${verdict(percentile(all, 0.95) < 30)}; memory < 250 MB ${verdict(peakRss < 250 * 1024 * 1024)}`);
  await engine.close();
} finally {
  await rm(folder, {recursive: true, force: true});
}
