import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdir, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {MediaType, sha256Digest} from '../../engine/image/index.js';
import {
  AmbiguousImageError, Annotation, BlobNotFoundError, ImageNotFoundError, NotAStoreError, Store, StoreNotFoundError,
} from '../../engine/store/index.js';
import {UserError} from '../../engine/errors.js';
import {configFor, makeImage, makeTempStore, putLayers, snapshotTree} from './helpers.js';

async function readIndexFile(store: Store) {
  return JSON.parse(await readFile(store.paths.index, 'utf8')) as {manifests: {digest: string; annotations?: Record<string, string>}[]};
}

describe('opening a store', () => {
  test('a missing folder becomes an OCI layout with the store folders', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-open-'));
    try {
      const store = await Store.open(join(dir, 'a', 'store'));
      assert.deepEqual(JSON.parse(await readFile(store.paths.layout, 'utf8')), {imageLayoutVersion: '1.0.0'});
      assert.deepEqual(JSON.parse(await readFile(store.paths.index, 'utf8')), {schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: []});
      assert.deepEqual((await readdir(store.root)).sort(), ['blobs', 'cache', 'containers', 'index.json', 'oci-layout', 'snapshots', 'tmp']);
      assert.deepEqual(await readdir(join(store.root, 'blobs')), ['sha256']);
      assert.deepEqual(await store.fsck(), []);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });

  test('several openers of one new folder all get the same store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-open-'));
    try {
      const root = join(dir, 'store');
      const stores = await Promise.all(Array.from({length: 6}, () => Store.open(root)));
      assert.equal(stores.length, 6);
      assert.deepEqual(JSON.parse(await readFile(join(root, 'oci-layout'), 'utf8')), {imageLayoutVersion: '1.0.0'});
      assert.deepEqual(await readdir(join(root, 'tmp')), [], 'no creation leftovers');
      assert.deepEqual(await stores[3].fsck(), []);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });

  test('opening an existing store writes nothing', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await makeImage(store, {tags: ['still']});
      const before = await snapshotTree(store.root);
      await Store.open(store.root);
      await Store.open(store.root, {create: false});
      assert.deepEqual(await snapshotTree(store.root), before);
    } finally {
      await cleanup();
    }
  });

  test('reopening keeps what is there', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {tags: ['keep:me']});
      const again = await Store.open(store.root);
      assert.equal((await again.resolveImage('keep:me')).id, image.id);
    } finally {
      await cleanup();
    }
  });

  test('a non-empty folder that is not a store is refused and left untouched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-open-'));
    try {
      await writeFile(join(dir, 'notes.txt'), 'mine');
      await assert.rejects(Store.open(dir), (error: unknown) => {
        assert.ok(error instanceof NotAStoreError && error instanceof UserError);
        assert.equal(error.code, 'ERR_NOT_A_STORE');
        assert.match(error.message, /not empty and holds no oci-layout/);
        return true;
      });
      assert.deepEqual(await readdir(dir), ['notes.txt']);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });

  test('create false refuses a missing store and creates nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-open-'));
    try {
      await assert.rejects(Store.open(join(dir, 'nope'), {create: false}), StoreNotFoundError);
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });

  test('an existing OCI layout made by another tool opens as a store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-open-'));
    try {
      await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      await writeFile(join(dir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
      await mkdir(join(dir, 'blobs'));
      const store = await Store.open(dir, {create: false});
      assert.deepEqual(await store.listImages(), []);
      assert.equal(await readFile(join(dir, 'index.json'), 'utf8'), '{"schemaVersion":2,"manifests":[]}', 'index untouched');
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
});

describe('images in the store', () => {
  test('put image stores config, manifest and tagged index entries as docker and containerd name them', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {tags: ['demo', 'demo:1', '127.0.0.1:5000/team/app:1.2'], created: '2024-02-03T04:05:06Z'});
      assert.deepEqual(image.tags, ['demo:latest', 'demo:1', '127.0.0.1:5000/team/app:1.2']);
      const index = await readIndexFile(store);
      assert.equal(index.manifests.length, 3);
      assert.ok(index.manifests.every(entry => entry.digest === image.manifestDigest));
      assert.deepEqual(index.manifests[0].annotations, {
        [Annotation.refName]: 'demo:latest',
        [Annotation.containerdName]: 'docker.io/library/demo:latest',
        [Annotation.created]: '2024-02-03T04:05:06Z',
      });
      assert.equal(index.manifests[2].annotations?.[Annotation.containerdName], '127.0.0.1:5000/team/app:1.2');
      const manifest = JSON.parse((await store.content.readBlob(image.manifestDigest)).toString());
      assert.equal(manifest.mediaType, MediaType.ociManifest);
      assert.equal(manifest.config.digest, image.id);
      assert.equal(image.size, Buffer.byteLength('layer-a'));
      assert.deepEqual(await store.fsck(), []);
    } finally {
      await cleanup();
    }
  });

  test('the image id is the digest of the config bytes exactly as given', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const layers = await putLayers(store, ['x']);
      const configBytes = Buffer.from(`{\n  "os": "linux",   "architecture": "arm64",\n  "rootfs": {"type": "layers", "diff_ids": ["${layers[0].digest}"]}\n}\n`);
      const image = await store.putImage({configBytes, layers, tags: ['bytes']});
      assert.equal(image.id, sha256Digest(configBytes));
      assert.deepEqual(await store.content.readBlob(image.id), configBytes);
      assert.deepEqual((await store.resolveImage('bytes')).configBytes, configBytes);
      assert.equal(image.config.architecture, 'arm64');
    } finally {
      await cleanup();
    }
  });

  test('put image refuses a missing layer and a bad tag without changing the index', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const before = await readFile(store.paths.index, 'utf8');
      const ghost = {mediaType: MediaType.ociLayer, digest: sha256Digest('ghost'), size: 5};
      await assert.rejects(store.putImage({config: configFor([ghost], {}), layers: [ghost], tags: ['ghost']}), BlobNotFoundError);
      const layers = await putLayers(store, ['real']);
      await assert.rejects(store.putImage({config: configFor(layers, {}), layers, tags: ['Bad:tag']}), /repository name must be lowercase/);
      await assert.rejects(store.putImage({config: configFor(layers, {}), layers, tags: [`x@${sha256Digest('d')}`]}), /digest reference/);
      await assert.rejects(store.putImage({config: configFor([], {}), layers}), /0 diff_ids for 1 layers/);
      assert.equal(await readFile(store.paths.index, 'utf8'), before);
    } finally {
      await cleanup();
    }
  });

  test('an image without tags is a dangling entry without annotations', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store);
      const index = await readIndexFile(store);
      assert.deepEqual(index.manifests, [{mediaType: MediaType.ociManifest, digest: image.manifestDigest, size: image.target.size}]);
      assert.deepEqual((await store.listImages()).map(listed => [listed.id, listed.tags]), [[image.id, []]]);
    } finally {
      await cleanup();
    }
  });

  test('an image handed out cannot be edited under the next caller', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await makeImage(store, {tags: ['frozen']});
      const image = await store.resolveImage('frozen');
      assert.throws(() => {
        image.config.config!.Env!.push('LEAK=1');
      }, TypeError);
      assert.throws(() => {
        (image.manifest.layers as unknown[]).pop();
      }, TypeError);
      const derived = structuredClone(image.config);
      derived.config!.Env!.push('MINE=1');
      const again = await store.resolveImage('frozen');
      assert.deepEqual(again.config.config?.Env, ['PATH=/usr/bin']);
      assert.equal(again.manifest.layers.length, 1);
    } finally {
      await cleanup();
    }
  });

  test('listing returns every image once with all its tags, newest first', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const old = await makeImage(store, {layers: ['o'], tags: ['old', 'old:2'], created: '2020-01-01T00:00:00Z'});
      const young = await makeImage(store, {layers: ['y'], tags: ['young'], created: '2024-01-01T00:00:00Z'});
      const middle = await makeImage(store, {layers: ['m'], created: '2022-01-01T00:00:00Z'});
      const images = await store.listImages();
      assert.deepEqual(images.map(image => image.id), [young.id, middle.id, old.id]);
      assert.deepEqual(images.map(image => image.tags), [['young:latest'], [], ['old:latest', 'old:2']]);
      assert.equal(images[0].created, '2024-01-01T00:00:00Z');
    } finally {
      await cleanup();
    }
  });

  test('images resolve by familiar or full reference, full id, manifest digest and id prefix', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {tags: ['app:1', 'localhost:5000/team/app']});
      const hex = image.id.slice('sha256:'.length);
      for (const text of ['app:1', 'docker.io/library/app:1', 'library/app:1', 'localhost:5000/team/app', 'localhost:5000/team/app:latest',
        image.id, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 6)}`, hex.slice(0, 4), image.manifestDigest, `app@${image.manifestDigest}`]) {
        assert.equal((await store.resolveImage(text)).id, image.id, text);
      }
    } finally {
      await cleanup();
    }
  });

  test('unknown images fail with docker\'s "No such image" and too-short prefixes do not match', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {tags: ['here']});
      for (const [text, message] of [['nope', 'No such image: nope:latest'], ['here:2', 'No such image: here:2'],
        [image.id.slice(7, 10), `No such image: ${image.id.slice(7, 10)}:latest`], [sha256Digest('x'), `No such image: ${sha256Digest('x')}`]]) {
        await assert.rejects(store.resolveImage(text), (error: unknown) => {
          assert.ok(error instanceof ImageNotFoundError && error instanceof UserError);
          assert.equal(error.code, 'ERR_IMAGE_NOT_FOUND');
          assert.equal(error.message, message);
          return true;
        }, text);
      }
    } finally {
      await cleanup();
    }
  });

  test('an id prefix shared by two images is ambiguous', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const layers = await putLayers(store, ['shared']);
      // Find two configs whose IDs share four hex digits (a birthday search over a label).
      const seen = new Map<string, Buffer>();
      let pair: [Buffer, Buffer] | undefined;
      for (let i = 0; !pair; i++) {
        const bytes = Buffer.from(JSON.stringify(configFor(layers, {labels: {n: String(i)}})));
        const prefix = sha256Digest(bytes).slice(7, 11);
        const other = seen.get(prefix);
        if (other) pair = [other, bytes];
        else seen.set(prefix, bytes);
      }
      const first = await store.putImage({configBytes: pair[0], layers});
      const second = await store.putImage({configBytes: pair[1], layers});
      const prefix = first.id.slice(7, 11);
      await assert.rejects(store.resolveImage(prefix), (error: unknown) => {
        assert.ok(error instanceof AmbiguousImageError);
        assert.deepEqual([...error.candidates].sort(), [first.id, second.id].sort());
        return true;
      });
      assert.equal((await store.resolveImage(first.id.slice(7, 19))).id, first.id);
    } finally {
      await cleanup();
    }
  });

  test('a tag found by name wins over an id prefix that looks the same', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {layers: ['1']});
      const named = await makeImage(store, {layers: ['2'], tags: [image.id.slice(7, 13)]});
      assert.equal((await store.resolveImage(image.id.slice(7, 13))).id, named.id);
      assert.equal((await store.resolveImage(image.id.slice(7, 14))).id, image.id);
    } finally {
      await cleanup();
    }
  });
});

describe('tags', () => {
  test('tagging adds a reference and replaces the dangling entry', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store);
      const tagged = await store.tag(image.id.slice(7, 19), 'fresh:1');
      assert.deepEqual(tagged.tags, ['fresh:1']);
      const index = await readIndexFile(store);
      assert.equal(index.manifests.length, 1);
      assert.equal(index.manifests[0].annotations?.[Annotation.refName], 'fresh:1');
      await store.tag('fresh:1', 'fresh:1');
      assert.equal((await readIndexFile(store)).manifests.length, 1, 'tagging twice adds nothing');
    } finally {
      await cleanup();
    }
  });

  test('moving a tag leaves the old image as a dangling entry, like docker', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const first = await makeImage(store, {layers: ['v1'], tags: ['app']});
      const second = await makeImage(store, {layers: ['v2'], tags: ['app']});
      const images = await store.listImages();
      assert.equal(images.length, 2);
      assert.deepEqual(images.find(image => image.id === first.id)?.tags, []);
      assert.deepEqual(images.find(image => image.id === second.id)?.tags, ['app:latest']);
      const dangling = (await readIndexFile(store)).manifests.filter(entry => entry.digest === first.manifestDigest);
      assert.deepEqual(dangling.map(entry => entry.annotations), [undefined]);
      assert.deepEqual(await store.fsck(), []);
    } finally {
      await cleanup();
    }
  });

  test('moving one of several tags keeps the old image tagged with the rest', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const first = await makeImage(store, {layers: ['v1'], tags: ['app', 'app:1']});
      const second = await makeImage(store, {layers: ['v2']});
      await store.tag(second.id, 'app');
      assert.deepEqual((await store.resolveImage(first.id)).tags, ['app:1']);
      assert.equal((await readIndexFile(store)).manifests.length, 2);
    } finally {
      await cleanup();
    }
  });

  test('untag removes one tag and keeps the image dangling after its last tag', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const image = await makeImage(store, {tags: ['a', 'b']});
      const first = await store.untag('a');
      assert.deepEqual([first.reference, first.wasLastTag, first.target.digest], ['a:latest', false, image.manifestDigest]);
      const last = await store.untag('docker.io/library/b:latest');
      assert.equal(last.wasLastTag, true);
      assert.deepEqual((await store.listImages()).map(listed => [listed.id, listed.tags]), [[image.id, []]]);
      await assert.rejects(store.untag('a'), ImageNotFoundError);
    } finally {
      await cleanup();
    }
  });

  test('untag without keeping the dangling entry drops the image from the index', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await makeImage(store, {tags: ['only']});
      await store.untag('only', {keepDangling: false});
      assert.deepEqual((await readIndexFile(store)).manifests, []);
    } finally {
      await cleanup();
    }
  });

  test('remove image drops every tag and entry but leaves other images alone', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const gone = await makeImage(store, {layers: ['g'], tags: ['gone', 'gone:2']});
      const kept = await makeImage(store, {layers: ['k'], tags: ['kept']});
      const result = await store.removeImage('gone:2');
      assert.deepEqual(result.untagged.sort(), ['gone:2', 'gone:latest']);
      assert.deepEqual(result.deleted, [gone.id, gone.manifestDigest]);
      assert.deepEqual((await store.listImages()).map(image => image.id), [kept.id]);
      assert.ok(await store.content.hasBlob(gone.id), 'blobs stay until gc');
      await assert.rejects(store.resolveImage('gone'), ImageNotFoundError);
    } finally {
      await cleanup();
    }
  });
});

describe('children', () => {
  test('an image built on another is its child, and siblings and parents are not', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const baseLayers = await putLayers(store, ['base']);
      const extraLayers = await putLayers(store, ['extra']);
      const otherLayers = await putLayers(store, ['other']);
      const baseHistory = [{created_by: 'ADD base'}];
      const base = await store.putImage({config: configFor(baseLayers, {history: baseHistory}), layers: baseLayers, tags: ['base']});
      const child = await store.putImage({
        config: configFor([...baseLayers, ...extraLayers], {history: [...baseHistory, {created_by: 'RUN extra'}]}),
        layers: [...baseLayers, ...extraLayers], tags: ['child'],
      });
      const labelOnly = await store.putImage({
        config: configFor(baseLayers, {history: [...baseHistory, {created_by: 'LABEL a=b', empty_layer: true}]}),
        layers: baseLayers, tags: ['label-only'],
      });
      await store.putImage({config: configFor(otherLayers, {}), layers: otherLayers, tags: ['unrelated']});
      assert.deepEqual((await store.children(base.id)).map(image => image.id).sort(), [child.id, labelOnly.id].sort());
      assert.deepEqual(await store.children(child.id), []);
      assert.deepEqual(await store.children(labelOnly.id), []);
    } finally {
      await cleanup();
    }
  });
});
