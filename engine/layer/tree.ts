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
  const root: Draft = {name: '', path: '', type: 'dir', status: undefined, children: new Map()};
  if (options.aggregate) copyMerged(tree.root, root, statuses);
  else for (const record of indexes[layerNumber].files) insert(root, record, statuses.get(record.path) ?? 'unchanged');
  for (const path of [...removed.keys()].sort(compareNames)) insert(root, removed.get(path)!, 'removed');
  return finish(root, existedBelow, options.aggregate);
}

interface Draft {
  name: string;
  path: string;
  type: LayerEntryType;
  /** Own status; undefined for implied folders until `finish` decides. */
  status: ChangeStatus | undefined;
  record?: FileRecord;
  children?: Map<string, Draft>;
}

function copyMerged(source: TreeNodeState, target: Draft, statuses: Map<string, ChangeStatus>): void {
  for (const [name, child] of source.children ?? []) {
    const path = target.path === '' ? name : `${target.path}/${name}`;
    const draft: Draft = {
      name,
      path,
      type: child.record?.type ?? 'dir',
      status: child.record ? (statuses.get(path) ?? 'unchanged') : undefined,
      record: child.record,
    };
    if (child.children) {
      draft.children = new Map();
      copyMerged(child, draft, statuses);
    }
    target.children!.set(name, draft);
  }
}

function insert(root: Draft, record: FileRecord, status: ChangeStatus): void {
  let parent = root;
  const parts = record.path.split('/');
  for (let i = 0; i < parts.length - 1; i++) {
    let next = parent.children!.get(parts[i]);
    if (!next) {
      const path = parent.path === '' ? parts[i] : `${parent.path}/${parts[i]}`;
      // A folder met only on the way to a removed path was itself removed (it is gone from the merged tree).
      next = {name: parts[i], path, type: 'dir', status: status === 'removed' ? 'removed' : undefined, children: new Map()};
      parent.children!.set(parts[i], next);
    }
    next.children ??= new Map();
    parent = next;
  }
  const name = parts[parts.length - 1];
  const existing = parent.children!.get(name);
  // A removed record never displaces what this layer put at the same path.
  if (existing && status === 'removed') return;
  parent.children!.set(name, {
    name,
    path: record.path,
    type: record.type,
    status,
    record,
    children: record.type === 'dir' ? (existing?.children ?? new Map()) : undefined,
  });
}

function finish(draft: Draft, existedBelow: (path: string) => boolean, aggregate: boolean): TreeNode {
  const node: TreeNode = {name: draft.name, path: draft.path, type: draft.type, size: 0, status: draft.status ?? 'unchanged'};
  if (draft.record) node.record = draft.record;
  if (!draft.children) {
    node.size = draft.record?.type === 'file' ? draft.record.size : 0;
    return node;
  }
  const names = [...draft.children.keys()].sort(compareNames);
  const children = names.map(name => finish(draft.children!.get(name)!, existedBelow, aggregate));
  let changedBelow = false;
  let size = 0;
  for (const child of children) {
    if (child.status !== 'unchanged') changedBelow = true;
    if (draft.status === 'removed' || child.status !== 'removed') size += child.size;
  }
  node.children = children;
  node.size = size;
  if (draft.status === undefined && draft.path !== '') {
    // An implied folder: new if nothing was there below (only knowable for folders this layer writes into).
    const isNew = !aggregate ? !existedBelow(draft.path) : false;
    node.status = isNew ? 'added' : changedBelow ? 'modified' : 'unchanged';
  } else if (node.status === 'unchanged' && changedBelow) node.status = 'modified';
  return node;
}
