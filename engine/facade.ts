/**
 * The Engine class: the verbs over one store. See engine.ts for the value types it returns.
 */
import {createHash} from 'node:crypto';
import {createReadStream, watch, type FSWatcher} from 'node:fs';
import {mkdir, readFile, rename, stat, writeFile} from 'node:fs/promises';
import {homedir} from 'node:os';
import {dirname, join} from 'node:path';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {createGunzip} from 'node:zlib';
import {UserError} from './errors.js';
import type {
  EngineOptions,
  FileTreeNode,
  FsckReport,
  HistoryRow,
  ImageSummary,
  ImportOptions,
  InspectResult,
  LayerFile,
  LayerInfo,
  ListImagesOptions,
  PruneResult,
  RemoveResult,
  WasteReport,
} from './engine.js';
import {chainIds, familiarRepository, historyWithLayers, MediaType, parseReference, validateIndex, type Descriptor, type ImageConfig} from './image/index.js';
import {
  computeWaste,
  deserializeIndex,
  indexLayer,
  layerTree,
  readLayerFile,
  serializeIndex,
  type LayerIndex,
} from './layer/index.js';
import {resolveStoreRoot, Store, type StoredImage} from './store/index.js';
import {Snapshots} from './snapshot/index.js';
import type {BuildHooks, BuildOptions, BuildResult} from './build/build.js';
import type {WatchBuildOptions} from './watch/options.js';
import type {WatchEvent} from './watch/events.js';
import {cacheRoots, pruneCache, type PruneResult as CachePruneResult} from './build/cache.js';

/** What `Engine.build` takes: the builder's options without the store, which the engine supplies. */
export type EngineBuildOptions = Omit<BuildOptions, 'store' | 'root'>;

/** Resolve the store root as the CLI does: `--root`, STRATA_ROOT, XDG_DATA_HOME, ~/.local/share. */
export function resolveRoot(options: {flag?: string; env: Readonly<Record<string, string | undefined>>}): string {
  return resolveStoreRoot({flag: options.flag, env: options.env, home: options.env.HOME ?? homedir()});
}

/** Layer indexes with more files than this are not kept in memory (see `layerIndex`). */
const keptIndexFiles = 20_000;

/** Unreferenced blobs younger than this survive gc, so a build in flight in another process keeps its layers. */
const gcGraceMs = 60_000;

export class Engine {
  readonly root: string;
  readonly store: Store;
  private readonly now: () => Date;
  private readonly indexCache = new Map<string, Promise<LayerIndex>>();
  private readonly bigIndexes = new Map<string, WeakRef<LayerIndex>>();
  private readonly gcKeepers: (() => Promise<Iterable<string>>)[] = [];
  private summaries?: Map<string, ImageSummaryRecord>;
  /**
   * The last listing made, with the identity of the index.json file it was made from, set together: listings
   * made at once (a reload while a build tags) may finish in any order, and a listing must never be served for
   * a file it was not made from.
   */
  private current?: {readonly identity: string; readonly listing: Listing};

  private constructor(store: Store, options: EngineOptions) {
    this.store = store;
    this.root = store.root;
    this.now = options.now ?? (() => new Date());
    this.gcKeepers.push(() => cacheRoots(this.root));
  }

  static async open(options: EngineOptions): Promise<Engine> {
    const store = await Store.open(options.root);
    return new Engine(store, options);
  }

  /** Registers extra gc roots (the build cache keeps its layers alive this way). */
  addGcRoots(provider: () => Promise<Iterable<string>>): void {
    this.gcKeepers.push(provider);
  }

  async close(): Promise<void> {
    // Nothing held open today; the CLI calls this so that future resources have one place to go.
  }

  // ---- listing -------------------------------------------------------------------------------------

