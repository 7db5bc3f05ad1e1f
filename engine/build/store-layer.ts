/**
 * The builder's way into the store for a layer: the entries of a COPY, WORKDIR or RUN step written by
 * engine/layer's `writeLayer` (tar-stream, deterministic, batched writes) straight into a blob writer. The layer
 * writer's hash is the diffID and the blob's name; the blob writer does not hash the bytes again. A `tee` gets
 * the same bytes as they are written: the snapshot seeder extracts the layer from it while it is stored. The tee
 * is never ended here and its failure is ignored (it is a by-product: the seeder falls back to a normal
 * extraction). With `reuse`, unchanged members are copied from the step's earlier layer; if that fails (the
 * earlier blob was collected meanwhile), the layer is written again from its sources.
 */
import {Writable} from 'node:stream';
import {layerFilesOnline, rememberLayerFile, writeLayer, writeLayerFile, type LayerEntry, type LayerMapEntry, type LayerReuse} from '../layer/index.js';
import type {FileContentStore} from '../store/content.js';

export interface StoreLayerOptions {
  /** Gets a copy of the tar bytes (the snapshot seeder). */
  readonly tee?: Writable;
  /** Content identities of the entries (COPY): the layer's member map is returned for the next rebuild. */
  readonly identities?: Readonly<Record<string, string>>;
  /** The same step's earlier layer and map: unchanged members are copied from it. */
  readonly reuse?: LayerReuse;
}

export interface StoredLayer {
  readonly diffId: string;
  readonly size: number;
  readonly map?: LayerMapEntry[];
  /** The earlier layer's blob when unchanged members were copied from it (else every source was read). */
  readonly splicedFrom?: string;
}

export async function storeLayer(
  entries: readonly LayerEntry[],
  store: {content: Pick<FileContentStore, 'createBlobWriter' | 'putBlobFile' | 'blobPath' | 'tmpDir'>},
  options: StoreLayerOptions = {},
): Promise<StoredLayer> {
  const stored = await storeLayerOnce(entries, store, options);
  // A COPY's layer: the next rebuild of the step may write its layer over a copy of this one.
  if (options.identities) rememberLayerFile(store.content.blobPath(stored.diffId), stored.splicedFrom, store.content.tmpDir);
  return stored;
}

async function storeLayerOnce(
  entries: readonly LayerEntry[],
  store: {content: Pick<FileContentStore, 'createBlobWriter' | 'putBlobFile'>},
  options: StoreLayerOptions,
): Promise<StoredLayer> {
  const attempt = async (reuse: LayerReuse | undefined): Promise<StoredLayer> => {
    // A splice is written by the layer file worker when it runs (watch mode), off this thread and its pool.
    if (reuse && !options.tee && layerFilesOnline()) {
      let map: LayerMapEntry[] | undefined;
      const blob = await store.content.putBlobFile(async path => {
        const written = await writeLayerFile(entries, path, {identities: options.identities, reuse});
        map = written.map;
        return {digest: written.diffId, size: written.size};
      });
      return {diffId: blob.digest, size: blob.size, map, splicedFrom: reuse.blobPath};
    }
    // The layer writer hashes every byte for the diffID; the blob writer trusts that digest instead of
    // hashing the same bytes again.
    const writer = store.content.createBlobWriter({precomputed: true});
    try {
      const written = await writeLayer(entries, options.tee ? withTee(writer, options.tee) : writer, {identities: options.identities, reuse});
      const blob = await writer.commit({digest: written.diffId, size: written.size});
      return {diffId: blob.digest, size: blob.size, map: written.map, splicedFrom: reuse?.blobPath};
    } catch (error) {
      await writer.abort().catch(() => {});
      throw error;
    }
  };
  if (!options.reuse) return attempt(undefined);
  // The earlier blob may have been collected meanwhile: then the layer is written from its sources.
  return attempt(options.reuse).catch(() => attempt(undefined));
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
