/**
 * The store: an OCI image layout at `root` plus the folders other modules keep their state in.
 *
 * ```
 * oci-layout  index.json  blobs/<alg>/<hex>   the OCI image layout (skopeo and umoci read it)
 * index.json.lock                             the inter-process lock (a folder, while held)
 * cache/ snapshots/ containers/               owned by the builder, snapshotter and runtime
 * tmp/                                        in-flight writes, renamed into place when complete
 * ```
 *
 * Contract:
 * - Blobs follow the ContentStore contract (content.ts).
 * - index.json changes happen under the lock, by writing a new file and renaming it over the old one:
 *   a reader sees the old index or the new one, never a mix, and concurrent writers lose nothing.
 * - An index entry is added only when every blob its manifest names is present (checked under the lock, so
 *   a concurrent gc cannot leave a tagged image with missing blobs).
 * - A tagged image is an entry whose annotations hold `org.opencontainers.image.ref.name` (the familiar
 *   reference, `demo:latest`) and `io.containerd.image.name` (the full one, `docker.io/library/demo:latest`).
 *   An image with no tag keeps one entry without annotations (docker's dangling `<none>:<none>`), so moving a
 *   tag never loses the image it moved from.
 * - The image ID is the config digest; config bytes are stored as given, never re-serialised.
 */
import {promises as fs} from 'node:fs';
import {join} from 'node:path';
import {arch as hostArch} from 'node:os';
import {StrataError} from '../errors.js';
import {parseDigest, sha256Digest} from '../image/digest.js';
import {
  familiarString, fullString, parseReference, tryParseReference, type Reference,
} from '../image/reference.js';
import {
  MediaType, isIndexMediaType, isManifestMediaType, validateConfig, validateIndex, validateManifest,
  type Descriptor, type ImageConfig, type ImageIndex, type Manifest, type Platform,
} from '../image/types.js';
import {FileContentStore, syncDirectory, temporaryName} from './content.js';
import {
  AmbiguousImageError, BlobNotFoundError, ImageNotFoundError, InvalidTagError, NotAStoreError, StoreNotFoundError,
} from './errors.js';
import {StoreLock} from './lock.js';
import {collectGarbage, type GcOptions, type GcResult} from './gc.js';
import {checkStore, type FsckProblem} from './fsck.js';

export const Annotation = {
  refName: 'org.opencontainers.image.ref.name',
  containerdName: 'io.containerd.image.name',
  created: 'org.opencontainers.image.created',
} as const;

export const layoutVersion = '1.0.0';

const storeEntryNames = new Set(['tmp', 'blobs', 'index.json', 'index.json.lock', 'cache', 'snapshots', 'containers']);

/**
 * One image as the store holds it. Read-only: `manifest` and `config` are frozen and shared between
 * callers (blobs never change); structuredClone them to derive new values. Changes go through Store methods.
 */
export interface StoredImage {
  /** The image ID: the config digest. */
  readonly id: string;
  /** The image manifest (for a multi-platform index: the child manifest chosen for this platform). */
  readonly manifestDigest: string;
  /** What index.json points at: the manifest, or the index it was chosen from. */
  readonly target: Descriptor;
  readonly manifest: Manifest;
  readonly config: ImageConfig;
  /** The exact config bytes (the ID is their digest). */
  readonly configBytes: Buffer;
  /** Familiar references, in index order (`demo:latest`). Empty for a dangling image. */
  readonly tags: string[];
  /** Sum of the layer blob sizes. */
  readonly size: number;
  /** config.created (RFC 3339), when set. */
  readonly created?: string;
}

export interface PutImageOptions {
  /** The config bytes to store as they are. Give these or `config`. */
  readonly configBytes?: Buffer;
  /** A config to serialise (once) when no bytes are given. */
  readonly config?: ImageConfig;
  /** Layer descriptors, base first; their blobs must already be in the store. */
  readonly layers: Descriptor[];
  /** References to point at the image (`demo`, `demo:1`, `localhost:5000/x:y`). None: a dangling image. */
  readonly tags?: string[];
  readonly manifestAnnotations?: Record<string, string>;
  /** Media type of the config descriptor (default OCI config). */
  readonly configMediaType?: string;
}

