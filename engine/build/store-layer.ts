/**
 * The builder's way into the store for a layer: the entries of a COPY, WORKDIR or RUN step written by
 * engine/layer's `writeLayer` (tar-stream, deterministic, batched writes) straight into a blob writer, whose own
 * hash is the diffID. A `tee` gets the same bytes as they are written: the snapshot seeder extracts the layer
 * from it while it is stored. The tee is never ended here and its failure is ignored (it is a by-product: the
 * seeder falls back to a normal extraction).
 */
import {Writable} from 'node:stream';
import {writeLayer, type LayerEntry} from '../layer/index.js';
import type {BlobWriter} from '../store/content.js';

export async function storeLayer(
  entries: readonly LayerEntry[],
  store: {content: {createBlobWriter(): BlobWriter}},
  tee?: Writable,
): Promise<{diffId: string; size: number}> {
  const writer = store.content.createBlobWriter();
  try {
    const written = await writeLayer(entries, tee ? withTee(writer, tee) : writer);
    const blob = await writer.commit({digest: written.diffId, size: written.size});
    return {diffId: blob.digest, size: blob.size};
  } catch (error) {
    await writer.abort().catch(() => {});
    throw error;
  }
}

/** A stream that writes to `primary` (with its backpressure and errors) and, tolerantly, to `tee`. */
function withTee(primary: Writable, tee: Writable): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const teeing = sendTolerantly(tee, chunk);
      const done = () => void teeing.then(() => callback());
      if (primary.write(chunk)) done();
      else primary.once('drain', done);
    },
    final(callback) {
      let settled = false;
      const settle = (error?: Error | null) => {
        if (settled) return;
        settled = true;
        primary.off('error', settle);
        callback(error);
      };
      primary.once('error', settle);
      primary.end(() => settle());
    },
    destroy(error, callback) {
      if (error) primary.destroy(error);
      callback(error);
    },
  });
}

function sendTolerantly(stream: Writable, chunk: Buffer): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  try {
    if (stream.write(chunk)) return Promise.resolve();
  } catch {
    return Promise.resolve();
  }
  return new Promise(resolve => {
    const settle = () => {
      stream.off('drain', settle);
      stream.off('error', settle);
      stream.off('close', settle);
      resolve();
    };
    stream.once('drain', settle);
    stream.once('error', settle);
    stream.once('close', settle);
  });
}
