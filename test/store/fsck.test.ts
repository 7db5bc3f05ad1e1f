import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdir, rm, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {MediaType, sha256Digest} from '../../engine/image/index.js';
import {Annotation} from '../../engine/store/index.js';
import {makeImage, makeTempStore, snapshotTree} from './helpers.js';

describe('fsck', () => {
  test('a healthy store has no problems and fsck changes nothing', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await makeImage(store, {layers: ['a', 'b'], tags: ['one']});
      await makeImage(store, {layers: ['c']});
      const before = await snapshotTree(store.root);
      assert.deepEqual(await store.fsck(), []);
      assert.deepEqual(await snapshotTree(store.root), before);
    } finally {
      await cleanup();
    }
  });

  test('a corrupted blob is reported by its digest and nothing is repaired', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {layers: ['good layer', 'bad layer'], tags: ['hurt']});
      const bad = image.manifest.layers[1].digest;
      const path = store.content.blobPath(bad);
      await writeFile(path, 'BAD LAYER');
      const before = await snapshotTree(store.root);
      const problems = await store.fsck();
      assert.deepEqual(problems.map(problem => [problem.kind, problem.digest]), [['blob-corrupt', bad]]);
      assert.match(problems[0].message, new RegExp(`blob ${bad}: content hashes to sha256:`));
      assert.deepEqual(await snapshotTree(store.root), before);
    } finally {
      await cleanup();
    }
  });

  test('a missing layer, a wrong size and a missing manifest are reported with the tag they break', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const first = await makeImage(store, {layers: ['one'], tags: ['first']});
      const second = await makeImage(store, {layers: ['two', 'three'], tags: ['second']});
      const third = await makeImage(store, {layers: ['four'], tags: ['third']});
      await rm(store.content.blobPath(first.manifest.layers[0].digest));
      await writeFile(store.content.blobPath(second.manifest.layers[1].digest), 'three and more');
      await rm(store.content.blobPath(third.manifestDigest));
      const problems = (await store.fsck()).map(problem => [problem.kind, problem.digest, problem.ref]);
      assert.deepEqual(problems.sort(), [
        ['blob-corrupt', second.manifest.layers[1].digest, undefined],
        ['blob-missing', first.manifest.layers[0].digest, 'first:latest'],
        ['blob-missing', third.manifestDigest, 'third:latest'],
        ['size-mismatch', second.manifest.layers[1].digest, 'second:latest'],
      ].sort());
    } finally {
      await cleanup();
    }
  });

  test('bad blob names, an invalid config, a bad tag and a broken layout file are all reported', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await makeImage(store, {tags: ['fine']});
      await writeFile(join(store.paths.blobs, 'sha256', 'A'.repeat(64)), 'x');
      await mkdir(join(store.paths.blobs, 'sha384'));
      await writeFile(join(store.paths.blobs, 'sha384', 'abc'), 'unknown algorithms are not verified');
      // An image whose config says rootfs.type "layer".
      const configBytes = Buffer.from(JSON.stringify({architecture: 'amd64', os: 'linux', rootfs: {type: 'layer', diff_ids: []}}));
      const config = await store.content.putBlob(configBytes);
      const manifest = await store.content.putBlob(Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MediaType.ociManifest, config: {mediaType: MediaType.ociConfig, ...config}, layers: [],
      })));
      await store.updateIndex(index => {
        index.manifests.push({mediaType: MediaType.ociManifest, ...manifest, annotations: {[Annotation.refName]: 'broken:1'}});
        index.manifests.push({mediaType: MediaType.ociManifest, ...manifest, annotations: {[Annotation.refName]: 'Not A Ref'}});
      });
      await writeFile(store.paths.layout, '{"imageLayoutVersion": 1}');
      const problems = await store.fsck();
      const kinds = problems.map(problem => problem.kind).sort();
      assert.deepEqual(kinds, ['blob-name', 'config-invalid', 'config-invalid', 'layout', 'reference-invalid']);
      assert.equal(problems[0].kind, 'layout');
      assert.ok(problems.some(problem => problem.kind === 'config-invalid' && problem.ref === 'broken:1' && /rootfs.type "layer"/.test(problem.message)));
    } finally {
      await cleanup();
    }
  });

  test('an artifact with an opaque config is checked for presence only', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const config = await store.content.putBlob(Buffer.from('{}'));
      const blob = await store.content.putBlob(Buffer.from('signature bytes'));
      const manifest = await store.content.putBlob(Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: 'application/vnd.example.sig',
        config: {mediaType: MediaType.ociEmpty, ...config}, layers: [{mediaType: 'application/vnd.example.sig', ...blob}],
      })));
      await store.updateIndex(index => {
        index.manifests.push({mediaType: MediaType.ociManifest, ...manifest, annotations: {[Annotation.refName]: 'sig:1'}});
      });
      assert.deepEqual(await store.fsck(), []);
      assert.deepEqual(await store.listImages(), [], 'an artifact is not listed as an image');
      assert.deepEqual((await store.gc()).removed, [], 'but its blobs are kept');
      await rm(store.content.blobPath(blob.digest));
      assert.deepEqual((await store.fsck()).map(problem => [problem.kind, problem.digest]), [['blob-missing', blob.digest]]);
    } finally {
      await cleanup();
    }
  });

  test('an unreadable index.json is reported, not thrown', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await writeFile(store.paths.index, '{"schemaVersion": 2, "manif');
      const problems = await store.fsck();
      assert.deepEqual(problems.map(problem => problem.kind), ['index']);
    } finally {
      await cleanup();
    }
  });

  test('leftover temporary writes are not problems', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await writeFile(join(store.paths.tmp, 'blob-123-abandoned'), 'half');
      assert.deepEqual(await store.fsck(), []);
      assert.ok((await stat(join(store.paths.tmp, 'blob-123-abandoned'))).isFile());
      assert.equal(await store.content.hasBlob(sha256Digest('half')), false);
    } finally {
      await cleanup();
    }
  });
});