  async listImages(options: ListImagesOptions = {}): Promise<ImageSummary[]> {
    const {images} = await this.listing();
    const filters = options.filters ?? {};
    const byName = options.repository ? referenceFilter(options.repository, true) : undefined;
    const byReference = (filters.reference ?? []).map(pattern => referenceFilter(pattern, false));
    const before = filters.before ? await this.resolve(filters.before) : undefined;
    const since = filters.since ? await this.resolve(filters.since) : undefined;

    const rows: ImageSummary[] = [];
    for (const image of images) {
      const children = image.children;
      const labels = image.labels;
      const dangling = image.tags.length === 0;
      if (dangling && children.length > 0 && !options.all) continue;
      if (filters.dangling !== undefined && filters.dangling !== (dangling && children.length === 0)) continue;
      if (!matchesLabels(labels, filters.label ?? [])) continue;
      if (before || since) {
        const created = image.created ? Date.parse(image.created) : 0;
        if (before && !(created < (Date.parse(before.created ?? '') || 0))) continue;
        if (since && !(created > (Date.parse(since.created ?? '') || 0))) continue;
      }
      if (dangling) {
        if (byName || byReference.length > 0) continue;
        rows.push(summaryRow(image, '<none>', '<none>'));
        continue;
      }
      for (const [repository, tag] of image.names) {
        if (byName && !byName(repository, tag)) continue;
        if (byReference.length > 0 && !byReference.some(match => match(repository, tag))) continue;
        rows.push(summaryRow(image, repository, tag));
      }
    }
    return rows;
  }