export interface StoreOptions {
  /** Create the store when the folder is missing or empty (default true). */
  readonly create?: boolean;
  /** The platform to pick from multi-platform indexes (default linux and the host architecture). */
  readonly platform?: Platform;
  /**
   * After how long a lock whose holder stopped refreshing it (a killed process) is taken over
   * (default 10 s, minimum 2 s). Every process sharing a store should use the same value.
   */
  readonly lockStaleMs?: number;
}

/** What an entry of index.json says, read without loading blobs. */
export interface IndexEntry {
  readonly descriptor: Descriptor;
  /** The parsed reference, for tagged entries. */
  readonly reference?: Reference;
}

export interface UntagResult {
  /** The familiar reference removed. */
  readonly reference: string;
  /** What the tag pointed at. */
  readonly target: Descriptor;
  /** True when no other tag points at that target any more. */
  readonly wasLastTag: boolean;
}

export interface RemoveImageResult {
  /** Familiar references removed, as docker prints "Untagged: ...". */
  readonly untagged: string[];
  /** The image ID and the manifest digests whose entries were removed ("Deleted: ..."). */
  readonly deleted: string[];
}

const goArch: Record<string, string> = {x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64'};

export function hostPlatform(): Platform {
  return {os: 'linux', architecture: goArch[hostArch()] ?? hostArch()};
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function emptyIndex(): ImageIndex {
  return {schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: []};
}

/** Writes `data` to `target` only if it does not exist yet (link is atomic and never clobbers). */
async function writeFileIfMissing(tmpDir: string, target: string, data: string): Promise<void> {
  if (await fs.stat(target).then(() => true, () => false)) return;
  const temporary = join(tmpDir, temporaryName('init'));
  await fs.writeFile(temporary, data, {flag: 'wx'});
  try {
    await fs.link(temporary, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await fs.rm(temporary, {force: true});
  }
}

/** The tag an index entry carries, if any. Prefers the full containerd name; a bare-tag ref.name is not a tag. */
export function entryReference(descriptor: Descriptor): Reference | undefined {
  const annotations = descriptor.annotations;
  if (!annotations) return undefined;
  const text = annotations[Annotation.containerdName] ?? annotations[Annotation.refName];
  if (text === undefined) return undefined;
  // Every index walk parses every name; an index of thousands of tags makes that the cost to save.
  let reference = parsedNames.get(text);
  if (reference === undefined) {
    const parsed = tryParseReference(text);
    reference = parsed?.tag !== undefined ? Object.freeze(parsed) : null;
    parsedNames.set(text, reference);
  }
  return reference ?? undefined;
}


function referenceKey(reference: Reference): string {
  return fullString(reference);
}

/** Parsed index names, shared by every Store in the process (names parse the same everywhere). */
let parsedNamesCache: BlobCache<Reference | null> | undefined;
const parsedNames = {
  get: (text: string) => (parsedNamesCache ??= new BlobCache<Reference | null>(50_000)).get(text),
  set: (text: string, value: Reference | null) => (parsedNamesCache ??= new BlobCache<Reference | null>(50_000)).set(text, value),
};

/** Small map with least-recently-used eviction, for immutable parsed blobs. */
class BlobCache<T> {
  private readonly entries = new Map<string, T>();
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  get(key: string): T | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }
  set(key: string, value: T): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
  }
}

/** Runs `work` over `items` with at most `limit` in flight, keeping order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
  return results;
}

interface LoadedTarget {
  readonly manifestDigest: string;
  readonly manifest: Manifest;
  readonly config: ImageConfig;
  readonly configBytes: Buffer;
}

const minimumIdPrefix = 4;

export class Store {
  readonly root: string;
  readonly content: FileContentStore;
  readonly paths: {
    readonly root: string;
    readonly layout: string;
    readonly index: string;
    readonly lock: string;
    readonly blobs: string;
    readonly tmp: string;
    readonly cache: string;
    readonly snapshots: string;
    readonly containers: string;
  };
  readonly platform: Platform;
  private readonly lock: StoreLock;
  private readonly loaded = new BlobCache<LoadedTarget>(20_000);
  private indexCache?: {key: string; index: ImageIndex};

  private constructor(root: string, platform: Platform, lockStaleMs?: number) {
    this.root = root;
    this.paths = {
      root,
      layout: join(root, 'oci-layout'),
      index: join(root, 'index.json'),
      lock: join(root, 'index.json.lock'),
      blobs: join(root, 'blobs'),
      tmp: join(root, 'tmp'),
      cache: join(root, 'cache'),
      snapshots: join(root, 'snapshots'),
      containers: join(root, 'containers'),
    };
    this.platform = platform;
    this.content = new FileContentStore(this.paths.blobs, this.paths.tmp);
    this.lock = new StoreLock(root, this.paths.index, this.paths.lock, lockStaleMs);
  }

  /**
   * Opens the store at `root`, creating it when the folder is missing or empty (unless `create` is false).
   * A folder that holds other things and no `oci-layout` is refused: the store never writes into it.
   */
  static async open(root: string, options: StoreOptions = {}): Promise<Store> {
    const store = new Store(root, options.platform ?? hostPlatform(), options.lockStaleMs);
    const create = options.create ?? true;
    let stats;
    try {
      stats = await fs.stat(root);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      if (!create) throw new StoreNotFoundError(root);
      await fs.mkdir(root, {recursive: true});
      stats = await fs.stat(root);
    }
    if (!stats.isDirectory()) throw new NotAStoreError(root, 'not a folder');
    const hasLayout = await fs.stat(store.paths.layout).then(() => true, error => {
      if (isNotFound(error)) return false;
      throw error;
    });
    if (!hasLayout) {
      // Only what a store creation in progress (another process opening the same new store) may have made.
      const entries = (await fs.readdir(root)).filter(name => !storeEntryNames.has(name));
      if (entries.length > 0) throw new NotAStoreError(root, 'folder is not empty and holds no oci-layout');
      if (!create) throw new StoreNotFoundError(root);
    }
    await store.ensureLayout();
    return store;
  }

  /** Creates whatever part of the layout is missing; never overwrites. The oci-layout marker goes first. */
  private async ensureLayout(): Promise<void> {
    const p = this.paths;
    await fs.mkdir(p.tmp, {recursive: true});
    await writeFileIfMissing(p.tmp, p.layout, JSON.stringify({imageLayoutVersion: layoutVersion}));
    await fs.mkdir(join(p.blobs, 'sha256'), {recursive: true});
    await writeFileIfMissing(p.tmp, p.index, JSON.stringify(emptyIndex()));
    await Promise.all([p.cache, p.snapshots, p.containers].map(folder => fs.mkdir(folder, {recursive: true})));
  }

  // ---- index -------------------------------------------------------------------------------------------

  /** The current index.json, parsed. Lock-free: the file is only ever replaced whole. */
  async readIndex(): Promise<ImageIndex> {
    const handle = await fs.open(this.paths.index, 'r');
    try {
      const stats = await handle.stat({bigint: true});
      const key = `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
      if (this.indexCache?.key === key) return structuredClone(this.indexCache.index);
      const text = await handle.readFile('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new StrataError('ERR_INVALID_INDEX', `read index ${this.paths.index}: ${(error as Error).message}`, {cause: error});
      }
      validateIndex(parsed);
      this.indexCache = {key, index: parsed};
      return structuredClone(parsed);
    } finally {
      await handle.close();
    }
  }

  /**
   * Changes index.json under the inter-process lock. `mutate` gets the current index (a private copy) and
   * returns the new one, or changes it in place and returns nothing. The new index is written to tmp/,
   * fsynced and renamed over the old one. Nothing is written when the index did not change.
   */
  async updateIndex(mutate: (index: ImageIndex) => ImageIndex | void | Promise<ImageIndex | void>): Promise<ImageIndex> {
    return this.lock.run(async guard => {
      const current = await this.readIndex();
      const before = JSON.stringify(current);
      const next = (await mutate(current)) ?? current;
      validateIndex(next);
      const text = JSON.stringify(next);
      if (text === before) return next;
      const temporary = join(this.paths.tmp, temporaryName('index'));
      try {
        const handle = await fs.open(temporary, 'wx', 0o644);
        try {
          await handle.writeFile(text);
          await handle.sync();
        } finally {
          await handle.close();
        }
        guard.assertHeld();
        await fs.rename(temporary, this.paths.index);
      } catch (error) {
        await fs.rm(temporary, {force: true});
        throw error;
      }
      await syncDirectory(this.root);
      // Remember what we wrote, keyed like readIndex keys it, so the next read skips parsing.
      const stats = await fs.stat(this.paths.index, {bigint: true});
      this.indexCache = {key: `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`, index: structuredClone(next)};
      return next;
    });
  }

  /** Runs `work` while holding the store lock (gc uses it; so can other modules that must not race gc). */
  withLock<T>(work: () => Promise<T>): Promise<T> {
    return this.lock.run(() => work());
  }

  /** index.json entries with their parsed tags. */
  async listEntries(): Promise<IndexEntry[]> {
    const index = await this.readIndex();
    return index.manifests.map(descriptor => {
      const reference = entryReference(descriptor);
      return reference ? {descriptor, reference} : {descriptor};
    });
  }

  // ---- reading images ----------------------------------------------------------------------------------

  /** Reads and validates a JSON blob (verified against its descriptor). */
  async readJsonBlob(descriptor: {digest: string; size?: number}): Promise<{bytes: Buffer; value: unknown}> {
    const bytes = await this.content.readBlob(descriptor.size === undefined ? descriptor.digest : {digest: descriptor.digest, size: descriptor.size});
    try {
      return {bytes, value: JSON.parse(bytes.toString('utf8'))};
    } catch (error) {
      throw new StrataError('ERR_INVALID_IMAGE', `parse blob ${descriptor.digest}: ${(error as Error).message}`, {cause: error});
    }
  }

  /** The manifest an index entry leads to, with its config. Follows nested indexes to this store's platform. */
  private async loadTarget(target: Descriptor, depth = 0): Promise<LoadedTarget> {
    const cached = this.loaded.get(target.digest);
    if (cached) return cached;
    const {value} = await this.readJsonBlob(target);
    let loaded: LoadedTarget;
    if (isIndexMediaType(target.mediaType) || (value as {manifests?: unknown})?.manifests !== undefined) {
      if (depth > 4) throw new StrataError('ERR_INVALID_IMAGE', `load image ${target.digest}: indexes nested too deeply`);
      validateIndex(value, isIndexMediaType(target.mediaType) ? target.mediaType : undefined);
      const child = await this.chooseManifest(value);
      if (!child) throw new BlobNotFoundError(target.digest, `load image ${target.digest}: no manifest for ${this.platform.os}/${this.platform.architecture} in index`);
      loaded = await this.loadTarget(child, depth + 1);
    } else {
      validateManifest(value, isManifestMediaType(target.mediaType) ? target.mediaType : undefined);
      const config = await this.readJsonBlob(value.config);
      validateConfig(config.value, value);
      // Frozen: the same objects are handed to every caller from the cache, so a caller's edit must not
      // leak into what the next caller sees. Clone (structuredClone) to derive a new config.
      loaded = {manifestDigest: target.digest, manifest: deepFreeze(value), config: deepFreeze(config.value), configBytes: config.bytes};
    }
    this.loaded.set(target.digest, loaded);
    return loaded;
  }

  /** The first entry for this platform whose blob is here; else the first present manifest without a platform. */
  private async chooseManifest(index: ImageIndex): Promise<Descriptor | undefined> {
    const present = [];
    for (const entry of index.manifests) {
      if (await this.content.hasBlob(entry.digest)) present.push(entry);
    }
    const wanted = this.platform;
    return (
      present.find(entry => entry.platform?.os === wanted.os && entry.platform.architecture === wanted.architecture
        && (wanted.variant === undefined || entry.platform.variant === undefined || entry.platform.variant === wanted.variant))
      ?? present.find(entry => entry.platform === undefined)
    );
  }

  private toStoredImage(target: Descriptor, loaded: LoadedTarget, tags: string[]): StoredImage {
    const size = loaded.manifest.layers.reduce((total, layer) => total + layer.size, 0);
    const image: StoredImage = {
      id: loaded.manifest.config.digest,
      manifestDigest: loaded.manifestDigest,
      target: stripAnnotations(target),
      manifest: loaded.manifest,
      config: loaded.config,
      configBytes: loaded.configBytes,
      tags,
      size,
      ...(typeof loaded.config.created === 'string' ? {created: loaded.config.created} : {}),
    };
    return image;
  }

  /** Groups index entries by target digest, in index order, with their familiar tags. */
  /** index.json entries grouped by the manifest (or index) they point at, with their familiar tags. */
  groupEntries(index: ImageIndex): {target: Descriptor; tags: string[]}[] {
    const groups = new Map<string, {target: Descriptor; tags: string[]}>();
    const seenTags = new Set<string>();
    for (const descriptor of index.manifests) {
      let group = groups.get(descriptor.digest);
      if (!group) {
        group = {target: descriptor, tags: []};
        groups.set(descriptor.digest, group);
      }
      const reference = entryReference(descriptor);
      if (reference) {
        // The first entry with a name wins (OCI: first match), should another tool have written duplicates.
        const tag = familiarString(reference);
        if (!seenTags.has(tag)) group.tags.push(tag);
        seenTags.add(tag);
      }
    }
    return [...groups.values()];
  }

  /**
   * Every image in the store, newest first (by config `created`, as docker lists them). Images whose blobs
   * are missing or damaged are left out (fsck reports them). Manifests and configs are read with bounded
   * concurrency and kept in memory by digest, so listing again is cheap.
   */
  async listImages(): Promise<StoredImage[]> {
    const groups = this.groupEntries(await this.readIndex());
    const images = await mapLimit(groups, 16, async group => {
      try {
        return this.toStoredImage(group.target, await this.loadTarget(group.target), group.tags);
      } catch {
        return undefined;
      }
    });
    const present = images.filter((image): image is StoredImage => image !== undefined);
    return present
      .map((image, order) => ({image, order, time: image.created ? Date.parse(image.created) || 0 : 0}))
      .sort((a, b) => b.time - a.time || a.order - b.order)
      .map(entry => entry.image);
  }

  /**
   * Finds one image by what a user types: a reference (`demo`, `demo:1`, `docker.io/library/demo:1`,
   * `name@sha256:...`), a full ID or manifest digest, or an ID prefix of at least 4 hex digits, with or
   * without `sha256:`. Throws ImageNotFoundError ("No such image: x") or AmbiguousImageError.
   */
  async resolveImage(nameOrId: string): Promise<StoredImage> {
    const text = nameOrId.trim();
    const index = await this.readIndex();
    const groups = this.groupEntries(index);
    const load = async (group: {target: Descriptor; tags: string[]}) =>
      this.toStoredImage(group.target, await this.loadTarget(group.target), group.tags);

    const reference = tryParseReference(text);
    if (reference?.tag !== undefined && reference.digest === undefined) {
      const key = referenceKey(reference);
      const entry = index.manifests.find(candidate => {
        const entryRef = entryReference(candidate);
        return entryRef !== undefined && referenceKey(entryRef) === key;
      });
      const group = entry && groups.find(candidate => candidate.target.digest === entry.digest);
      if (group) return load(group);
    }

    // Only registered algorithms: `name:tag` also fits the digest grammar.
    const isFullDigest = /^(?:sha256|sha512|blake3):/.test(text) && safeIsDigest(text);
    const wantedDigest = isFullDigest ? text : reference?.digest;
    const hexPrefix = /^(?:sha256:)?([a-f0-9]+)$/.exec(text)?.[1];
    if (wantedDigest === undefined && (hexPrefix === undefined || hexPrefix.length < minimumIdPrefix)) {
      throw new ImageNotFoundError(text);
    }

    if (wantedDigest !== undefined) {
      // A manifest digest names its index entry directly: no need to read every image.
      const direct = groups.find(group => group.target.digest === wantedDigest);
      if (direct) return load(direct);
    }
    const images = (await mapLimit(groups, 16, group => load(group).catch(() => undefined)))
      .filter((image): image is StoredImage => image !== undefined);
    if (wantedDigest !== undefined) {
      const byDigest = images.find(image => image.id === wantedDigest)
        ?? images.find(image => image.manifestDigest === wantedDigest || image.target.digest === wantedDigest);
      if (byDigest) return byDigest;
      if (reference?.digest === undefined) throw new ImageNotFoundError(text);
    }
    if (hexPrefix !== undefined && hexPrefix.length >= minimumIdPrefix) {
      const matches = images.filter(image => image.id.startsWith(`sha256:${hexPrefix}`));
      const ids = [...new Set(matches.map(image => image.id))];
      if (ids.length > 1) throw new AmbiguousImageError(text, ids);
      if (ids.length === 1) return matches[0];
    }
    throw new ImageNotFoundError(text);
  }

  /** Every image that resolves from `nameOrId`'s ID: all manifests sharing one config. */
  private async imagesWithId(id: string): Promise<StoredImage[]> {
    return (await this.listImages()).filter(image => image.id === id);
  }

  /**
   * Images built on top of `id`: their diff_ids start with all of its diff_ids and, where both have
   * history, their history starts with its history; and they have more layers or more history.
   * This is what rmi's "image has dependent child images" and the workbench's "used by" mean.
   */
  async children(id: string): Promise<StoredImage[]> {
    const images = await this.listImages();
    const parent = images.find(image => image.id === id);
    if (!parent) throw new ImageNotFoundError(id);
    return images.filter(image => image.id !== id && isChildOf(image.config, parent.config));
  }

  // ---- writing images ----------------------------------------------------------------------------------

  /**
   * Stores an image: the config blob (bytes as given), then the manifest blob, then the index entries.
   * Layers must already be stored. Tags are parsed first, so a bad tag writes nothing.
   */
  async putImage(options: PutImageOptions): Promise<StoredImage> {
    const references = (options.tags ?? []).map(tag => parseTagReference(tag));
    let configBytes = options.configBytes;
    if (!configBytes) {
      if (!options.config) throw new StrataError('ERR_INVALID_IMAGE', 'put image: no config given');
      configBytes = Buffer.from(JSON.stringify(options.config));
    }
    let config: unknown;
    try {
      config = JSON.parse(configBytes.toString('utf8'));
    } catch (error) {
      throw new StrataError('ERR_INVALID_IMAGE', `put image: config is not JSON: ${(error as Error).message}`, {cause: error});
    }
    const layers = options.layers.map(layer => ({...layer}));
    const configDescriptor: Descriptor = {mediaType: options.configMediaType ?? MediaType.ociConfig, digest: '', size: 0};
    const manifest: Manifest = {schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDescriptor, layers};
    if (options.manifestAnnotations && Object.keys(options.manifestAnnotations).length > 0) {
      manifest.annotations = {...options.manifestAnnotations};
    }
    validateConfig(config, manifest);
    const sizes = await Promise.all(layers.map(layer => this.content.statBlob(layer.digest)));
    for (const [index, layer] of layers.entries()) {
      const size = sizes[index];
      if (size === undefined) throw new BlobNotFoundError(layer.digest, 'put image: layer');
      if (size !== layer.size) throw new StrataError('ERR_SIZE_MISMATCH', `put image: layer ${layer.digest} is ${size} bytes, descriptor says ${layer.size}`);
    }
    // The manifest names the config by digest, so both blobs can be written at once; the index entry,
    // written after both, is what makes them reachable.
    configDescriptor.digest = sha256Digest(configBytes);
    configDescriptor.size = configBytes.length;
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const [, storedManifest] = await Promise.all([
      this.content.putBlob(configBytes, {digest: configDescriptor.digest}),
      this.content.putBlob(manifestBytes),
    ]);
    const target: Descriptor = {mediaType: MediaType.ociManifest, digest: storedManifest.digest, size: storedManifest.size};
    this.loaded.set(target.digest, {manifestDigest: target.digest, manifest: deepFreeze(structuredClone(manifest)), config: deepFreeze(config as ImageConfig), configBytes});
    const created = typeof (config as ImageConfig).created === 'string' ? (config as ImageConfig).created : undefined;
    await this.addEntries(target, references, created);
    return this.toStoredImage(target, await this.loadTarget(target), references.map(familiarString));
  }

  /**
   * Points index entries at a manifest or index already in the content store (pulls and loads use this).
   * With no tags the image gets a dangling entry unless it already has one.
   */
  async registerImage(target: Descriptor, tags: string[] = []): Promise<StoredImage> {
    const references = tags.map(tag => parseTagReference(tag));
    const loaded = await this.loadTarget(target);
    const created = typeof loaded.config.created === 'string' ? loaded.config.created : undefined;
    await this.addEntries(stripAnnotations(target), references, created);
    const entries = (await this.readIndex()).manifests.filter(entry => entry.digest === target.digest);
    const allTags = [...new Set(entries.flatMap(entry => {
      const reference = entryReference(entry);
      return reference ? [familiarString(reference)] : [];
    }))];
    return this.toStoredImage(target, loaded, allTags);
  }

  /** Points `reference` at the image `source` names (any form resolveImage takes); moves it if it exists. */
  async tag(source: string, reference: string): Promise<StoredImage> {
    const parsed = parseTagReference(reference);
    const image = await this.resolveImage(source);
    await this.addEntries(image.target, [parsed], image.created);
    return this.resolveImage(fullString(parsed));
  }

  /**
   * Removes one tag. When it was the image's last one the image stays as a dangling entry
   * (unless `keepDangling` is false), so untagging never loses an image by itself.
   */
  async untag(reference: string, options: {keepDangling?: boolean} = {}): Promise<UntagResult> {
    const parsed = parseTagReference(reference);
    const key = referenceKey(parsed);
    let result: UntagResult | undefined;
    await this.updateIndex(index => {
      const removed = index.manifests.find(entry => {
        const entryRef = entryReference(entry);
        return entryRef !== undefined && referenceKey(entryRef) === key;
      });
      if (!removed) return;
      index.manifests = index.manifests.filter(entry => {
        const entryRef = entryReference(entry);
        return !(entryRef !== undefined && referenceKey(entryRef) === key);
      });
      const remaining = index.manifests.filter(entry => entry.digest === removed.digest);
      const wasLastTag = remaining.every(entry => entryReference(entry) === undefined);
      if (remaining.length === 0 && options.keepDangling !== false) index.manifests.push(stripAnnotations(removed));
      result = {reference: familiarString(parsed), target: stripAnnotations(removed), wasLastTag};
    });
    if (!result) throw new ImageNotFoundError(reference);
    return result;
  }

  /**
   * Removes every index entry of the image `nameOrId` resolves to (all its tags and all manifests sharing
   * its config). Blobs stay until gc. Dependent children are the caller's decision (see `children`).
   */
  async removeImage(nameOrId: string): Promise<RemoveImageResult> {
    const image = await this.resolveImage(nameOrId);
    const targets = new Set((await this.imagesWithId(image.id)).map(candidate => candidate.target.digest));
    targets.add(image.target.digest);
    const untagged: string[] = [];
    const deleted = new Set<string>();
    await this.updateIndex(index => {
      index.manifests = index.manifests.filter(entry => {
        if (!targets.has(entry.digest)) return true;
        const reference = entryReference(entry);
        if (reference) untagged.push(familiarString(reference));
        deleted.add(entry.digest);
        return false;
      });
    });
    return {untagged, deleted: [image.id, ...[...deleted].filter(digest => digest !== image.id)]};
  }

  /**
   * Adds entries for `target` under the lock: each reference is taken from whatever it pointed at (which is
   * kept as a dangling entry if nothing else points at it), a dangling entry of `target` is replaced by the
   * tagged ones, and with no references `target` gets a dangling entry if it has no entry at all.
   * Refuses (BlobNotFoundError) when a blob the image needs is missing.
   */
  private async addEntries(target: Descriptor, references: Reference[], created?: string): Promise<void> {
    if (await this.entriesAlreadyPoint(target, references)) return;
    await this.updateIndex(async index => {
      await this.assertComplete(target);
      const keys = new Set(references.map(referenceKey));
      const displaced: Descriptor[] = [];
      let entries = index.manifests.filter(entry => {
        const reference = entryReference(entry);
        if (reference && keys.has(referenceKey(reference))) {
          if (entry.digest !== target.digest) displaced.push(entry);
          return false;
        }
        return true;
      });
      if (references.length > 0) {
        entries = entries.filter(entry => !(entry.digest === target.digest && entryReference(entry) === undefined));
        for (const reference of references) {
          const annotations: Record<string, string> = {
            [Annotation.refName]: familiarString(reference),
            [Annotation.containerdName]: fullString(reference),
          };
          if (created) annotations[Annotation.created] = created;
          entries.push({...stripAnnotations(target), annotations});
        }
      } else if (!entries.some(entry => entry.digest === target.digest)) {
        entries.push(stripAnnotations(target));
      }
      for (const old of displaced) {
        if (!entries.some(entry => entry.digest === old.digest)) {
          entries.push(stripAnnotations(old));
        }
      }
      index.manifests = entries;
    });
  }

  /**
   * True when index.json already says what `addEntries` would write: every reference names `target` (or, with
   * none, `target` has an entry). A rebuild that changed nothing then takes no lock and writes nothing.
   */
  private async entriesAlreadyPoint(target: Descriptor, references: Reference[]): Promise<boolean> {
    const index = await this.readIndex();
    const entries = index.manifests.filter(entry => entry.digest === target.digest);
    if (references.length === 0) return entries.length > 0;
    const named = new Set(entries.flatMap(entry => {
      const reference = entryReference(entry);
      return reference ? [referenceKey(reference)] : [];
    }));
    if (!references.every(reference => named.has(referenceKey(reference)))) return false;
    // The same names must not also point elsewhere (another tool may have written duplicates).
    return !index.manifests.some(entry => {
      if (entry.digest === target.digest) return false;
      const reference = entryReference(entry);
      return reference !== undefined && references.some(wanted => referenceKey(wanted) === referenceKey(reference));
    });
  }

  /** Throws BlobNotFoundError when the target, its config or a layer is missing. */
  private async assertComplete(target: Descriptor): Promise<void> {
    if (!(await this.content.hasBlob(target.digest))) throw new BlobNotFoundError(target.digest, 'tag image: manifest');
    const loaded = await this.loadTarget(target);
    for (const descriptor of [loaded.manifest.config, ...loaded.manifest.layers]) {
      if (!(await this.content.hasBlob(descriptor.digest))) throw new BlobNotFoundError(descriptor.digest, 'tag image: blob');
    }
  }

  // ---- maintenance -------------------------------------------------------------------------------------

  /** Deletes blobs nothing references (see gc.ts). Runs under the lock. */
  gc(options: GcOptions = {}): Promise<GcResult> {
    return this.lock.run(() => collectGarbage(this, options));
  }

  /** Verifies every blob and every reference; changes nothing (see fsck.ts). */
  fsck(): Promise<FsckProblem[]> {
    return checkStore(this);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function safeIsDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

function stripAnnotations(descriptor: Descriptor): Descriptor {
  const {annotations: _annotations, ...rest} = descriptor;
  return rest;
}

/** Parses a reference to use as a tag: default `latest`, no digest allowed. */
export function parseTagReference(text: string): Reference {
  const reference = parseReference(text);
  if (reference.digest !== undefined) throw new InvalidTagError(text, 'refusing to create a tag with a digest reference');
  return reference;
}

function historyKey(entry: {created?: string; created_by?: string; comment?: string; empty_layer?: boolean}): string {
  return `${entry.created ?? ''}\u0000${entry.created_by ?? ''}\u0000${entry.comment ?? ''}\u0000${entry.empty_layer ? 1 : 0}`;
}

/** True when `child` was built on `parent` (layer and history prefixes, and something more). */
export function isChildOf(child: ImageConfig, parent: ImageConfig): boolean {
  const childLayers = child.rootfs.diff_ids;
  const parentLayers = parent.rootfs.diff_ids;
  if (childLayers.length < parentLayers.length) return false;
  if (!parentLayers.every((diffId, index) => childLayers[index] === diffId)) return false;
  const childHistory = child.history ?? [];
  const parentHistory = parent.history ?? [];
  if (childHistory.length > 0 && parentHistory.length > 0) {
    if (childHistory.length < parentHistory.length) return false;
    if (!parentHistory.every((entry, index) => historyKey(entry) === historyKey(childHistory[index]))) return false;
    return childHistory.length > parentHistory.length || childLayers.length > parentLayers.length;
  }
  return parentLayers.length > 0 && childLayers.length > parentLayers.length;
}
