/**
 * Garbage collection: delete the blobs nothing references.
 *
 * Roots are the index.json entries plus `keep` (e.g. layers that build cache records point at). From each
 * root the walk follows indexes to their manifests and manifests to their config, layers and subject.
 * gc never deletes a reachable blob: when a reachable manifest or index cannot be read (damaged), it deletes
 * nothing and says so, because what that blob references is unknown. It runs under the store lock, and image
 * entries are only added under the same lock after checking their blobs, so a concurrent tag never ends up
 * pointing at a deleted blob. Blobs written less than `graceMs` ago are kept, which protects blobs that a
 * concurrent build has written but not yet referenced.
 */
import {promises as fs} from 'node:fs';
import {join} from 'node:path';
import {StrataError} from '../errors.js';
import {isIndexMediaType, isManifestMediaType, type Descriptor} from '../image/types.js';
import type {BlobInfo} from './content.js';
import type {Store} from './store.js';

export interface GcOptions {
  /** Extra root digests to keep (and nothing they reference is followed). */
  readonly keep?: Iterable<string>;
  /** Keep unreferenced blobs modified less than this long ago (default 0). */
  readonly graceMs?: number;
  /** Remove store-owned temporary files older than this (default 5 minutes). */
  readonly tmpMaxAgeMs?: number;
  /** Report what would be removed without removing it. */
  readonly dryRun?: boolean;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export interface GcResult {
  readonly removed: BlobInfo[];
  readonly reclaimedBytes: number;
  /** Temporary files removed from tmp/. */
  readonly removedTemporary: string[];
}

export class GcRefusedError extends StrataError {
  constructor(digest: string, cause: unknown) {
    super('ERR_GC_REFUSED', `gc: read ${digest}: ${cause instanceof Error ? cause.message : String(cause)}; nothing was deleted`, {cause});
  }
}

// `spare-`: copies of layers that a watching process writes its next layer over (engine/layer/layer-file.ts).
const storeTemporaryPrefixes = ['blob-', 'index-', 'init-', 'spare-'];

/** Every digest reachable from the index and `keep`. */
export async function reachableDigests(store: Store, keep: Iterable<string> = []): Promise<Set<string>> {
  const reachable = new Set<string>(keep);
  const walk = async (descriptor: Descriptor, depth: number): Promise<void> => {
    if (reachable.has(descriptor.digest) && depth > 0) return;
    reachable.add(descriptor.digest);
    const isIndex = isIndexMediaType(descriptor.mediaType);
    const isManifest = isManifestMediaType(descriptor.mediaType);
    if (!isIndex && !isManifest) return;
    if (!(await store.content.hasBlob(descriptor.digest))) return; // nothing to protect or follow
    let value: {manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[]; subject?: Descriptor};
    try {
      value = (await store.readJsonBlob(descriptor)).value as typeof value;
    } catch (error) {
      throw new GcRefusedError(descriptor.digest, error);
    }
    if (value.subject?.digest) reachable.add(value.subject.digest);
    if (isIndex) {
      for (const child of value.manifests ?? []) await walk(child, depth + 1);
    } else {
      if (value.config?.digest) reachable.add(value.config.digest);
      for (const layer of value.layers ?? []) reachable.add(layer.digest);
    }
  };
  const index = await store.readIndex();
  for (const entry of index.manifests) await walk(entry, 0);
  return reachable;
}

/** The work of Store.gc; the caller holds the lock. */
export async function collectGarbage(store: Store, options: GcOptions): Promise<GcResult> {
  const now = options.now?.() ?? Date.now();
  const graceMs = options.graceMs ?? 0;
  const reachable = await reachableDigests(store, options.keep);
  const removed: BlobInfo[] = [];
  for (const file of await store.content.listBlobFiles()) {
    if (!file.digest || reachable.has(file.digest)) continue;
    let stats;
    try {
      stats = await fs.stat(file.path);
    } catch {
      continue;
    }
    if (!stats.isFile() || now - stats.mtimeMs < graceMs) continue;
    if (!options.dryRun && !(await store.content.deleteBlob(file.digest))) continue;
    removed.push({digest: file.digest, size: stats.size});
  }
  const removedTemporary: string[] = [];
  const tmpMaxAgeMs = options.tmpMaxAgeMs ?? 5 * 60_000;
  let names: string[] = [];
  try {
    names = await fs.readdir(store.paths.tmp);
  } catch {
    names = [];
  }
  for (const name of names) {
    if (!storeTemporaryPrefixes.some(prefix => name.startsWith(prefix))) continue;
    const path = join(store.paths.tmp, name);
    try {
      const stats = await fs.lstat(path);
      if (!stats.isFile() || now - stats.mtimeMs < tmpMaxAgeMs) continue;
      if (!options.dryRun) await fs.rm(path, {force: true});
      removedTemporary.push(name);
    } catch {
      continue;
    }
  }
  return {removed, reclaimedBytes: removed.reduce((total, blob) => total + blob.size, 0), removedTemporary};
}
