// Benchmark (not a test): index a 100,000-file layer tar several times; print the median time and peak memory.
// Run: node --import tsx test/bench/layer-index.ts [files=100000] [runs=7]
import {createHash} from 'node:crypto';
import {createReadStream, createWriteStream} from 'node:fs';
import {mkdtemp, rm, stat} from 'node:fs/promises';
import os, {tmpdir} from 'node:os';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {indexLayer, serializeIndex, writeLayer, type LayerEntry} from '../../engine/layer/index.js';

const fileCount = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 7);

function* entries(): Generator<LayerEntry> {
  const perDir = 100;
  for (let d = 0; d < fileCount / perDir; d++) {
    yield {path: `usr/share/pkg${d}`, type: 'dir', mode: 0o755, uid: 0, gid: 0};
    for (let f = 0; f < perDir; f++) {
      // Small, varied contents, like a package tree: mostly a few hundred bytes.
      const content = Buffer.from(`file ${d}/${f} `.repeat(1 + ((d * perDir + f) % 40)));
      yield {path: `usr/share/pkg${d}/file-${f}.txt`, type: 'file', mode: 0o644, uid: 0, gid: 0, content};
    }
  }
}

const dir = await mkdtemp(join(tmpdir(), 'strata-bench-layer-'));
try {
  const tarPath = join(dir, 'layer.tar');
  const buildStart = performance.now();
  const written = await writeLayer(entries(), createWriteStream(tarPath));
  const buildMs = performance.now() - buildStart;
  const tarBytes = (await stat(tarPath)).size;
  console.log(`layer: ${fileCount} files, ${(tarBytes / 1e6).toFixed(1)} MB tar, written in ${buildMs.toFixed(0)} ms (${written.diffId.slice(0, 19)})`);

  let peakRss = 0;
  let peakHeap = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  }, 5);
  global.gc?.();
  const baseline = process.memoryUsage();
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let serialized = 0;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const index = await indexLayer(createReadStream(tarPath, {highWaterMark: 1 << 20}));
    times.push(performance.now() - start);
    const used = process.cpuUsage(cpu);
    cpuTimes.push((used.user + used.system) / 1000);
    if (index.files.length !== fileCount + fileCount / 100) throw new Error(`indexed ${index.files.length} records`);
    serialized = serializeIndex(index).length;
  }
  clearInterval(sampler);
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const medianCpu = cpuTimes[Math.floor(cpuTimes.length / 2)];
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  console.log(`indexLayer: median ${median.toFixed(0)} ms over ${runs} runs (min ${times[0].toFixed(0)}, max ${times[times.length - 1].toFixed(0)}); CPU median ${medianCpu.toFixed(0)} ms`);
  // A yardstick for reading the figures on another machine: SHA-256 of 100 MB in one call.
  const yardstickStart = performance.now();
  createHash('sha256').update(Buffer.alloc(100e6)).digest();
  const yardstick = performance.now() - yardstickStart;
  console.log(
    `machine: ${os.cpus().length} CPUs, load average ${os.loadavg().map(load => load.toFixed(1)).join(' ')}, ` +
      `sha256 of 100 MB takes ${yardstick.toFixed(0)} ms`,
  );
  console.log(`memory: peak RSS ${mb(peakRss)} (baseline ${mb(baseline.rss)}), peak heap ${mb(peakHeap)} (baseline ${mb(baseline.heapUsed)})`);
  console.log(`serialized index: ${mb(serialized)} of JSON`);
} finally {
  await rm(dir, {recursive: true, force: true});
}
