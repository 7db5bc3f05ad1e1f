import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Engine} from '../engine/index.js';
import {writeLayer, type LayerEntry} from '../engine/layer/index.js';

const mediaType = 'application/vnd.oci.image.layer.v1.tar';

async function putImage(engine: Engine, tag: string, entries: LayerEntry[], minutesAgo: number): Promise<string> {
  const writer = engine.store.content.createBlobWriter();
  await writeLayer(entries, writer);
  const layer = await writer.commit();
  const created = new Date(Date.UTC(2026, 10, 22, 12) - minutesAgo * 60_000).toISOString();
  const image = await engine.store.putImage({
    config: {architecture: 'amd64', os: 'linux', created, rootfs: {type: 'layers', diff_ids: [layer.digest]}, history: [{created, created_by: `COPY ${tag}`}]},
    layers: [{mediaType, digest: layer.digest, size: layer.size}],
    tags: [tag],
  });
  return image.id;
}

const file = (path: string, content: string): LayerEntry => ({path, type: 'file', mode: 0o644, uid: 0, gid: 0, content: Buffer.from(content)});

async function withStore(run: (root: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'strata-facade-'));
  try {
    await run(join(folder, 'store'));
  } finally {
    await rm(folder, {recursive: true, force: true});
  }
}

const rows = (images: {repository: string; tag: string}[]) => images.map(image => `${image.repository}:${image.tag}`);

describe('listing images through the engine', () => {
  test('a new engine lists from the cached listing, and a change made by another engine is listed', () =>
    withStore(async root => {
      const first = await Engine.open({root, env: {}});
      await putImage(first, 'web:1', [file('a', 'a')], 2);
      await putImage(first, 'db:1', [file('b', 'b')], 1);
      assert.deepEqual(rows(await first.listImages()), ['db:1', 'web:1'], 'newest first');
      const cached = JSON.parse(await readFile(join(root, 'cache', 'listing.json'), 'utf8'));
      assert.equal(cached.listing.images.length, 2);

      // Another process tags and deletes: the first engine and a new one both see it.
      const other = await Engine.open({root, env: {}});
      await other.tag('web:1', 'web:latest');
      await other.removeImages(['db:1']);
      assert.deepEqual(rows(await first.listImages()).sort(), ['web:1', 'web:latest']);
      const fresh = await Engine.open({root, env: {}});
      assert.deepEqual(rows(await fresh.listImages()).sort(), ['web:1', 'web:latest']);

      // Tagging back to an earlier index gives the earlier listing, never a stale one.
      await other.removeImages(['web:latest']);
      assert.deepEqual(rows(await fresh.listImages()), ['web:1']);
      assert.deepEqual(rows(await (await Engine.open({root, env: {}})).listImages()), ['web:1']);
      const leftovers = (await readdir(join(root, 'cache'))).filter(name => name.endsWith('.tmp'));
      assert.deepEqual(leftovers, [], 'no temporary files left in cache/');
    }));

  test('a listing of an older index that finishes last (a reload while a build tags) does not stay in place', () =>
    withStore(async root => {
      const engine = await Engine.open({root, env: {}});
      try {
        await putImage(engine, 'app:1', [file('a', 'one')], 10);
        // The first listing reads the store (it knows no image yet), and is held back until a later one is done.
        const read = engine.store.listImages.bind(engine.store);
        let release!: () => void;
        const gate = new Promise<void>(resolve => (release = resolve));
        let calls = 0;
        engine.store.listImages = async () => {
          const images = await read();
          if (calls++ === 0) await gate;
          return images;
        };
        const older = engine.listImages();
        await new Promise(resolve => setTimeout(resolve, 20));
        await putImage(engine, 'app:2', [file('a', 'two')], 5);
        assert.deepEqual(rows(await engine.listImages()).sort(), ['app:1', 'app:2'], 'the newer listing');
        release();
        assert.deepEqual(rows(await older), ['app:1'], 'the older one, of the index it read');
        assert.deepEqual(rows(await engine.listImages()).sort(), ['app:1', 'app:2'], 'and what is listed after is the current index again');
      } finally {
        await engine.close();
      }
    }));

  test('a damaged or foreign listing cache is ignored and written again', () =>
    withStore(async root => {
      const engine = await Engine.open({root, env: {}});
      const id = await putImage(engine, 'app:2', [file('x', 'x')], 0);
      await engine.listImages();
      const listingFile = join(root, 'cache', 'listing.json');
      for (const damage of ['{not json', JSON.stringify({version: 1, listing: {key: 'something-else', images: []}}), JSON.stringify({version: 7})]) {
        await writeFile(listingFile, damage);
        const images = await (await Engine.open({root, env: {}})).listImages();
        assert.deepEqual(images.map(image => [image.id, image.repository, image.tag]), [[id, 'app', '2']]);
      }
      const rewritten = JSON.parse(await readFile(listingFile, 'utf8'));
      assert.equal(rewritten.listing.images[0].id, id);
    }));

  test('an image is found by ID prefix from the listing, and a name that looks like hex is still a name', () =>
    withStore(async root => {
      const engine = await Engine.open({root, env: {}});
      const id = await putImage(engine, 'cafe:latest', [file('c', 'c')], 1);
      const other = await putImage(engine, 'tea:latest', [file('t', 't')], 0);
      const fresh = await Engine.open({root, env: {}});
      assert.equal((await fresh.history(id.slice(7, 19)))[0].id, id);
      assert.equal((await fresh.history('cafe'))[0].id, id);
      assert.equal((await fresh.history(other))[0].id, other);
    }));
});
