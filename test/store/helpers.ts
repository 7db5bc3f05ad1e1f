/** Helpers for store tests: temporary stores and tiny images built from literal layer bytes. */
import {mkdtemp, readdir, readFile, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import {MediaType, type Descriptor, type HistoryEntry, type ImageConfig} from '../../engine/image/index.js';
import {Store, type StoredImage} from '../../engine/store/index.js';

export interface TempStore {
  readonly dir: string;
  readonly store: Store;
  cleanup(): Promise<void>;
}

export async function makeTempStore(): Promise<TempStore> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-store-'));
  const store = await Store.open(join(dir, 'store'));
  return {dir, store, cleanup: () => rm(dir, {recursive: true, force: true})};
}

export interface ImageSpec {
  /** Layer contents (any bytes; stored as uncompressed layers, digest = diffID). */
  readonly layers?: (Buffer | string)[];
  readonly tags?: string[];
  readonly created?: string;
  readonly history?: HistoryEntry[];
  readonly labels?: Record<string, string>;
}

export function configFor(layers: Descriptor[], spec: ImageSpec): ImageConfig {
  const config: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    ...(spec.created ? {created: spec.created} : {}),
    config: {Env: ['PATH=/usr/bin'], ...(spec.labels ? {Labels: spec.labels} : {})},
    rootfs: {type: 'layers', diff_ids: layers.map(layer => layer.digest)},
    history: spec.history ?? layers.map((_, index) => ({created_by: `layer ${index}`})),
  };
  return config;
}

export async function putLayers(store: Store, layers: (Buffer | string)[]): Promise<Descriptor[]> {
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const info = await store.content.putBlob(Buffer.from(layer));
    descriptors.push({mediaType: MediaType.ociLayer, digest: info.digest, size: info.size});
  }
  return descriptors;
}

export async function makeImage(store: Store, spec: ImageSpec = {}): Promise<StoredImage> {
  const layers = await putLayers(store, spec.layers ?? ['layer-a']);
  return store.putImage({config: configFor(layers, spec), layers, tags: spec.tags});
}

/** Every file under `root` with its size and content hash: to prove an operation changed nothing. */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, {withFileTypes: true})) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        result[relative(root, path) + '/'] = 'dir';
        await walk(path);
      } else {
        const info = await stat(path);
        result[relative(root, path)] = `${info.size}:${(await readFile(path)).toString('base64').slice(0, 64)}:${info.mtimeMs}`;
      }
    }
  };
  await walk(root);
  return result;
}

/** A tar archive of 1024 zero bytes: the empty layer (two end-of-archive blocks). */
export function emptyTar(): Buffer {
  return Buffer.alloc(1024);
}