  /**
   * What listing needs of every image, newest first, as of the current index.json. The listing is kept by a
   * hash of index.json's bytes, in memory and in `cache/images.json`, so a new process whose index has not
   * changed lists thousands of images from two file reads (the workbench's first frame waits on this).
   * Otherwise it is made from per-manifest summaries (manifests never change, so those are kept by digest),
   * reading the blobs only of manifests the cache does not know.
   */
  private async listing(): Promise<Listing> {
    // Within a process the file's identity says enough (as the store's own index cache trusts it); the hash of
    // the bytes is what a listing is filed under, since that holds across processes and copies of the store.
    const stats = await stat(this.store.paths.index, {bigint: true});
    const identity = `${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
    if (this.current?.identity === identity) return this.current.listing;
    const key = await this.indexKey();
    // Filed under the bytes' hash: the same index.json, rewritten or copied, still has this listing.
    const reuse = (listing: Listing) => {
      this.current = {identity, listing};
      return listing;
    };
    if (this.current && this.current.listing.key === key.hash) return reuse(this.current.listing);
    if (!this.current) {
      const saved = await readListingFile(this.listingFile());
      if (saved?.key === key.hash) return reuse(saved);
    }
    this.summaries ??= await readSummaryFile(this.summaryFile());
    const known = this.summaries;
    let records: ImageRecord[] | undefined;
    let groups: {target: Descriptor; tags: string[]}[] | undefined;
    try {
      // Parsed from the very bytes that were hashed, so the listing cannot be filed under another index.
      const index: unknown = JSON.parse(key.bytes.toString('utf8'));
      validateIndex(index);
      groups = this.store.groupEntries(index);
    } catch {
      groups = undefined;
    }
    let stable = groups !== undefined;
    if (groups && groups.every(group => known.has(group.target.digest))) {
      records = groups.map(group => ({...known.get(group.target.digest)!, tags: group.tags}));
    } else {
      const images = await this.store.listImages();
      for (const image of images) known.set(image.target.digest, summarize(image));
      const live = new Set(images.map(image => image.target.digest));
      for (const group of groups ?? []) live.add(group.target.digest);
      for (const digest of known.keys()) if (!live.has(digest)) known.delete(digest);
      records = images.map(image => ({...known.get(image.target.digest)!, tags: image.tags}));
      // The store read index.json again: only a listing from unchanged bytes may be filed under this key.
      stable = (await this.indexKey()).hash === key.hash;
    }
    const sorted = records
      .map((record, order) => ({record, order, time: record.created ? Date.parse(record.created) || 0 : 0}))
      .sort((a, b) => b.time - a.time || a.order - b.order)
      .map(entry => entry.record);
    const childrenOf = childrenByLayers(sorted);
    const listing: Listing = {
      key: stable ? key.hash : '',
      images: sorted.map(({diffIds: _diffIds, ...record}) => ({
        ...record,
        children: childrenOf.get(record.id) ?? [],
        names: record.tags.map(tag => {
          const reference = parseReference(tag);
          return [familiarRepository(reference), reference.tag ?? '<none>'] as const;
        }),
      })),
    };
    // The identity read before the bytes: if index.json changed since, the next call sees another file.
    this.current = {identity, listing};
    await writeCacheFile(this.summaryFile(), {version: 1, images: Object.fromEntries(known)}).catch(() => undefined);
    if (stable) await writeCacheFile(this.listingFile(), {version: 1, listing}).catch(() => undefined);
    return listing;
  }

  /** index.json's bytes and their hash, the key of a listing. */
  private async indexKey(): Promise<{hash: string; bytes: Buffer}> {
    const bytes = await readFile(this.store.paths.index);
    return {hash: createHash('sha256').update(bytes).digest('hex'), bytes};
  }

  /**
   * Finds an image as the store does, but answers IDs and ID prefixes from the listing, so that selecting an
   * image by ID does not read every image's blobs.
   */
  private async resolve(name: string): Promise<StoredImage> {
    const hex = /^(?:sha256:)?([0-9a-f]{4,64})$/.exec(name.trim())?.[1];
    if (hex) {
      const {images} = await this.listing();
      // A short hex word may also be a repository name ("cafe"): docker tries the reference first.
      const couldBeName = !name.includes(':') && images.some(image => image.names.some(([repository]) => repository === name));
      if (!couldBeName) {
        const matches = new Set(images.filter(image => image.id.startsWith(`sha256:${hex}`)).map(image => image.manifestDigest));
        if (matches.size === 1) return this.store.resolveImage([...matches][0]);
      }
    }
    return this.store.resolveImage(name);
  }

  private summaryFile(): string {
    return join(this.root, 'cache', 'images.json');
  }

  private listingFile(): string {
    return join(this.root, 'cache', 'listing.json');
  }

  async inspectImages(names: readonly string[]): Promise<InspectResult> {
    const found: Record<string, unknown>[] = [];
    const missing: string[] = [];
    for (const name of names) {
      try {
        found.push(inspectObject(await this.resolve(name)));
      } catch (error) {
        if ((error as {code?: string}).code === 'ERR_IMAGE_NOT_FOUND') missing.push(name);
        else throw error;
      }
    }
    return {found, missing};
  }

  async history(name: string): Promise<HistoryRow[]> {
    const image = await this.resolve(name);
    const layers = historyWithLayers(image.config);
    const rows = layers.map((row): HistoryRow => ({
      id: '<missing>',
      created: row.entry.created,
      createdBy: row.entry.created_by ?? '',
      comment: row.entry.comment ?? '',
      size: row.layerIndex === undefined ? 0 : (image.manifest.layers[row.layerIndex]?.size ?? 0),
      emptyLayer: row.emptyLayer,
      layerIndex: row.layerIndex,
    }));
    rows.reverse();
    if (rows.length > 0) rows[0] = {...rows[0], id: image.id};
    return rows;
  }

  async layers(name: string): Promise<LayerInfo[]> {
    const image = await this.resolve(name);
    const byLayer = new Map<number, {created_by?: string; created?: string; comment?: string}>();
    for (const row of historyWithLayers(image.config)) {
      if (row.layerIndex !== undefined) byLayer.set(row.layerIndex, row.entry);
    }
    return image.manifest.layers.map((layer, index) => ({
      index,
      diffId: image.config.rootfs.diff_ids[index],
      digest: layer.digest,
      mediaType: layer.mediaType,
      size: layer.size,
      createdBy: byLayer.get(index)?.created_by,
      created: byLayer.get(index)?.created,
      comment: byLayer.get(index)?.comment,
    }));
  }

  // ---- layer contents ------------------------------------------------------------------------------

  /**
   * The file index of one layer: computed once by streaming the blob, then kept next to the store
   * (`cache/file-index/<hex>.json`), since blobs never change. Indexes of small layers are also kept in memory;
   * a big one (100,000 files is tens of megabytes of records) is only weakly held, so that a tree made from it
   * does not keep it in the workbench's memory, yet asking again before the next collection costs nothing.
   */
  async layerIndex(layer: Descriptor, diffId: string): Promise<LayerIndex> {
    const held = this.bigIndexes.get(layer.digest)?.deref();
    if (held) return held;
    let pending = this.indexCache.get(layer.digest);
    if (!pending) {
      pending = this.loadLayerIndex(layer, diffId);
      this.indexCache.set(layer.digest, pending);
      pending.then(
        index => {
          if (index.files.length <= keptIndexFiles) return;
          this.indexCache.delete(layer.digest);
          this.bigIndexes.set(layer.digest, new WeakRef(index));
        },
        () => this.indexCache.delete(layer.digest),
      );
    }
    return pending;
  }

  private async loadLayerIndex(layer: Descriptor, diffId: string): Promise<LayerIndex> {
    const folder = join(this.root, 'cache', 'file-index');
    const file = join(folder, `${layer.digest.replace(':', '-')}.json`);
    try {
      return deserializeIndex(await readFile(file, 'utf8'));
    } catch {
      // Not cached yet (or unreadable): index the blob.
    }
    const index = await indexLayer(this.store.content.openBlob(layer.digest));
    index.diffId ||= diffId;
    await mkdir(folder, {recursive: true});
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, serializeIndex(index));
    await rename(temporary, file);
    return index;
  }

  private async layerIndexes(image: StoredImage, upTo = image.manifest.layers.length - 1): Promise<LayerIndex[]> {
    const layers = image.manifest.layers.slice(0, upTo + 1);
    return Promise.all(layers.map((layer, index) => this.layerIndex(layer, image.config.rootfs.diff_ids[index])));
  }

  /** The tree of what layer `layerIndex` changed, or (aggregate) the whole filesystem up to it. */
  async layerTree(name: string, layerIndex: number, options: {aggregate: boolean}): Promise<FileTreeNode> {
    const image = await this.resolve(name);
    if (layerIndex < 0 || layerIndex >= image.manifest.layers.length) {
      throw new UserError('ERR_NO_SUCH_LAYER', `image ${name} has no layer ${layerIndex} (it has ${image.manifest.layers.length})`);
    }
    const indexes = await this.layerIndexes(image, layerIndex);
    return layerTree(indexes, layerIndex, {aggregate: options.aggregate});
  }

  async waste(name: string): Promise<WasteReport> {
    const image = await this.resolve(name);
    const indexes = await this.layerIndexes(image);
    const layers = await this.layers(name);
    return computeWaste(indexes.map((index, position) => ({index, createdBy: layers[position]?.createdBy})));
  }

  /**
   * Up to `limit` bytes of `path` as the image sees it at layer `layerIndex`: read from the topmost layer at
   * or below it that holds the path.
   */
  async readLayerFile(name: string, layerIndex: number, path: string, options: {limit?: number} = {}): Promise<LayerFile> {
    const limit = options.limit ?? 64 * 1024;
    const image = await this.resolve(name);
    const indexes = await this.layerIndexes(image, layerIndex);
    const clean = path.replace(/^\/+/, '');
    for (let position = indexes.length - 1; position >= 0; position--) {
      const record = indexes[position].files.find(file => file.path === clean);
      if (!record) {
        if (indexes[position].whiteouts.includes(clean)) break;
        continue;
      }
      if (record.type !== 'file') {
        return {path: clean, size: 0, binary: false, content: Buffer.from(record.linkname ? `-> ${record.linkname}` : ''), truncated: false};
      }
      const read = await readLayerFile(this.store.content.openBlob(image.manifest.layers[position].digest), clean, {maxBytes: limit});
      const content = read?.content ?? Buffer.alloc(0);
      return {path: clean, size: record.size, binary: content.includes(0), content, truncated: record.size > content.length};
    }
    throw new UserError('ERR_NO_SUCH_FILE', `no file ${path} in layer ${layerIndex} of ${name}`);
  }

  // ---- changing images -----------------------------------------------------------------------------

  async tag(source: string, target: string): Promise<void> {
    await this.store.tag(source, target);
  }

  /**
   * docker rmi: a tag of an image that has other tags is only untagged; the last tag, or an ID, deletes the
   * image. Deleting an image that other tags or child images need takes `force`.
   */
  async removeImages(names: readonly string[], options: {force?: boolean} = {}): Promise<RemoveResult> {
    const untagged: string[] = [];
    const deleted: string[] = [];
    for (const name of names) {
      const image = await this.resolve(name);
      const short = image.id.slice(7, 19);
      const byTag = image.tags.includes(familiarOf(name));
      if (byTag && image.tags.length > 1) {
        untagged.push((await this.store.untag(name)).reference);
        continue;
      }
      if (!byTag && image.tags.length > 1 && !options.force) {
        throw new UserError('ERR_CONFLICT', `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
      }
      const children = await this.store.children(image.id);
      if (children.length > 0 && !options.force) {
        const names = children.map(child => child.tags[0] ?? child.id.slice(7, 19)).join(', ');
        throw new UserError('ERR_CONFLICT', `conflict: unable to delete ${short} (must be forced) - image has dependent child images (${names})`);
      }
      const removed = await this.store.removeImage(image.id);
      untagged.push(...removed.untagged);
      deleted.push(image.id);
    }
    if (deleted.length > 0) await this.collectGarbage();
    return {untagged, deleted};
  }

  /** docker image prune: dangling images (with `all`, every image without a container). */
  async pruneImages(options: {all?: boolean} = {}): Promise<PruneResult> {
    const images = await this.store.listImages();
    const untagged: string[] = [];
    const deleted: string[] = [];
    for (const image of images) {
      if (!options.all && image.tags.length > 0) continue;
      const removed = await this.store.removeImage(image.id);
      untagged.push(...removed.untagged);
      deleted.push(image.id);
    }
    const gc = await this.collectGarbage();
    return {untagged, deleted, reclaimedBytes: gc.reclaimedBytes};
  }

  /** Deletes blobs nothing references (the build cache's layers count as referenced). */
  private async collectGarbage() {
    const keep: string[] = [];
    for (const provider of this.gcKeepers) keep.push(...(await provider()));
    return this.store.gc({keep, graceMs: gcGraceMs});
  }

  // ---- building ------------------------------------------------------------------------------------

  /** Build a Dockerfile (see engine/build): events go to `hooks.onEvent`; the result names the image. */
  async build(options: EngineBuildOptions, hooks: BuildHooks = {}): Promise<BuildResult> {
    // Loaded on first use: commands that do not build start without the builder's module graph.
    const {build} = await import('./build/build.js');
    return build({...options, store: this.store, now: options.now ?? this.now}, hooks);
  }

  /**
   * Watch a build context and rebuild through this engine on every real change (see engine/watch), until
   * `options.signal` aborts: what `strata watch` and the workbench's watch mode run.
   */
  watch(options: Omit<WatchBuildOptions, 'engine' | 'store'>, onEvent: (event: WatchEvent) => void): Promise<void> {
    return watchBuild({...options, engine: this}, onEvent);
  }

  /** `strata builder prune`: forget every cache record, then let gc reclaim the layers no image uses. */
  async pruneBuildCache(): Promise<CachePruneResult & {reclaimedBytes: number; snapshots: number}> {
    const pruned = await pruneCache(this.root);
    const gc = await this.collectGarbage();
    // Extracted snapshots are the build's working copies: they go with the cache, except those of images that
    // still exist. (Not done on rmi: a build in another process may be running on one.)
    const chains = new Set((await this.store.listImages()).flatMap(image => chainIds(image.config.rootfs.diff_ids)));
    const snapshots = await new Snapshots(this.store).prune(chains);
    return {...pruned, reclaimedBytes: gc.reclaimedBytes, snapshots: snapshots.length};
  }

  // ---- import --------------------------------------------------------------------------------------

  /**
   * docker import: a root filesystem tar (plain or gzip) becomes a one-layer image. The layer is stored
   * uncompressed and indexed before the image exists, so an archive that would escape its root is refused
   * and nothing is tagged.
   */
  async importImage(options: ImportOptions): Promise<StoredImage> {
    const reference = options.reference ? parseReference(options.reference) : undefined;
    const input = typeof options.source === 'string' ? await openArchive(options.source) : options.source;
    const writer = this.store.content.createBlobWriter();
    let layer;
    try {
      const {stream, gzip} = await sniffGzip(input);
      if (gzip) await pipeline(stream, createGunzip(), writer);
      else await pipeline(stream, writer);
      layer = await writer.commit();
    } catch (error) {
      await writer.abort().catch(() => undefined);
      throw asArchiveError(error, typeof options.source === 'string' ? options.source : '-');
    }
    const descriptor: Descriptor = {mediaType: MediaType.ociLayer, digest: layer.digest, size: layer.size};
    try {
      await this.layerIndex(descriptor, layer.digest);
    } catch (error) {
      // A refused archive leaves nothing behind (a big one would otherwise sit in the store until gc), unless
      // an image already has those very bytes as a layer.
      const images = await this.store.listImages();
      if (!images.some(image => image.manifest.layers.some(existing => existing.digest === layer.digest))) {
        await this.store.content.deleteBlob(layer.digest).catch(() => undefined);
      }
      throw asArchiveError(error, typeof options.source === 'string' ? options.source : '-');
    }
    const created = this.now().toISOString();
    const config: ImageConfig = {
      architecture: hostArchitecture(),
      os: 'linux',
      created,
      config: {},
      rootfs: {type: 'layers', diff_ids: [layer.digest]},
      history: [{created, created_by: '', comment: options.message ?? `Imported from ${typeof options.source === 'string' ? options.source : '-'}`}],
    };
    if (options.changes && options.changes.length > 0) {
      const {applyConfigChanges} = await import('./build/changes.js');
      config.config = applyConfigChanges(config.config ?? {}, options.changes);
    }
    return this.store.putImage({config, layers: [descriptor], tags: reference ? [options.reference!] : []});
  }

  // ---- checking and watching -----------------------------------------------------------------------

  async fsck(): Promise<FsckReport> {
    const problems = await this.store.fsck();
    const blobs = (await this.store.content.listBlobs()).length;
    const images = (await this.store.readIndex()).manifests.length;
    return {problems, blobs, images};
  }

  /**
   * Calls `onChange` (debounced) when index.json is replaced, which every tag, untag, build and import in any
   * process does. Returns a function that stops watching.
   */
  watchStore(onChange: () => void, options: {debounceMs?: number} = {}): () => void {
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(this.root, (_event, file) => {
        if (file !== 'index.json') return;
        clearTimeout(timer);
        timer = setTimeout(onChange, options.debounceMs ?? 50);
      });
    } catch {
      return () => undefined;
    }
    return () => {
      clearTimeout(timer);
      watcher?.close();
    };
  }
}

