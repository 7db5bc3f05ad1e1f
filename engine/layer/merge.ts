import {parentPath, type LayerEntryType} from './entry.js';
import type {FileRecord, LayerIndex} from './file-index.js';

/**
 * A filesystem built from layer indexes, as applying the layers in order would leave it. Nodes without a
 * record are folders that some layer implied (wrote children into) without a folder entry of its own.
 */
export interface TreeNodeState {
  name: string;
  record?: FileRecord;
  /** The layer that wrote `record` (-1 for an implied folder). */
  layer: number;
  children?: Map<string, TreeNodeState>;
}

/** What applying one layer did, reported as it happens. */
export interface ApplyObserver {
  /** A node of a lower layer (or this one) stopped being reachable: deleted, or replaced by another node. */
  hidden?(path: string, node: TreeNodeState, byLayer: number): void;
}

export class MergedTree {
  readonly root: TreeNodeState = {name: '', layer: -1, children: new Map()};

  // Records arrive grouped by folder, so the last folder looked up is usually the next one wanted. Any
  // removal drops the cache, since it may have detached the cached folder.
  private cachedPath: string | undefined;
  private cachedFolder: TreeNodeState | undefined;

  get(path: string): TreeNodeState | undefined {
    if (path === '') return this.root;
    const slash = path.lastIndexOf('/');
    const folder = slash === -1 ? this.root : this.folder(path.slice(0, slash), false);
    return folder?.children?.get(slash === -1 ? path : path.slice(slash + 1));
  }

  /** The folder node at `path`; with `create`, missing folders are implied and non-folders on the way replaced. */
  private folder(path: string, create: false): TreeNodeState | undefined;
  private folder(path: string, create: true, layer: number, observer: ApplyObserver): TreeNodeState;
  private folder(path: string, create: boolean, layer = -1, observer: ApplyObserver = {}): TreeNodeState | undefined {
    if (path === '') return this.root;
    if (path === this.cachedPath) return this.cachedFolder;
    let node = this.root;
    let start = 0;
    for (;;) {
      const slash = path.indexOf('/', start);
      const part = slash === -1 ? path.slice(start) : path.slice(start, slash);
      let next = node.children!.get(part);
      if (!next?.children) {
        if (!create) return undefined;
        if (next) this.hideSubtree(slash === -1 ? path : path.slice(0, slash), next, layer, observer);
        next = {name: part, layer: -1, children: new Map()};
        node.children!.set(part, next);
      }
      node = next;
      if (slash === -1) break;
      start = slash + 1;
    }
    this.cachedPath = path;
    this.cachedFolder = node;
    return node;
  }

  /**
   * Applies one layer's index in OCI order: opaque markers and whiteouts first (they hide lower content only,
   * wherever they appear in the tar), then records, each replacing what is at its path unless both are
   * folders. A record under a non-folder replaces that non-folder with an implied folder.
   */
  apply(index: LayerIndex, layer: number, observer: ApplyObserver = {}): void {
    this.cachedPath = undefined;
    for (const folder of index.opaques) {
      const node = this.get(folder);
      if (!node?.children) continue;
      for (const [name, child] of node.children) this.hideSubtree(joinPath(folder, name), child, layer, observer);
      node.children.clear();
    }
    for (const path of index.whiteouts) {
      const parent = this.get(parentPath(path));
      const name = baseNameOf(path);
      const node = parent?.children?.get(name);
      if (!node) continue;
      this.hideSubtree(path, node, layer, observer);
      parent!.children!.delete(name);
      this.cachedPath = undefined;
    }
    for (const record of index.files) this.put(record, layer, observer);
  }

  private put(record: FileRecord, layer: number, observer: ApplyObserver): void {
    const path = record.path;
    const slash = path.lastIndexOf('/');
    const parent = slash === -1 ? this.root : this.folder(path.slice(0, slash), true, layer, observer);
    const name = slash === -1 ? path : path.slice(slash + 1);
    const existing = parent.children!.get(name);
    const isFolder = record.type === 'dir';
    if (existing?.children && isFolder) {
      if (existing.record) observer.hidden?.(path, existing, layer);
      existing.record = record;
      existing.layer = layer;
      return;
    }
    if (existing) this.hideSubtree(path, existing, layer, observer);
    parent.children!.set(name, isFolder ? {name, record, layer, children: new Map()} : {name, record, layer});
  }

