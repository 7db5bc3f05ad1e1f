/**
 * The image nouns: descriptors, manifests, indexes, configs and history, with their media types and the
 * checks a store runs before it trusts them. Field names are the wire names, so a parsed blob is the value.
 * A null optional field means the same as an absent one.
 */
import {UserError} from '../errors.js';
import {chainIds, digestWith, hashableAlgorithms, isDigest} from './digest.js';

export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/** The `{}` blob of the OCI empty descriptor. */
export const emptyJsonDigest = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
/** DiffID of the 1024-zero-byte tar (an empty layer). */
export const emptyLayerDiffId = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export const manifestMediaTypes: ReadonlySet<string> = new Set([MediaType.ociManifest, MediaType.dockerManifest]);
export const indexMediaTypes: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerManifestList]);
export const configMediaTypes: ReadonlySet<string> = new Set([MediaType.ociConfig, MediaType.dockerConfig]);

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && manifestMediaTypes.has(mediaType);
}
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && indexMediaTypes.has(mediaType);
}
export function isConfigMediaType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && configMediaTypes.has(mediaType);
}
/** How a layer blob is compressed, from its media type; undefined for types we cannot unpack. */
export function layerCompression(mediaType: string): 'none' | 'gzip' | 'zstd' | undefined {
  if (mediaType.endsWith('.tar') || mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return 'none';
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd')) return 'zstd';
  return undefined;
}

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: string;
  artifactType?: string;
  platform?: Platform;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** Docker's healthcheck; durations are integer nanoseconds. */
export interface Healthcheck {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** Execution defaults (`config` in the image config). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object> | null;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Healthcheck?: Healthcheck | null;
  Shell?: string[] | null;
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
  [field: string]: unknown;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
  created?: string;
  author?: string;
  config?: ContainerConfig | null;
  rootfs: {type: string; diff_ids: string[]};
  history?: HistoryEntry[] | null;
  [field: string]: unknown;
}

/** A manifest, index or config that breaks the image spec. */
export class InvalidImageError extends UserError {
  constructor(message: string) {
    super('ERR_INVALID_IMAGE', message);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the fields every descriptor needs; `where` names it in the message. */
export function validateDescriptor(value: unknown, where: string): asserts value is Descriptor {
  if (!isObject(value)) throw new InvalidImageError(`${where}: descriptor is not an object`);
  if (typeof value.mediaType !== 'string' || value.mediaType === '') throw new InvalidImageError(`${where}: descriptor has no mediaType`);
  if (typeof value.digest !== 'string' || !isDigest(value.digest)) throw new InvalidImageError(`${where}: invalid digest ${JSON.stringify(value.digest)}`);
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) {
    throw new InvalidImageError(`${where}: invalid size ${JSON.stringify(value.size)}`);
  }
  if (value.data !== undefined && value.data !== null) {
    // Embedded data must be exactly the bytes the descriptor names.
    if (typeof value.data !== 'string') throw new InvalidImageError(`${where}: data is not base64 text`);
    const bytes = Buffer.from(value.data, 'base64');
    if (bytes.length !== value.size) throw new InvalidImageError(`${where}: data is ${bytes.length} bytes, size says ${value.size}`);
    const algorithm = value.digest.slice(0, value.digest.indexOf(':'));
    if (hashableAlgorithms.has(algorithm) && digestWith(algorithm, bytes) !== value.digest) {
      throw new InvalidImageError(`${where}: data does not match digest ${value.digest}`);
    }
  }
}

/**
 * Checks a parsed manifest: schemaVersion 2, a body mediaType (if any) that is a manifest type and agrees
 * with `expectedMediaType` (the descriptor's), no `manifests` next to `layers`, valid descriptors.
 */
export function validateManifest(value: unknown, expectedMediaType?: string): asserts value is Manifest {
  if (!isObject(value)) throw new InvalidImageError('validate manifest: not a JSON object');
  if (value.schemaVersion !== 2) throw new InvalidImageError(`validate manifest: schemaVersion ${JSON.stringify(value.schemaVersion)} is not 2`);
  const mediaType = value.mediaType;
  if (mediaType !== undefined && mediaType !== null) {
    if (typeof mediaType !== 'string' || !isManifestMediaType(mediaType)) {
      throw new InvalidImageError(`validate manifest: mediaType ${JSON.stringify(mediaType)} is not a manifest type`);
    }
    if (expectedMediaType !== undefined && mediaType !== expectedMediaType) {
      throw new InvalidImageError(`validate manifest: mediaType ${mediaType} disagrees with descriptor ${expectedMediaType}`);
    }
  }
  if (value.manifests !== undefined) throw new InvalidImageError('validate manifest: has both manifests and layers');
  validateDescriptor(value.config, 'validate manifest config');
  if (!Array.isArray(value.layers)) throw new InvalidImageError('validate manifest: layers is not a list');
  value.layers.forEach((layer, index) => validateDescriptor(layer, `validate manifest layer ${index}`));
}

export function validateIndex(value: unknown, expectedMediaType?: string): asserts value is ImageIndex {
  if (!isObject(value)) throw new InvalidImageError('validate index: not a JSON object');
  if (value.schemaVersion !== 2) throw new InvalidImageError(`validate index: schemaVersion ${JSON.stringify(value.schemaVersion)} is not 2`);
  const mediaType = value.mediaType;
  if (mediaType !== undefined && mediaType !== null) {
    if (typeof mediaType !== 'string' || !isIndexMediaType(mediaType)) {
      throw new InvalidImageError(`validate index: mediaType ${JSON.stringify(mediaType)} is not an index type`);
    }
    if (expectedMediaType !== undefined && mediaType !== expectedMediaType) {
      throw new InvalidImageError(`validate index: mediaType ${mediaType} disagrees with descriptor ${expectedMediaType}`);
    }
  }
  if (value.layers !== undefined) throw new InvalidImageError('validate index: has both manifests and layers');
  if (!Array.isArray(value.manifests)) throw new InvalidImageError('validate index: manifests is not a list');
  value.manifests.forEach((entry, index) => validateDescriptor(entry, `validate index entry ${index}`));
}

/**
 * Checks a parsed config: architecture and os strings, rootfs.type `layers`, valid diff_ids and, when a
 * manifest is given, one diff_id per layer and a config descriptor of a config media type.
 */
export function validateConfig(value: unknown, manifest?: Manifest): asserts value is ImageConfig {
  if (!isObject(value)) throw new InvalidImageError('validate config: not a JSON object');
  if (typeof value.architecture !== 'string') throw new InvalidImageError('validate config: architecture is missing');
  if (typeof value.os !== 'string') throw new InvalidImageError('validate config: os is missing');
  const rootfs = value.rootfs;
  if (!isObject(rootfs)) throw new InvalidImageError('validate config: rootfs is missing');
  if (rootfs.type !== 'layers') throw new InvalidImageError(`validate config: rootfs.type ${JSON.stringify(rootfs.type)} is not "layers"`);
  const diffIds = rootfs.diff_ids;
  if (!Array.isArray(diffIds)) throw new InvalidImageError('validate config: rootfs.diff_ids is not a list');
  for (const diffId of diffIds) {
    if (typeof diffId !== 'string' || !isDigest(diffId)) throw new InvalidImageError(`validate config: invalid diff_id ${JSON.stringify(diffId)}`);
  }
  if (value.history !== undefined && value.history !== null && !Array.isArray(value.history)) {
    throw new InvalidImageError('validate config: history is not a list');
  }
  if (value.config !== undefined && value.config !== null && !isObject(value.config)) {
    throw new InvalidImageError('validate config: config is not an object');
  }
  if (manifest) {
    if (!isConfigMediaType(manifest.config.mediaType)) {
      throw new InvalidImageError(`validate config: media type ${manifest.config.mediaType} is not an image config`);
    }
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidImageError(`validate config: ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
    }
  }
}

/** One history entry paired with the layer it made, oldest first. */
export interface HistoryLayer {
  /** Position in the (repaired) history, oldest first. */
  readonly index: number;
  readonly entry: HistoryEntry;
  /** True when the step made no layer. */
  readonly emptyLayer: boolean;
  /** Position in rootfs.diff_ids / manifest.layers, for entries that made a layer. */
  readonly layerIndex?: number;
  readonly diffId?: string;
  /** ChainID of the layers up to and including this one. */
  readonly chainId?: string;
  /**
   * How the entry was repaired: 'added' for an entry made up for a layer without history (comment
   * `buildkit.exporter.image.v0`), 'emptied' for a surplus non-empty entry turned empty.
   */
  readonly repaired?: 'added' | 'emptied';
}

export interface HistoryOptions {
  /** Throw on more non-empty entries than diff_ids, as `docker history` does, instead of repairing. */
  readonly strict?: boolean;
}

export const exporterHistoryComment = 'buildkit.exporter.image.v0';

/**
 * Pairs history entries with diff_ids as docker does: walking history oldest first, every entry that is not
 * `empty_layer` takes the next diff_id. Count mismatches are repaired as BuildKit's exporter does: surplus
 * non-empty entries (from the end) become empty, and layers no entry accounts for (`docker import`, squash,
 * no history at all) get an added entry with comment `buildkit.exporter.image.v0`.
 */
export function historyWithLayers(config: ImageConfig, options: HistoryOptions = {}): HistoryLayer[] {
  const diffIds = config.rootfs?.diff_ids ?? [];
  const chains = chainIds(diffIds);
  const history = config.history ?? [];
  const nonEmpty = history.filter(entry => !entry.empty_layer).length;
  if (options.strict && nonEmpty > diffIds.length) {
    throw new InvalidImageError('too many non-empty layers in History section');
  }
  const rows: HistoryLayer[] = [];
  let layerIndex = 0;
  for (const entry of history) {
    const index = rows.length;
    if (entry.empty_layer) {
      rows.push({index, entry, emptyLayer: true});
    } else if (layerIndex >= diffIds.length) {
      rows.push({index, entry: {...entry, empty_layer: true}, emptyLayer: true, repaired: 'emptied'});
    } else {
      rows.push({index, entry, emptyLayer: false, layerIndex, diffId: diffIds[layerIndex], chainId: chains[layerIndex]});
      layerIndex++;
    }
  }
  for (; layerIndex < diffIds.length; layerIndex++) {
    const entry: HistoryEntry = {comment: exporterHistoryComment};
    if (config.created) entry.created = config.created;
    rows.push({
      index: rows.length, entry, emptyLayer: false, layerIndex,
      diffId: diffIds[layerIndex], chainId: chains[layerIndex], repaired: 'added',
    });
  }
  return rows;
}