function familiarOf(name: string): string {
  try {
    const reference = parseReference(name);
    return reference.digest ? name : `${familiarRepository(reference)}:${reference.tag}`;
  } catch {
    return name;
  }
}

/** What listing keeps of one manifest (immutable, so it can be cached by the manifest's digest). */
interface ImageSummaryRecord {
  readonly id: string;
  readonly manifestDigest: string;
  readonly created?: string;
  readonly size: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly diffIds: readonly string[];
}

interface ImageRecord extends ImageSummaryRecord {
  readonly tags: readonly string[];
}

function summarize(image: StoredImage): ImageSummaryRecord {
  return {
    id: image.id,
    manifestDigest: image.manifestDigest,
    created: image.created,
    size: image.size,
    labels: image.config.config?.Labels ?? {},
    diffIds: image.config.rootfs.diff_ids,
  };
}

function summaryRow(image: ListedImage, repository: string, tag: string): ImageSummary {
  return {
    id: image.id,
    repository,
    tag,
    repoTags: image.tags,
    digest: image.manifestDigest,
    created: image.created,
    size: image.size,
    labels: image.labels,
    dangling: image.tags.length === 0,
    children: image.children,
    containers: [],
  };
}

/** The listing of one index.json (by the hash of its bytes): images newest first, with what rows need. */
interface Listing {
  /** sha256 of index.json's bytes; '' for a listing that must not be reused (the index changed meanwhile). */
  readonly key: string;
  readonly images: readonly ListedImage[];
}

