/**
 * The offline base image for tests: fixtures/base's rootfs tar, made once per process, imported into a store
 * as a one-layer image tagged `base:latest` (as `docker import` would make it: Env PATH, Cmd sh).
 */
import {createReadStream, rmSync} from 'node:fs';
import {mkdtemp, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {makeBaseRootfsTar} from '../../fixtures/base/base-rootfs.js';
import {MediaType} from '../../engine/image/index.js';
import type {ImageConfig} from '../../engine/image/index.js';
import {Store} from '../../engine/store/index.js';
import type {StoredImage} from '../../engine/store/index.js';

export const baseImageName = 'base:latest';
export const basePath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface BaseTar {
  readonly path: string;
  readonly diffId: string;
  readonly size: number;
}

let tarPromise: Promise<BaseTar> | undefined;
let tarDir: string | undefined;

/** The base rootfs tar, written once per process under a temp folder (removed at exit). */
export function baseRootfsTar(): Promise<BaseTar> {
  tarPromise ??= (async () => {
    tarDir = await mkdtemp(join(tmpdir(), 'strata-base-'));
    const path = join(tarDir, 'base-rootfs.tar');
    const written = await makeBaseRootfsTar(path);
    process.once('exit', () => {
      // Synchronous cleanup: the process is leaving.
      rmSync(tarDir!, {recursive: true, force: true});
    });
    return {path, diffId: written.diffId, size: (await stat(path)).size};
  })();
  return tarPromise;
}

/** Import the base into `store` as `name` (default `base:latest`); idempotent. */
export async function baseImage(store: Store, name = baseImageName): Promise<StoredImage> {
  const tar = await baseRootfsTar();
  const blob = await store.content.putBlob(createReadStream(tar.path), {digest: tar.diffId, size: tar.size});
  const config: ImageConfig = {
    architecture: store.platform.architecture,
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: {Env: [`PATH=${basePath}`], Cmd: ['sh']},
    rootfs: {type: 'layers', diff_ids: [tar.diffId]},
    history: [{created: '2024-01-01T00:00:00Z', created_by: 'strata test fixture: fixtures/base', comment: 'base rootfs'}],
  };
  return store.putImage({config, layers: [{mediaType: MediaType.ociLayer, digest: blob.digest, size: blob.size}], tags: [name]});
}

/** Run `work` with a fresh store in a temp folder that holds the base image; the folder is removed after. */
export async function withBaseImage<T>(work: (store: Store, image: StoredImage) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'strata-store-'));
  try {
    const store = await Store.open(root);
    const image = await baseImage(store);
    return await work(store, image);
  } finally {
    await rm(root, {recursive: true, force: true});
  }
}