  private hideSubtree(path: string, node: TreeNodeState, layer: number, observer: ApplyObserver): void {
    this.cachedPath = undefined;
    if (!observer.hidden) return;
    if (node.record) observer.hidden(path, node, layer);
    if (node.children) {
      for (const [name, child] of node.children) this.hideSubtree(`${path}/${name}`, child, layer, observer);
    }
  }

  /** Every record, parents before children, children in name order. */
  *records(): Generator<FileRecord> {
    const stack: TreeNodeState[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.record) yield node.record;
      if (node.children) {
        const names = [...node.children.keys()].sort(compareNames).reverse();
        for (const name of names) stack.push(node.children.get(name)!);
      }
    }
  }
}

export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function joinPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function baseNameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function mergedTree(indexes: LayerIndex[]): MergedTree {
  const tree = new MergedTree();
  indexes.forEach((index, layer) => tree.apply(index, layer));
  return tree;
}

/**
 * The filesystem after applying `indexes` in order (whiteouts and opaque markers honoured), path -> record,
 * parents before children. Folders implied by children but never written as entries have no record.
 */
export function mergeLayers(indexes: LayerIndex[]): Map<string, FileRecord> {
  const merged = new Map<string, FileRecord>();
  for (const record of mergedTree(indexes).records()) merged.set(record.path, record);
  return merged;
}

export interface LayerDiff {
  /** Paths this layer creates (nothing was there below). */
  added: FileRecord[];
  /** Paths that existed below and that this layer changes (type, size, mode, owner, content or link target). */
  modified: FileRecord[];
  /** Records from below that this layer makes unreachable: whiteouts, opaque folders, replaced folders. */
  removed: FileRecord[];
}

/** Are two records the same file as a user sees it? mtime is ignored, as dive does. */
export function sameRecord(a: FileRecord, b: FileRecord): boolean {
  return (
    a.type === b.type &&
    a.size === b.size &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.linkname === b.linkname &&
    (a.digest === undefined || b.digest === undefined || a.digest === b.digest)
  );
}

export type ChangeStatus = 'added' | 'modified' | 'removed' | 'unchanged';

/**
 * Classifies every path one layer touches against the filesystem below it. Records written by the layer
 * that equal what was below are 'unchanged'; a path whited out and re-added in the same layer is compared
 * with what was below, like any other. Shared by `diffLayer` and `layerTree`.
 */
export function classifyLayer(
  below: MergedTree,
  index: LayerIndex,
  layer: number,
): {statuses: Map<string, ChangeStatus>; removed: Map<string, FileRecord>; existedBelow: (path: string) => boolean} {
  const lower = new Map<string, FileRecord | null>();
  // Folders this layer writes into without a folder entry: did they exist below? (For their status.)
  const impliedBelow = new Map<string, boolean>();
  for (const record of index.files) {
    for (let folder = parentPath(record.path); folder !== '' && !impliedBelow.has(folder); folder = parentPath(folder)) {
      impliedBelow.set(folder, below.get(folder) !== undefined);
    }
  }
  for (const record of index.files) {
    const node = below.get(record.path);
    // An implied folder below counts as an unchanged folder when this layer writes the folder entry.
    lower.set(record.path, node ? (node.record ?? (record.type === 'dir' ? record : null)) : null);
  }
  const removed = new Map<string, FileRecord>();
  below.apply(index, layer, {
    hidden(path, node, byLayer) {
      if (node.layer < byLayer && node.record) removed.set(path, node.record);
    },
  });
  const statuses = new Map<string, ChangeStatus>();
  for (const record of index.files) {
    const before = lower.get(record.path);
    if (before) removed.delete(record.path);
    statuses.set(record.path, !before ? 'added' : sameRecord(before, record) ? 'unchanged' : 'modified');
  }
  for (const path of removed.keys()) statuses.set(path, 'removed');
  const existedBelow = (path: string) => impliedBelow.get(path) ?? Boolean(lower.get(path));
  return {statuses, removed, existedBelow};
}

/** What `index` adds, modifies and removes relative to the layers `below` it (in order, base first). */
export function diffLayer(index: LayerIndex, below: LayerIndex[]): LayerDiff {
  const tree = mergedTree(below);
  const {statuses, removed} = classifyLayer(tree, index, below.length);
  const added: FileRecord[] = [];
  const modified: FileRecord[] = [];
  for (const record of index.files) {
    const status = statuses.get(record.path);
    if (status === 'added') added.push(record);
    else if (status === 'modified') modified.push(record);
  }
  return {added, modified, removed: [...removed.values()]};
}

export type {LayerEntryType};
