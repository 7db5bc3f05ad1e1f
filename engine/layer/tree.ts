import type {LayerEntryType} from './entry.js';
import type {FileRecord, LayerIndex} from './file-index.js';
import {classifyLayer, compareNames, mergedTree, type ChangeStatus, type TreeNodeState} from './merge.js';

/** One row of the layer file tree the workbench draws. Plain data; children sorted by name. */
export interface TreeNode {
  name: string;
  /** Full layer path ('' for the root). */
  path: string;
  type: LayerEntryType;
  /** File size; for folders the sum of their children (removed children count only in a removed folder). */
  size: number;
  status: ChangeStatus;
  /** The record behind the node; absent for folders only implied by their children. */
  record?: FileRecord;
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
  const {statuses, removed, existedBelow} = classifyLayer(tree, indexes[layerNumber], layerNumber);
  const builder = new TreeBuilder();
  const root = builder.root;
  if (options.aggregate) builder.copyMerged(tree.root, root, statuses);
  else for (const record of indexes[layerNumber].files) builder.insert(record, statuses.get(record.path) ?? 'unchanged');
  for (const path of [...removed.keys()].sort(compareNames)) builder.insert(removed.get(path)!, 'removed');
  builder.finish(root, existedBelow, options.aggregate);
  return root;
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
      const node: TreeNode = {
        name,
        path,
        type: child.record?.type ?? 'dir',
        size: 0,
        status: child.record ? (statuses.get(path) ?? 'unchanged') : 'unchanged',
      };
      if (child.record) node.record = child.record;
      else this.implied.add(node);
      if (child.children) {
        node.children = [];
        this.copyMerged(child, node, statuses);
      }
      out.push(node);
    }
  }

  insert(record: FileRecord, status: ChangeStatus): void {
    let parent = this.root;
    const parts = record.path.split('/');
    for (let i = 0; i < parts.length - 1; i++) {
      let next = this.child(parent, parts[i]);
      if (!next) {
        // A folder met only on the way to a removed path was itself removed (it is gone from the merged tree).
        next = {name: parts[i], path: parent.path === '' ? parts[i] : `${parent.path}/${parts[i]}`, type: 'dir', size: 0, status: 'removed', children: []};
        if (status !== 'removed') this.implied.add(next);
        this.add(parent, next);
      }
      next.children ??= [];
      parent = next;
    }
    const name = parts[parts.length - 1];
    const existing = this.child(parent, name);
    // A removed record never displaces what this layer put at the same path.
    if (existing && status === 'removed') return;
    const node: TreeNode = {name, path: record.path, type: record.type, size: 0, status, record};
    if (record.type === 'dir') node.children = existing?.children ?? [];
    if (existing) {
      this.implied.delete(existing);
      const siblings = parent.children!;
      siblings[siblings.indexOf(existing)] = node;
      this.lookup.get(parent)!.set(name, node);
      const grandchildren = this.lookup.get(existing);
      if (grandchildren) this.lookup.set(node, grandchildren);
      if (this.unsorted.has(existing)) this.unsorted.add(node);
    } else this.add(parent, node);
  }

  private child(parent: TreeNode, name: string): TreeNode | undefined {
    let names = this.lookup.get(parent);
    if (!names) {
      names = new Map(parent.children!.map(child => [child.name, child]));
      this.lookup.set(parent, names);
    }
    return names.get(name);
  }

  private add(parent: TreeNode, node: TreeNode): void {
    const siblings = parent.children!;
    if (siblings.length > 0 && compareNames(siblings[siblings.length - 1].name, node.name) > 0) this.unsorted.add(parent);
    siblings.push(node);
    this.lookup.get(parent)!.set(node.name, node);
  }

  /** Sizes and folder statuses, bottom-up. */
  finish(node: TreeNode, existedBelow: (path: string) => boolean, aggregate: boolean): void {
    const children = node.children;
    if (!children) {
      node.size = node.record?.type === 'file' ? node.record.size : 0;
      return;
    }
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
