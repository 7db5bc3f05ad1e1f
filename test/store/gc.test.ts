import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {readdir, utimes, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {MediaType} from '../../engine/image/index.js';
import {BlobNotFoundError, GcRefusedError, hostPlatform} from '../../engine/store/index.js';
import {makeImage, makeTempStore, putLayers} from './helpers.js';

describe('gc', () => {
  test('gc removes only what nothing references and every image stays readable', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const kept = await makeImage(store, {layers: ['shared', 'mine'], tags: ['kept']});
      const dangling = await makeImage(store, {layers: ['shared', 'dangling']});
      const removed = await makeImage(store, {layers: ['shared', 'removed'], tags: ['removed']});
      const [stray] = await putLayers(store, ['stray']);
      await store.removeImage('removed');
      const reachableBefore = [kept, dangling].flatMap(image => [image.manifestDigest, image.id, ...image.manifest.layers.map(layer => layer.digest)]);

      const result = await store.gc();
      const removedDigests = result.removed.map(blob => blob.digest).sort();
      assert.deepEqual(removedDigests, [removed.manifestDigest, removed.id, removed.manifest.layers[1].digest, stray.digest].sort());
      assert.equal(result.reclaimedBytes, result.removed.reduce((total, blob) => total + blob.size, 0));
      for (const digest of reachableBefore) assert.ok(await store.content.hasBlob(digest), `kept ${digest}`);
      assert.ok(await store.content.hasBlob(removed.manifest.layers[0].digest), 'a layer shared with a kept image stays');
      assert.deepEqual((await store.listImages()).map(image => image.id).sort(), [kept.id, dangling.id].sort());
      assert.deepEqual(await store.fsck(), []);
      assert.deepEqual((await store.gc()).removed, [], 'a second gc finds nothing');
    } finally {
      await cleanup();
    }
  });

  test('gc keeps extra roots such as layers that build cache records use', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const [cached, loose] = await putLayers(store, ['cached layer', 'loose layer']);
      const result = await store.gc({keep: new Set([cached.digest])});
      assert.deepEqual(result.removed.map(blob => blob.digest), [loose.digest]);
      assert.ok(await store.content.hasBlob(cached.digest));
    } finally {
      await cleanup();
    }
  });

  test('gc with a grace period keeps recently written unreferenced blobs', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const [fresh, old] = await putLayers(store, ['fresh', 'old']);
      const past = new Date(Date.now() - 60 * 60_000);
      await utimes(store.content.blobPath(old.digest), past, past);
      const result = await store.gc({graceMs: 10 * 60_000});
      assert.deepEqual(result.removed.map(blob => blob.digest), [old.digest]);
      assert.ok(await store.content.hasBlob(fresh.digest));
    } finally {
      await cleanup();
    }
  });

  test('dry run reports without removing', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const [loose] = await putLayers(store, ['loose']);
      const result = await store.gc({dryRun: true});
      assert.deepEqual(result.removed.map(blob => blob.digest), [loose.digest]);
      assert.ok(await store.content.hasBlob(loose.digest));
    } finally {
      await cleanup();
    }
  });

  test('gc removes stale temporary writes but not fresh ones or files it does not own', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const past = new Date(Date.now() - 60 * 60_000);
      for (const name of ['blob-1-stale', 'index-1-stale', 'builder-scratch']) {
        await writeFile(join(store.paths.tmp, name), 'x');
        await utimes(join(store.paths.tmp, name), past, past);
      }
      await writeFile(join(store.paths.tmp, 'blob-2-fresh'), 'x');
      const result = await store.gc();
      assert.deepEqual(result.removedTemporary.sort(), ['blob-1-stale', 'index-1-stale']);
      assert.deepEqual((await readdir(store.paths.tmp)).sort(), ['blob-2-fresh', 'builder-scratch']);
    } finally {
      await cleanup();
    }
  });

  test('gc deletes nothing when a referenced manifest is damaged', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {tags: ['damaged']});
      await putLayers(store, ['loose']);
      await writeFile(store.content.blobPath(image.manifestDigest), 'not json, not the right bytes');
      const blobsBefore = await store.content.listBlobs();
      await assert.rejects(store.gc(), (error: unknown) => error instanceof GcRefusedError && /nothing was deleted/.test(error.message));
      assert.deepEqual(await store.content.listBlobs(), blobsBefore);
    } finally {
      await cleanup();
    }
  });

  test('gc racing with putImage never leaves an image with missing blobs, and a grace period lets the puts win', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      // Without grace, a put may lose its fresh blobs to gc; it must then fail loudly, never half-succeed.
      const raced = await Promise.all(Array.from({length: 8}, (_, n) =>
        Promise.allSettled([store.gc(), makeImage(store, {layers: [`race ${n}`], tags: [`race:${n}`]})])));
      for (const [, put] of raced) {
        if (put.status === 'rejected') assert.ok(put.reason instanceof BlobNotFoundError, String(put.reason));
      }
      // With a grace period, blobs written for an image not yet in the index survive.
      const graced = await Promise.all(Array.from({length: 8}, (_, n) =>
        Promise.all([store.gc({graceMs: 60_000}), makeImage(store, {layers: [`grace ${n}`], tags: [`grace:${n}`]})])));
      assert.equal(graced.length, 8);
      for (let n = 0; n < 8; n++) assert.ok(await store.resolveImage(`grace:${n}`));
      for (const image of await store.listImages()) {
        for (const digest of [image.manifestDigest, image.id, ...image.manifest.layers.map(layer => layer.digest)]) {
          assert.ok(await store.content.hasBlob(digest), `${image.tags[0]} keeps ${digest}`);
        }
      }
      assert.deepEqual(await store.fsck(), []);
    } finally {
      await cleanup();
    }
  });

  test('gc follows multi-platform indexes to their manifests', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {tags: ['single']});
      const indexBytes = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: MediaType.ociIndex,
        manifests: [{...image.target, platform: hostPlatform()}],
      }));
      const index = await store.content.putBlob(indexBytes);
      await store.registerImage({mediaType: MediaType.ociIndex, ...index}, ['multi']);
      await store.untag('single', {keepDangling: false});
      assert.deepEqual((await store.gc()).removed, []);
      assert.equal((await store.resolveImage('multi')).id, image.id);
      assert.deepEqual(await store.fsck(), []);
    } finally {
      await cleanup();
    }
  });
});
