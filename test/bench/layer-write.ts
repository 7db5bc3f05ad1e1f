// Benchmark (not a test): write a layer holding one 1 GB file and check that memory stays flat while it streams.
// Run: node --import tsx test/bench/layer-write.ts [megabytes=1024]
import {open, mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Writable} from 'node:stream';
import {writeLayer, writeGzipLayer} from '../../engine/layer/index.js';

const megabytes = Number(process.argv[2] ?? 1024);
const dir = await mkdtemp(join(tmpdir(), 'strata-bench-write-'));
try {
  // A sparse file: reading it costs no disk, so the figure is the writer's own.
  const source = join(dir, 'big.bin');
  const handle = await open(source, 'w');
  await handle.truncate(megabytes * 1024 * 1024);
  await handle.close();
  const entries = [{path: 'data/big.bin', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, sourcePath: source}];
  const sink = () => new Writable({write: (_chunk, _encoding, callback) => callback()});

  for (const [name, write] of [
    ['writeLayer', () => writeLayer(entries, sink())],
    ['writeGzipLayer (level 1)', () => writeGzipLayer(entries, sink(), {level: 1})],
  ] as const) {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const start = performance.now();
    const result = await write();
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    console.log(
      `${name}: ${megabytes} MB in ${seconds.toFixed(1)} s (${(megabytes / seconds).toFixed(0)} MB/s), ` +
        `RSS ${(before / 2 ** 20).toFixed(0)} -> peak ${(peak / 2 ** 20).toFixed(0)} MB, tar ${result.size} bytes`,
    );
  }
} finally {
  await rm(dir, {recursive: true, force: true});
}
