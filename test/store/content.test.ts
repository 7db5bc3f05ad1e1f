import {test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, readdir, rm, writeFile, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {FileContentStore, Store} from '../../engine/store/index.js';
import {contentStoreSuite} from './content-suite.js';

contentStoreSuite('file store inside a Store root', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-content-'));
  const store = await Store.open(join(dir, 'store'));
  return {
    store: store.content,
    cleanup: () => rm(dir, {recursive: true, force: true}),
    residue: async () => readdir(store.paths.tmp),
    corrupt: async digest => {
      const path = store.content.blobPath(digest);
      const size = (await stat(path)).size;
      await writeFile(path, Buffer.alloc(size, 0x21));
    },
  };
});

contentStoreSuite('bare file content store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-content-'));
  const {mkdir} = await import('node:fs/promises');
  await mkdir(join(dir, 'tmp'));
  const store = new FileContentStore(join(dir, 'blobs'), join(dir, 'tmp'));
  return {
    store,
    cleanup: () => rm(dir, {recursive: true, force: true}),
    residue: async () => readdir(join(dir, 'tmp')),
    corrupt: async digest => writeFile(store.blobPath(digest), Buffer.alloc((await stat(store.blobPath(digest))).size, 0x3f)),
  };
});

test('a blob writer whose temporary folder is gone fails at commit instead of crashing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'strata-content-'));
  try {
    const store = new FileContentStore(join(dir, 'blobs'), join(dir, 'missing-tmp'));
    const writer = store.createBlobWriter();
    writer.write(Buffer.from('lost'));
    await assert.rejects(writer.commit(), /ENOENT/);
    assert.deepEqual(await store.listBlobs(), []);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
});