interface ListedImage extends Omit<ImageRecord, 'diffIds'> {
  readonly children: readonly string[];
  /** [familiar repository, tag] of each of `tags`. */
  readonly names: readonly (readonly [string, string])[];
}

/** `cache/images.json`: the summaries by manifest digest. */
async function readSummaryFile(path: string): Promise<Map<string, ImageSummaryRecord>> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as {version?: number; images?: Record<string, ImageSummaryRecord>};
    if (parsed.version === 1 && parsed.images && typeof parsed.images === 'object') return new Map(Object.entries(parsed.images));
  } catch {
    // Missing or damaged: it is only a cache, rebuilt from the blobs.
  }
  return new Map();
}

/** `cache/listing.json`: the last listing, kept apart from the summaries so that a hit reads only this. */
async function readListingFile(path: string): Promise<Listing | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as {version?: number; listing?: Listing};
    if (parsed.version === 1 && typeof parsed.listing?.key === 'string' && Array.isArray(parsed.listing.images)) return parsed.listing;
  } catch {
    // Missing or damaged: made again from the summaries.
  }
  return undefined;
}

let cacheWrites = 0;

async function writeCacheFile(path: string, content: unknown): Promise<void> {
  await mkdir(dirname(path), {recursive: true});
  // Unique per write: two listings in one process may be written at once.
  const temporary = `${path}.${process.pid}.${++cacheWrites}.tmp`;
  await writeFile(temporary, JSON.stringify(content));
  await rename(temporary, path);
}

