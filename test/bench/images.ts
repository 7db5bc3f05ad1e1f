// `strata images` and the workbench's image list on a store of 2,000 images: cold (a new process's first
// listing) and warm, plus resolving an image by ID. Run: node --import tsx test/bench/images.ts [images=2000]
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {spawnSync} from 'node:child_process';
import {Engine} from '../../engine/index.js';
import {writeLayer} from '../../engine/layer/index.js';

const count = Number(process.argv[2] ?? 2000);
const mediaType = 'application/vnd.oci.image.layer.v1.tar';

async function makeStore(root: string): Promise<void> {
  const engine = await Engine.open({root, env: {}});
  const writer = engine.store.content.createBlobWriter();
  await writeLayer([{path: 'etc', type: 'dir', mode: 0o755, uid: 0, gid: 0}], writer);
  const base = await writer.commit();
  const entries: {mediaType: string; digest: string; size: number; annotations: Record<string, string>}[] = [];
  const one = async (i: number) => {
    const created = new Date(Date.now() - i * 60_000).toISOString();
    const config = {architecture: 'amd64', os: 'linux', created, config: {Labels: {n: String(i)}}, rootfs: {type: 'layers', diff_ids: [base.digest]}, history: [{created, created_by: `ADD ${i}`}]};
    const configBlob = await engine.store.content.putBlob(Buffer.from(JSON.stringify(config)));
    const manifest = {schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob}, layers: [{mediaType, ...base}]};
    const manifestBlob = await engine.store.content.putBlob(Buffer.from(JSON.stringify(manifest)));
    const name = `app${i % 500}:v${Math.floor(i / 500)}`;
    entries[i] = {mediaType: manifest.mediaType, ...manifestBlob, annotations: {'org.opencontainers.image.ref.name': name, 'io.containerd.image.name': `docker.io/library/${name}`}};
  };
  for (let i = 0; i < count; i += 64) await Promise.all(Array.from({length: Math.min(64, count - i)}, (_, k) => one(i + k)));
  await engine.store.updateIndex(index => void index.manifests.push(...entries));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

if (process.argv[3] === '--make') {
  await makeStore(process.argv[4]);
  process.exit(0);
}

if (process.argv[3] === '--measure') {
  const root = process.argv[4];
  const t0 = performance.now();
  const engine = await Engine.open({root, env: {}});
  const rows = await engine.listImages();
  const cold = performance.now() - t0;
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await engine.listImages();
    warm.push(performance.now() - t);
  }
  const byId: number[] = [];
  for (const row of rows.slice(0, 20)) {
    const t = performance.now();
    await engine.history(row.id.slice(7, 19));
    byId.push(performance.now() - t);
  }
  console.log(JSON.stringify({rows: rows.length, cold, warm: median(warm), historyById: median(byId)}));
  process.exit(0);
}

const folder = await mkdtemp(join(tmpdir(), 'strata-bench-images-'));
try {
  const root = join(folder, 'store');
  await makeStore(root);
  const runs = Array.from({length: 5}, () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, String(count), '--measure', root], {encoding: 'utf8'});
    return JSON.parse(result.stdout.trim().split('\n').pop()!);
  });
  const cli = Array.from({length: 5}, () => {
    const t = performance.now();
    spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'source', 'cli.ts'), '--root', root, 'images', '-q'], {encoding: 'utf8'});
    return performance.now() - t;
  });
  console.log(`images: ${count}`);
  console.log(`listImages, cold (new process): median ${median(runs.map(r => r.cold)).toFixed(1)} ms`);
  console.log(`listImages, warm:               median ${median(runs.map(r => r.warm)).toFixed(1)} ms`);
  console.log(`history by ID prefix, warm:     median ${median(runs.map(r => r.historyById)).toFixed(1)} ms`);
  console.log(`strata images -q (whole process, tsx): median ${median(cli).toFixed(0)} ms`);
} finally {
  await rm(folder, {recursive: true, force: true});
}
