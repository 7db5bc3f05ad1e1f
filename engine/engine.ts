/**
 * The Engine: the verbs that the command line and the workbench share. One instance per store root.
 *
 * Everything outside the engine reaches the store, layers and builder through these methods; they return
 * plain, JSON-serialisable values so that `--format json` and the workbench show the same facts.
 */
import type {Readable} from 'node:stream';

export interface EngineOptions {
  /** The store root (see resolveRoot). */
  readonly root: string;
  /** The environment the engine may consult (never process.env directly). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The clock, injectable for tests. */
  readonly now?: () => Date;
}

/** One row of `strata images`: one (image, tag) pair, or one untagged image. */
export interface ImageSummary {
  /** The image ID: the config digest, `sha256:<64 hex>`. */
  readonly id: string;
  /** `demo` (familiar repository) or `<none>`. */
  readonly repository: string;
  /** `latest` or `<none>`. */
  readonly tag: string;
  /** Every familiar reference that points at this image. */
  readonly repoTags: readonly string[];
  /** The manifest digest. */
  readonly digest: string;
  /** ISO 8601 creation time, when the config has one. */
  readonly created?: string;
  /** Sum of the layers' sizes in bytes. */
  readonly size: number;
  readonly labels: Readonly<Record<string, string>>;
  /** No tag points at it. */
  readonly dangling: boolean;
  /** IDs of images built on top of this one (their layer list starts with this one's). */
  readonly children: readonly string[];
  /** IDs of containers created from it. */
  readonly containers: readonly string[];
}

/** One row of `strata history`, newest first. */
export interface HistoryRow {
  /** The image ID on the top row; `<missing>` below it, as docker shows for BuildKit images. */
  readonly id: string;
  readonly created?: string;
  readonly createdBy: string;
  readonly comment: string;
  /** Bytes of the layer this step made; 0 for metadata-only steps. */
  readonly size: number;
  readonly emptyLayer: boolean;
  /** Position of the layer this step made among the image's layers (0 = base), when it made one. */
  readonly layerIndex?: number;
}

/** A layer of an image, base first. */
export interface LayerInfo {
  readonly index: number;
  readonly diffId: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** The history entry that made it, when the image has history. */
  readonly createdBy?: string;
  readonly created?: string;
  readonly comment?: string;
}

/** Trees of what a layer changed, and waste accounting, are computed in engine/layer; these are its types. */
export type {ChangeStatus, TreeNode as FileTreeNode, WasteItem, WasteReport} from './layer/index.js';

export interface LayerFile {
  readonly path: string;
  readonly size: number;
  readonly binary: boolean;
  /** At most `limit` bytes of the file. */
  readonly content: Buffer;
  readonly truncated: boolean;
}

export type {Readable};

/** Result of `removeImages`, in the order docker prints it. */
export interface RemoveResult {
  readonly untagged: readonly string[];
  readonly deleted: readonly string[];
}

export interface PruneResult extends RemoveResult {
  readonly reclaimedBytes: number;
}

export interface ImportOptions {
  /** A path to a root filesystem tar (plain or gzip), or a readable stream (`strata import -`). */
  readonly source: string | Readable;
  /** `REPOSITORY[:TAG]` to tag the image with. */
  readonly reference?: string;
  /** Dockerfile instructions applied to the config (`-c`). */
  readonly changes?: readonly string[];
  /** History comment (`-m`). */
  readonly message?: string;
}

export interface FsckProblem {
  readonly kind: string;
  readonly digest?: string;
  readonly ref?: string;
  readonly message: string;
}

export interface ListImagesOptions {
  /** Show intermediate images too (untagged images that other images are built on). */
  readonly all?: boolean;
  /** `REPOSITORY[:TAG]` as `strata images` takes it. */
  readonly repository?: string;
  readonly filters?: {
    readonly dangling?: boolean;
    readonly reference?: readonly string[];
    readonly label?: readonly string[];
    readonly before?: string;
    readonly since?: string;
  };
}

export interface InspectResult {
  readonly found: Record<string, unknown>[];
  readonly missing: string[];
}

export interface FsckReport {
  readonly problems: readonly FsckProblem[];
  readonly blobs: number;
  readonly images: number;
}
