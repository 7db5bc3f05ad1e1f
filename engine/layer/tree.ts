import type {LayerEntryType} from './entry.js';
import type {FileRecord, LayerIndex} from './file-index.js';
import {parentPath} from './entry.js';
import {classifyLayer, compareNames, mergedTree, sameRecord, type ChangeStatus, type MergedTree, type TreeNodeState} from './merge.js';

/** One row of the layer file tree the workbench draws. Plain data; children sorted by name. */
export interface TreeNode {
  name: string;
  /** Full layer path ('' for the root). */
  path: string;
  type: LayerEntryType;
  /** File size; for folders the sum of their children (removed children count only in a removed folder). */
  size: number;
  status: ChangeStatus;
  /** A link's target (symlink: verbatim; hardlink: the layer path). */
  linkname?: string;
  children?: TreeNode[];
}

/**
 * The file tree of layer `layerNumber` (0-based) of an image whose layer indexes are `indexes` (base first).
 *
 * - `aggregate: false` ("this layer only"): the paths this layer writes, plus those it removes, marked
 *   'added', 'modified', 'unchanged' (written again identically) or 'removed'.
 * - `aggregate: true` ("everything up to here"): the whole filesystem after this layer, with this layer's
 *   changes marked and everything else 'unchanged', plus the paths it removed, marked 'removed'.
 *
 * A folder without a change of its own is 'modified' when anything below it changed, and a folder implied
 * by its children (no entry of its own) is 'added' when it did not exist below. Runs in time linear in the
 * files of the layers involved plus sorting each folder's children.
 */
export function layerTree(indexes: LayerIndex[], layerNumber: number, options: {aggregate: boolean}): TreeNode {
  if (layerNumber < 0 || layerNumber >= indexes.length) throw new RangeError(`layer ${layerNumber} out of range`);
  const tree = mergedTree(indexes.slice(0, layerNumber));
  if (!options.aggregate) return layerOnlyTree(tree, indexes[layerNumber]);
  const {statuses, removed, existedBelow} = classifyLayer(tree, indexes[layerNumber], layerNumber);
  const builder = new TreeBuilder();
  const root = builder.root;
  builder.copyMerged(tree.root, root, statuses);
  for (const path of [...removed.keys()].sort(compareNames)) builder.insert(removed.get(path)!, 'removed');
  builder.finish(root, existedBelow, true);
  return root;
}

/**
 * "This layer only", classified as `classifyLayer` does but without applying the layer onto the tree below:
 * only what this layer writes over, whites out or hides under a new folder is looked up below. (Applying a
 * 100,000-file layer to find the few things it hides made as much garbage as the tree itself.)
 */
function layerOnlyTree(below: MergedTree, index: LayerIndex): TreeNode {
  const removed = new Map<string, FileRecord>();
  const hide = (path: string, node: TreeNodeState): void => {
    if (node.record) removed.set(path, node.record);
    if (node.children) for (const [name, child] of node.children) hide(`${path}/${name}`, child);
  };
  // Opaque markers and whiteouts act first, on what is below only.
  for (const folder of index.opaques) {
    const node = below.get(folder);
    if (node?.children) for (const [name, child] of node.children) hide(folder === '' ? name : `${folder}/${name}`, child);
  }
  for (const path of index.whiteouts) {
    const node = below.get(path);
    if (node) hide(path, node);
  }
  const builder = new TreeBuilder();
  const statuses: ChangeStatus[] = new Array(index.files.length);
  let lastFolder: string | undefined;
  index.files.forEach((record, position) => {
    const path = record.path;
    // A non-folder below on the way to this path is replaced by a folder (records come grouped by folder).
    const folder = parentPath(path);
    if (folder !== lastFolder) {
      lastFolder = folder;
      for (let at = folder.indexOf('/'); ; at = folder.indexOf('/', at + 1)) {
        const ancestor = at === -1 ? folder : folder.slice(0, at);
        const node = ancestor === '' ? undefined : below.get(ancestor);
        if (node && !node.children) hide(ancestor, node);
        if (at === -1 || !node) break;
      }
    }
    const node = below.get(path);
    // Written over: what was there is hidden with everything under it, unless a folder meets a folder.
    if (node && !(node.children && record.type === 'dir')) hide(path, node);
    // An implied folder below counts as an unchanged folder when this layer writes the folder entry.
    const before = node ? (node.record ?? (record.type === 'dir' ? record : undefined)) : undefined;
    statuses[position] = !before ? 'added' : sameRecord(before, record) ? 'unchanged' : 'modified';
  });
  index.files.forEach((record, position) => {
    // A path this layer writes again is shown as written, not as removed.
    if (statuses[position] !== 'added') removed.delete(record.path);
    builder.insert(record, statuses[position]);
  });
  for (const path of [...removed.keys()].sort(compareNames)) builder.insert(removed.get(path)!, 'removed');
  builder.finish(builder.root, path => below.get(path) !== undefined, false);
  return builder.root;
}

/**
 * A node for `record` (or an implied folder without one). Nodes keep only what is drawn, not the record: a
 * tree must not hold a 100,000-file layer's index (digests and all) alive after it is built.
 */
function nodeOf(name: string, path: string, record: FileRecord | undefined, status: ChangeStatus): TreeNode {
  const node: TreeNode = {name, path, type: record?.type ?? 'dir', size: record?.type === 'file' ? record.size : 0, status};
  if (record?.linkname !== undefined) node.linkname = record.linkname;
  return node;
}