/**
 * Image ID -> IDs of the images built on it: those whose layer list starts with all of its layers and has more.
 * Every image's chain IDs are looked up once, so this is linear in the layers, not quadratic in the images.
 */
function childrenByLayers(images: readonly ImageSummaryRecord[]): Map<string, string[]> {
  const byTopChain = new Map<string, string[]>();
  const chainsOf = new Map<ImageSummaryRecord, string[]>();
  for (const image of images) {
    const chains = chainIds(image.diffIds);
    chainsOf.set(image, chains);
    if (chains.length === 0) continue;
    const top = chains[chains.length - 1];
    const same = byTopChain.get(top);
    if (same) same.push(image.id);
    else byTopChain.set(top, [image.id]);
  }
  const children = new Map<string, Set<string>>();
  for (const image of images) {
    const chains = chainsOf.get(image)!;
    for (let position = 0; position < chains.length - 1; position++) {
      for (const parent of byTopChain.get(chains[position]) ?? []) {
        let set = children.get(parent);
        if (!set) children.set(parent, (set = new Set()));
        set.add(image.id);
      }
    }
  }
  return new Map([...children].map(([parent, set]) => [parent, [...set]]));
}

/** docker's reference filter: a glob on the familiar repository and, when given, the tag. */
function referenceFilter(pattern: string, exactRepository: boolean): (repository: string, tag: string) => boolean {
  const lastColon = pattern.lastIndexOf(':');
  const hasTag = lastColon > pattern.lastIndexOf('/');
  const repositoryPattern = hasTag ? pattern.slice(0, lastColon) : pattern;
  const tagPattern = hasTag ? pattern.slice(lastColon + 1) : undefined;
  const repositoryMatch = exactRepository ? exactMatcher(repositoryPattern) : globMatcher(repositoryPattern);
  const tagMatch = tagPattern === undefined ? () => true : exactRepository ? exactMatcher(tagPattern) : globMatcher(tagPattern);
  return (repository, tag) => repositoryMatch(repository) && tagMatch(tag);
}

