/**
 * The ContentStore conformance suite: one set of tests that every implementation must pass.
 * Call `contentStoreSuite(name, makeStore)` from a test file; `makeStore` builds a fresh, empty store.
 */
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {createHash} from 'node:crypto';
import {stat, writeFile} from 'node:fs/promises';
import {
  BlobNotFoundError, DigestMismatchError, SizeMismatchError, type ContentStore,
} from '../../engine/store/index.js';

export interface ContentStoreFixture {
  readonly store: ContentStore;
  /** Removes everything the fixture made. */
  cleanup(): Promise<void>;
  /** Lists in-flight or abandoned write leftovers (must be empty after any finished or failed put). */
  residue?(): Promise<string[]>;
  /** Replaces a stored blob's bytes behind the store's back, keeping its size. */
  corrupt?(digest: string): Promise<void>;
}

const sha256 = (data: Buffer | string) => 'sha256:' + createHash('sha256').update(data).digest('hex');

function chunks(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) parts.push(data.subarray(offset, offset + size));
  return Readable.from(parts);
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

export function contentStoreSuite(name: string, makeStore: () => Promise<ContentStoreFixture>): void {
  describe(`content store contract: ${name}`, () => {
    const withStore = (title: string, body: (fixture: ContentStoreFixture) => Promise<void>, options: {skip?: (fixture: ContentStoreFixture) => string | false} = {}) =>
      test(title, async t => {
        const fixture = await makeStore();
        try {
          const reason = options.skip?.(fixture);
          if (reason) {
            t.skip(reason);
            return;
          }
          await body(fixture);
          if (fixture.residue) assert.deepEqual(await fixture.residue(), [], 'no write leftovers');
        } finally {
          await fixture.cleanup();
        }
      });

    withStore('a put buffer reads back byte for byte under its sha256 digest', async ({store}) => {
      const data = Buffer.from('hello, blob');
      const info = await store.putBlob(data);
      assert.deepEqual(info, {digest: sha256(data), size: data.length});
      assert.deepEqual(await store.readBlob(info.digest), data);
      assert.deepEqual(await store.readBlob(info), data);
      assert.equal(await store.statBlob(info.digest), data.length);
      assert.equal(await store.hasBlob(info.digest), true);
      assert.deepEqual(await store.listBlobs(), [info.digest]);
    });

    withStore('a put stream is hashed while streaming and equals the buffer put', async ({store}) => {
      const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
      data.write('marker', 1000);
      const info = await store.putBlob(chunks(data, 64 * 1024));
      assert.deepEqual(info, {digest: sha256(data), size: data.length});
      assert.deepEqual(await collect(store.openBlob(info)), data);
    });

    withStore('puts are idempotent and concurrent puts of the same bytes both succeed', async ({store}) => {
      const data = Buffer.from('same bytes');
      const first = await store.putBlob(data);
      const again = await Promise.all([store.putBlob(data), store.putBlob(chunks(data, 3)), store.putBlob(Buffer.from(data))]);
      for (const info of again) assert.deepEqual(info, first);
      assert.deepEqual(await store.listBlobs(), [first.digest]);
      assert.deepEqual(await store.readBlob(first.digest), data);
    });

    withStore('an empty blob is a blob', async ({store}) => {
      const info = await store.putBlob(Buffer.alloc(0));
      assert.deepEqual(info, {digest: sha256(''), size: 0});
      assert.deepEqual(await store.readBlob(info), Buffer.alloc(0));
    });

    withStore('a put with the wrong expected digest rejects and stores nothing', async ({store}) => {
      const data = Buffer.from('actual bytes');
      const wrong = sha256('other bytes');
      for (const input of [() => data, () => chunks(data, 4)]) {
        await assert.rejects(store.putBlob(input(), {digest: wrong}), (error: unknown) => {
          assert.ok(error instanceof DigestMismatchError);
          assert.equal(error.code, 'ERR_DIGEST_MISMATCH');
          return true;
        });
      }
      assert.equal(await store.hasBlob(sha256(data)), false);
      assert.equal(await store.hasBlob(wrong), false);
      assert.deepEqual(await store.listBlobs(), []);
    });

    withStore('a put with the wrong expected size rejects and stores nothing', async ({store}) => {
      const data = Buffer.from('twelve bytes');
      await assert.rejects(store.putBlob(data, {size: 11}), SizeMismatchError);
      await assert.rejects(store.putBlob(chunks(data, 5), {digest: sha256(data), size: 13}), SizeMismatchError);
      assert.deepEqual(await store.listBlobs(), []);
    });

    withStore('a put with the right expectations succeeds', async ({store}) => {
      const data = Buffer.from('expected');
      assert.deepEqual(await store.putBlob(chunks(data, 2), {digest: sha256(data), size: data.length}), {digest: sha256(data), size: data.length});
    });

    withStore('a sha512 expected digest hashes with sha512', async ({store}) => {
      const data = Buffer.from('five twelve');
      const digest = 'sha512:' + createHash('sha512').update(data).digest('hex');
      assert.deepEqual(await store.putBlob(data, {digest}), {digest, size: data.length});
      assert.deepEqual(await store.readBlob(digest), data);
      assert.deepEqual(await collect(store.openBlob(digest)), data);
    });

    withStore('a source stream that fails mid-put rejects and leaves nothing', async ({store}) => {
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(1000, 1));
          this.destroy(new Error('source broke'));
        },
      });
      await assert.rejects(store.putBlob(failing), /source broke/);
      assert.deepEqual(await store.listBlobs(), []);
    });

    withStore('a blob writer takes piped chunks and commits them as one blob', async ({store}) => {
      const data = Buffer.from('layer tar bytes '.repeat(5000));
      const writer = store.createBlobWriter();
      await pipeline(chunks(data, 4096), writer);
      const info = await writer.commit({size: data.length});
      assert.deepEqual(info, {digest: sha256(data), size: data.length});
      assert.deepEqual(await writer.commit(), info, 'commit twice answers the same');
      assert.deepEqual(await store.readBlob(info.digest), data);
    });

    withStore('a blob writer commit ends the stream when the caller did not', async ({store}) => {
      const writer = store.createBlobWriter();
      writer.write(Buffer.from('part one, '));
      writer.write(Buffer.from('part two'));
      const info = await writer.commit();
      assert.equal(info.digest, sha256('part one, part two'));
      assert.equal(writer.written, info.size);
    });

    withStore('an aborted blob writer leaves nothing', async ({store}) => {
      const writer = store.createBlobWriter();
      writer.write(Buffer.from('half a layer'));
      await writer.abort();
      await writer.abort();
      assert.deepEqual(await store.listBlobs(), []);
    });

    withStore('a blob writer commit with a wrong digest rejects and leaves nothing', async ({store}) => {
      const writer = store.createBlobWriter();
      writer.end(Buffer.from('abc'));
      await assert.rejects(writer.commit({digest: sha256('abd')}), DigestMismatchError);
      assert.deepEqual(await store.listBlobs(), []);
    });

    withStore('a precomputed blob writer stores the bytes under the digest its caller hashed', async ({store}) => {
      // Larger than the background flush interval, so flushes run while chunks are still being written.
      const data = Buffer.alloc(9 << 20);
      for (let index = 0; index < data.length; index += 4096) data.writeUInt32BE(index, index);
      const writer = store.createBlobWriter({precomputed: true});
      await pipeline(chunks(data, 1 << 20), writer);
      const info = await writer.commit({digest: sha256(data), size: data.length});
      assert.deepEqual(info, {digest: sha256(data), size: data.length});
      assert.ok((await store.readBlob(info.digest)).equals(data), 'a verifying read accepts the stored bytes');
    });

    withStore('a precomputed blob writer without a digest, or with the wrong size, rejects and leaves nothing', async ({store}) => {
      const unnamed = store.createBlobWriter({precomputed: true});
      unnamed.end(Buffer.from('abc'));
      await assert.rejects(unnamed.commit({size: 3}), /needs its digest and size/);
      const missized = store.createBlobWriter({precomputed: true});
      missized.end(Buffer.from('abc'));
      await assert.rejects(missized.commit({digest: sha256('abc'), size: 4}), SizeMismatchError);
      assert.deepEqual(await store.listBlobs(), []);
    });

    withStore('a blob file its caller fills is stored under the digest the caller computed', async ({store}) => {
      const data = Buffer.from('written by someone else');
      let seen: string | undefined;
      const info = await store.putBlobFile(async path => {
        seen = path;
        await writeFile(path, data, {flag: 'wx'});
        assert.deepEqual(await store.listBlobs(), [], 'the file is not a blob before it is complete');
        return {digest: sha256(data), size: data.length};
      });
      assert.deepEqual(info, {digest: sha256(data), size: data.length});
      assert.ok((await store.readBlob(info.digest)).equals(data));
      await assert.rejects(stat(seen!), {code: 'ENOENT'}, 'nothing is left at the temporary path');
    });

    withStore('a blob file whose size is not what its caller says, or whose filling fails, leaves nothing', async ({store}) => {
      await assert.rejects(
        store.putBlobFile(async path => {
          await writeFile(path, 'abc');
          return {digest: sha256('abc'), size: 4};
        }),
        SizeMismatchError,
      );
      let left: string | undefined;
      await assert.rejects(
        store.putBlobFile(async path => {
          left = path;
          await writeFile(path, 'half');
          throw new Error('the writer failed');
        }),
        /the writer failed/,
      );
      await assert.rejects(stat(left!), {code: 'ENOENT'}, 'the half-written file is removed');
      assert.deepEqual(await store.listBlobs(), []);
    });

    withStore('an in-flight write is not listed and not readable', async ({store}) => {
      const writer = store.createBlobWriter();
      await new Promise<void>((resolve, reject) => writer.write(Buffer.from('in flight'), error => (error ? reject(error) : resolve())));
      assert.deepEqual(await store.listBlobs(), []);
      assert.equal(await store.hasBlob(sha256('in flight')), false);
      await writer.commit();
      assert.deepEqual(await store.listBlobs(), [sha256('in flight')]);
    });

    withStore('reads of a missing blob fail with BlobNotFoundError', async ({store}) => {
      const missing = sha256('never stored');
      await assert.rejects(store.readBlob(missing), (error: unknown) => error instanceof BlobNotFoundError && error.code === 'ERR_BLOB_NOT_FOUND');
      await assert.rejects(collect(store.openBlob(missing)), BlobNotFoundError);
      assert.equal(await store.statBlob(missing), undefined);
      assert.equal(await store.hasBlob(missing), false);
    });

    withStore('a read with a descriptor of the wrong size fails before handing out bytes', async ({store}) => {
      const info = await store.putBlob(Buffer.from('sized'));
      await assert.rejects(store.readBlob({digest: info.digest, size: 4}), SizeMismatchError);
      await assert.rejects(collect(store.openBlob({digest: info.digest, size: 6})), SizeMismatchError);
    });

    withStore('delete is idempotent and answers whether it removed something', async ({store}) => {
      const info = await store.putBlob(Buffer.from('to delete'));
      const other = await store.putBlob(Buffer.from('to keep'));
      assert.equal(await store.deleteBlob(info.digest), true);
      assert.equal(await store.deleteBlob(info.digest), false);
      assert.equal(await store.hasBlob(info.digest), false);
      assert.deepEqual(await store.listBlobs(), [other.digest], 'other blobs are untouched');
      assert.deepEqual(await store.putBlob(Buffer.from('to delete')), info, 'a deleted blob can be put again');
    });

    withStore('reads verify content: a corrupted blob fails on read and at the end of a stream', async fixture => {
      const data = Buffer.from('original content, long enough to stream');
      const info = await fixture.store.putBlob(data);
      await fixture.corrupt!(info.digest);
      await assert.rejects(fixture.store.readBlob(info.digest), DigestMismatchError);
      await assert.rejects(collect(fixture.store.openBlob(info)), DigestMismatchError);
    }, {skip: fixture => (fixture.corrupt ? false : 'implementation offers no way to corrupt a blob')});

    withStore('listing names every stored blob once, in digest order', async ({store}) => {
      const digests = [];
      for (let i = 0; i < 20; i++) digests.push((await store.putBlob(Buffer.from(`blob ${i}`))).digest);
      assert.deepEqual(await store.listBlobs(), [...digests].sort());
    });
  });
}
