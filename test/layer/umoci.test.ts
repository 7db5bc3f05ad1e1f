import {test} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {applyLayer, writeLayer, type LayerEntry} from '../../engine/layer/index.js';
import {collector, sha256, snapshotTree, streamOf, file, dir, whiteout} from './helpers.js';

const run = promisify(execFile);


/** Writes a minimal OCI layout holding one image made of `layers` (uncompressed), tagged `test`. */
async function writeLayout(layout: string, layers: Buffer[]) {
  await mkdir(join(layout, 'blobs/sha256'), {recursive: true});
  const put = async (bytes: Buffer) => {
    const digest = sha256(bytes);
    await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), bytes);
    return {digest, size: bytes.length};
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: {type: 'layers', diff_ids: layers.map(layer => sha256(layer))},
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {mediaType: 'application/vnd.oci.image.config.v1+json', ...(await put(config))},
      layers: await Promise.all(
        layers.map(async layer => ({mediaType: 'application/vnd.oci.image.layer.v1.tar', ...(await put(layer))})),
      ),
    }),
  );
  const manifestDescriptor = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...(await put(manifest)),
    annotations: {'org.opencontainers.image.ref.name': 'test'},
  };
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({imageLayoutVersion: '1.0.0'}));
  await writeFile(join(layout, 'index.json'), JSON.stringify({schemaVersion: 2, manifests: [manifestDescriptor]}));
}

test('umoci unpack and applyLayer give the same tree for layers with whiteouts, opaque folders and type changes', async t => {
  const probe = await run('umoci', ['--version']).catch(() => null);
  if (!probe) return t.skip('umoci not installed');
  const tmp = await mkdtemp(join(tmpdir(), 'strata-umoci-'));
  try {
    const layers: LayerEntry[][] = [
      [
        dir('etc'),
        file('etc/hosts', '127.0.0.1\n'),
        file('etc/gone', 'g'),
        dir('etc/conf.d'),
        file('etc/conf.d/a', 'a'),
        dir('etc/conf.d/sub'),
        file('etc/conf.d/sub/b', 'b'),
        dir('var/cache', {mode: 0o700}),
        file('var/cache/blob', 'x'.repeat(1000)),
        file('becomes-dir', 'f'),
        dir('becomes-file'),
        file('becomes-file/child', 'c'),
        {path: 'bin', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: 'usr/bin'},
        dir('usr/bin'),
        file('usr/bin/tool', 'tool', {mode: 0o755}),
        dir('ro', {mode: 0o555}),
        file('ro/inside', 'r'),
      ],
      [
        dir('etc'),
        whiteout('etc/.wh.gone'),
        file('etc/hosts', '10.0.0.1\n', {mode: 0o600}),
        dir('etc/conf.d'),
        whiteout('etc/conf.d/.wh..wh..opq'),
        file('etc/conf.d/new', 'n'),
        dir('var'),
        whiteout('var/.wh.cache'),
        dir('becomes-dir'),
        file('becomes-dir/inside', 'i'),
        file('becomes-file', 'now a file'),
        {path: 'usr/bin/tool2', type: 'hardlink', mode: 0o755, uid: 0, gid: 0, linkname: 'usr/bin/tool'},
        whiteout('.wh.missing'),
      ],
    ];
    const tars: Buffer[] = [];
    for (const entries of layers) {
      const out = collector();
      await writeLayer(entries, out.stream);
      tars.push(out.bytes());
    }
    const layout = join(tmp, 'layout');
    await writeLayout(layout, tars);
    await run('umoci', ['unpack', '--image', `${layout}:test`, join(tmp, 'bundle')]);
    const ours = join(tmp, 'ours');
    for (const tar of tars) await applyLayer(streamOf(tar), ours);
    assert.deepEqual(await snapshotTree(ours), await snapshotTree(join(tmp, 'bundle/rootfs')));
  } finally {
    await rm(tmp, {recursive: true, force: true});
  }
});