function exactMatcher(text: string): (value: string) => boolean {
  const familiar = text.replace(/^docker\.io\/(library\/)?/, '');
  return value => value === familiar;
}

function globMatcher(pattern: string): (value: string) => boolean {
  const source = pattern
    .split('')
    .map(character => (character === '*' ? '[^/]*' : character === '?' ? '[^/]' : character.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const expression = new RegExp(`^${source}$`);
  return value => expression.test(value);
}

function matchesLabels(labels: Readonly<Record<string, string>>, wanted: readonly string[]): boolean {
  return wanted.every(filter => {
    const equals = filter.indexOf('=');
    if (equals < 0) return filter in labels;
    return labels[filter.slice(0, equals)] === filter.slice(equals + 1);
  });
}

/** The JSON docker's `image inspect` prints (API 1.52 shape: empty optional fields omitted). */
function inspectObject(image: StoredImage): Record<string, unknown> {
  const config = image.config;
  const object: Record<string, unknown> = {
    Id: image.id,
    RepoTags: image.tags,
    RepoDigests: [],
  };
  if (config.comment) object.Comment = config.comment;
  object.Created = config.created ?? '0001-01-01T00:00:00Z';
  if (config.author) object.Author = config.author;
  object.Config = config.config ?? {};
  object.Architecture = config.architecture;
  if (config.variant) object.Variant = config.variant;
  object.Os = config.os;
  if (config['os.version']) object.OsVersion = config['os.version'];
  object.Size = image.size;
  object.GraphDriver = {Name: 'strata', Data: null};
  object.RootFS = {Type: 'layers', Layers: config.rootfs.diff_ids};
  object.Metadata = {LastTagTime: '0001-01-01T00:00:00Z'};
  object.Descriptor = image.target;
  return object;
}

function hostArchitecture(): string {
  const map: Record<string, string> = {x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm'};
  return map[process.arch] ?? process.arch;
}

async function openArchive(path: string): Promise<Readable> {
  const stream = createReadStream(path);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', error => reject(new UserError('ERR_ARCHIVE_UNREADABLE', `open ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)));
  });
  return stream;
}

/** The archive's bytes from the start again, and whether they are gzip (sniffed from the magic bytes). */
async function sniffGzip(input: Readable): Promise<{stream: Readable; gzip: boolean}> {
  const iterator = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return {stream: Readable.from(replay(), {objectMode: false}), gzip: head[0] === 0x1f && head[1] === 0x8b};
}

function asArchiveError(error: unknown, source: string): Error {
  if (error instanceof UserError) return new UserError(error.code, `import ${source}: ${error.message}`, {cause: error});
  const message = error instanceof Error ? error.message : String(error);
  return new UserError('ERR_ARCHIVE_INVALID', `import ${source}: not a valid tar archive (${message})`, {cause: error});
}

/**
 * Watch mode (engine/watch): build, then rebuild on every real change. Loaded on first use, so that chokidar is
 * not part of every command's start-up.
 */
export async function watchBuild(options: WatchBuildOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
  const watch = await import('./watch/watch.js');
  return watch.watchBuild(options, onEvent);
}
