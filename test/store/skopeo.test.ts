import {test} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {emptyLayerDiffId} from '../../engine/image/index.js';
import {makeImage, makeTempStore, emptyTar} from './helpers.js';

const run = promisify(execFile);

async function skopeoAvailable(): Promise<boolean> {
  try {
    await run('skopeo', ['--version']);
    return true;
  } catch {
    return false;
  }
}

test('skopeo reads tagged images from the store as an OCI layout', async t => {
  if (!(await skopeoAvailable())) {
    t.skip('skopeo not installed');
    return;
  }
  const {store, cleanup} = await makeTempStore();
  try {
    const image = await makeImage(store, {
      layers: [emptyTar()],
      tags: ['demo:latest', '127.0.0.1:5000/team/app:1.2'],
      created: '2024-03-04T05:06:07Z',
      history: [{created: '2024-03-04T05:06:07Z', created_by: 'import empty tar'}],
    });
    assert.equal(image.manifest.layers[0].digest, emptyLayerDiffId, 'the layer is the real empty tar');
    for (const tag of ['demo:latest', '127.0.0.1:5000/team/app:1.2']) {
      const {stdout} = await run('skopeo', ['inspect', `oci:${store.root}:${tag}`]);
      const inspected = JSON.parse(stdout) as {Digest: string; Layers: string[]; Created: string; Architecture: string; Os: string};
      assert.equal(inspected.Digest, image.manifestDigest, tag);
      assert.deepEqual(inspected.Layers, [emptyLayerDiffId]);
      assert.equal(inspected.Created, '2024-03-04T05:06:07Z');
      assert.deepEqual([inspected.Os, inspected.Architecture], ['linux', 'amd64']);
    }
    const {stdout: config} = await run('skopeo', ['inspect', '--config', '--raw', `oci:${store.root}:demo:latest`]);
    assert.deepEqual(Buffer.from(config), image.configBytes, 'skopeo sees the exact config bytes');
    assert.deepEqual(await store.fsck(), [], 'reading with skopeo changed nothing fsck cares about');
  } finally {
    await cleanup();
  }
});