/**
 * Builds TreeNodes in place (no intermediate copies: this runs over 100,000-file layers on every layer step).
 * Folders get a name -> child map only when something is inserted into them, and are sorted at the end only
 * if an insertion may have broken their order.
 */
class TreeBuilder {
  readonly root: TreeNode = {name: '', path: '', type: 'dir', size: 0, status: 'unchanged', children: []};
  private readonly lookup = new Map<TreeNode, Map<string, TreeNode>>();
  private readonly unsorted = new Set<TreeNode>();
  /** Folders with no record of their own (implied by children); their status is decided in `finish`. */
  private readonly implied = new Set<TreeNode>([this.root]);

  /** Copies the merged tree; children come out sorted, so no later sort is needed unless something is inserted. */
  copyMerged(source: TreeNodeState, target: TreeNode, statuses: Map<string, ChangeStatus>): void {
    const children = source.children!;
    const names = [...children.keys()].sort(compareNames);
    const out = target.children!;
    for (const name of names) {
      const child = children.get(name)!;
      const path = target.path === '' ? name : `${target.path}/${name}`;
      const node = nodeOf(name, path, child.record, child.record ? (statuses.get(path) ?? 'unchanged') : 'unchanged');
      if (!child.record) this.implied.add(node);
      if (child.children) {
        node.children = [];
        this.copyMerged(child, node, statuses);
      }
      out.push(node);
    }
  }

  insert(record: FileRecord, status: ChangeStatus): void {
    const path = record.path;
    const slash = path.lastIndexOf('/');
    const parent = slash === -1 ? this.root : this.folder(path.slice(0, slash), status);
    const name = slash === -1 ? path : path.slice(slash + 1);
    const existing = this.child(parent, name);
    // A removed record never displaces what this layer put at the same path.
    if (existing && status === 'removed') return;
    const node = nodeOf(name, path, record, status);
    if (record.type === 'dir') node.children = existing?.children ?? [];
    if (existing) {
      this.implied.delete(existing);
      const siblings = parent.children!;
      siblings[siblings.indexOf(existing)] = node;
      this.lookup.get(parent)?.set(name, node);
      const grandchildren = this.lookup.get(existing);
      if (grandchildren && node.children) this.lookup.set(node, grandchildren);
      if (this.unsorted.has(existing)) this.unsorted.add(node);
      this.folderPath = undefined;
    } else this.add(parent, node);
  }

  // Records come grouped by folder: the folder of the last one is usually the next one's.
  private folderPath: string | undefined;
  private folderNode: TreeNode | undefined;

  /** The folder node at `path`, made (as implied folders) where missing. */
  private folder(path: string, status: ChangeStatus): TreeNode {
    if (path === this.folderPath) return this.folderNode!;
    let node = this.root;
    for (let start = 0; ; ) {
      const slash = path.indexOf('/', start);
      const part = slash === -1 ? path.slice(start) : path.slice(start, slash);
      let next = this.child(node, part);
      if (!next) {
        // A folder met only on the way to a removed path was itself removed (it is gone from the merged tree).
        next = {name: part, path: slash === -1 ? path : path.slice(0, slash), type: 'dir', size: 0, status: 'removed', children: []};
        if (status !== 'removed') this.implied.add(next);
        this.add(node, next);
      }
      next.children ??= [];
      node = next;
      if (slash === -1) break;
      start = slash + 1;
    }
    this.folderPath = path;
    this.folderNode = node;
    return node;
  }

  /**
   * The child named `name`. Children mostly arrive in name order: a name after the last child of a folder
   * still in order is known to be new without a lookup table; small folders are searched; big ones get a map.
   */
  private child(parent: TreeNode, name: string): TreeNode | undefined {
    const siblings = parent.children!;
    if (siblings.length === 0) return undefined;
    let names = this.lookup.get(parent);
    if (!names) {
      if (!this.unsorted.has(parent) && compareNames(siblings[siblings.length - 1].name, name) < 0) return undefined;
      if (siblings.length <= 16) return siblings.find(child => child.name === name);
      names = new Map(siblings.map(child => [child.name, child]));
      this.lookup.set(parent, names);
    }
    return names.get(name);
  }

  private add(parent: TreeNode, node: TreeNode): void {
    const siblings = parent.children!;
    if (siblings.length > 0 && compareNames(siblings[siblings.length - 1].name, node.name) > 0) this.unsorted.add(parent);
    siblings.push(node);
    this.lookup.get(parent)?.set(node.name, node);
  }

  /** Sizes and folder statuses, bottom-up. */
  finish(node: TreeNode, existedBelow: (path: string) => boolean, aggregate: boolean): void {
    const children = node.children;
    if (!children) return;
    if (this.unsorted.has(node)) children.sort((a, b) => compareNames(a.name, b.name));
    let changedBelow = false;
    let size = 0;
    const removedFolder = node.status === 'removed' && !this.implied.has(node);
    for (const child of children) {
      this.finish(child, existedBelow, aggregate);
      if (child.status !== 'unchanged') changedBelow = true;
      if (removedFolder || child.status !== 'removed') size += child.size;
    }
    node.size = size;
    if (this.implied.has(node)) {
      if (node.path === '') node.status = 'unchanged';
      else {
        // An implied folder: new if nothing was there below (knowable for folders this layer writes into).
        const isNew = !aggregate && !existedBelow(node.path);
        node.status = isNew ? 'added' : changedBelow ? 'modified' : 'unchanged';
      }
    } else if (node.status === 'unchanged' && changedBelow) node.status = 'modified';
  }
}
