/**
 * The file tree as rows on screen: the engine hands over a tree of what a layer changed; this module decides
 * which nodes are rows (folded folders, hidden unchanged entries), in which order, with which tree guides.
 *
 * Everything derived from one tree object (subtree sizes, "has a change below", sorted children) is cached per
 * node, so toggling a view option or folding a folder in a 100,000-file layer costs one pass at most.
 */
import type {FileTreeNode} from '../../../engine/index.js';

export interface TreeViewOptions {
  readonly collapsed: ReadonlySet<string>;
  readonly hideUnchanged: boolean;
  readonly sortBySize: boolean;
}

export interface TreeRow {
  readonly node: FileTreeNode;
  readonly depth: number;
  /** "│   ├── " style guides drawn before the name. */
  readonly guide: string;
  /** The guide prefix this row's children continue from. */
  readonly childGuide: string;
  /** Bytes of the file, or of everything below a folder. */
  readonly size: number;
  readonly isDir: boolean;
  readonly expanded: boolean;
}

const subtreeSizes = new WeakMap<FileTreeNode, number>();
const changedBelow = new WeakMap<FileTreeNode, boolean>();
const byName = new WeakMap<FileTreeNode, readonly FileTreeNode[]>();
const bySize = new WeakMap<FileTreeNode, readonly FileTreeNode[]>();
const descendantCounts = new WeakMap<FileTreeNode, number>();

/** How many nodes are below `node` (all of them, shown or not). */
function descendantCount(node: FileTreeNode): number {
  if (!node.children || node.children.length === 0) return 0;
  let count = descendantCounts.get(node);
  if (count === undefined) {
    count = node.children.length;
    for (const child of node.children) count += descendantCount(child);
    descendantCounts.set(node, count);
  }
  return count;
}

export function isDir(node: FileTreeNode): boolean {
  return node.type === 'dir';
}

/** The bytes a row stands for: its own size, or the sum below a folder (removed entries count nothing). */
export function subtreeSize(node: FileTreeNode): number {
  if (!node.children || node.children.length === 0) return node.status === 'removed' ? 0 : node.size;
  const cached = subtreeSizes.get(node);
  if (cached !== undefined) return cached;
  let total = 0;
  for (const child of node.children) total += subtreeSize(child);
  subtreeSizes.set(node, total);
  return total;
}

/** True when the node or anything below it was added, modified or removed. */
export function hasChange(node: FileTreeNode): boolean {
  if (node.status !== 'unchanged') return true;
  if (!node.children || node.children.length === 0) return false;
  const cached = changedBelow.get(node);
  if (cached !== undefined) return cached;
  const result = node.children.some(hasChange);
  changedBelow.set(node, result);
  return result;
}

function sortedChildren(node: FileTreeNode, sortBySize: boolean): readonly FileTreeNode[] {
  const children = node.children ?? [];
  if (children.length < 2) return children;
  const cache = sortBySize ? bySize : byName;
  let sorted = cache.get(node);
  if (!sorted) {
    sorted = sortBySize
      ? [...children].sort((a, b) => subtreeSize(b) - subtreeSize(a) || compareNames(a, b))
      : [...children].sort(compareNames);
    cache.set(node, sorted);
  }
  return sorted;
}

function compareNames(a: FileTreeNode, b: FileTreeNode): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const changedByName = new WeakMap<FileTreeNode, readonly FileTreeNode[]>();
const changedBySize = new WeakMap<FileTreeNode, readonly FileTreeNode[]>();

function shownChildren(node: FileTreeNode, options: TreeViewOptions): readonly FileTreeNode[] {
  const children = sortedChildren(node, options.sortBySize);
  if (!options.hideUnchanged || children.length === 0) return children;
  const cache = options.sortBySize ? changedBySize : changedByName;
  let shown = cache.get(node);
  if (!shown) {
    shown = children.filter(hasChange);
    cache.set(node, shown);
  }
  return shown;
}

/** Bit flags of a row. */
const LAST = 1;
const EXPANDED = 2;
/** The folder row of rows flattened for insertion under an existing row (see `TreeRows.splice`). */
const INSERTED_PARENT = -2;

/**
 * The rows of a tree under some view options, depth-first, in parallel arrays rather than one object per row:
 * a 100,000-file layer is flattened again on every toggle, and 100,000 row objects with their guide strings
 * were most of the workbench's memory. A row's guide is drawn from its ancestors when the row is asked for,
 * which only the visible rows ever are.
 */
export class TreeRows {
  static readonly empty = new TreeRows([], new Uint16Array(0), new Int32Array(0), new Uint8Array(0));

  private constructor(
    private readonly nodes: readonly FileTreeNode[],
    private readonly depths: Uint16Array,
    /** Row index of each row's folder, -1 at the top level. */
    private readonly parents: Int32Array,
    private readonly flags: Uint8Array,
  ) {}

  get length(): number {
    return this.nodes.length;
  }

  node(index: number): FileTreeNode | undefined {
    return this.nodes[index];
  }

  depth(index: number): number {
    return this.depths[index] ?? 0;
  }

  /** Row index of the folder that contains row `index`, or -1 at the top level. */
  parent(index: number): number {
    return this.parents[index] ?? -1;
  }

  /** The row as drawn: node, guides, size. Undefined outside the list. */
  at(index: number): TreeRow | undefined {
    const node = this.nodes[index];
    if (!node) return undefined;
    let prefix = '';
    for (let ancestor = this.parents[index]; ancestor >= 0; ancestor = this.parents[ancestor]) {
      prefix = (this.flags[ancestor] & LAST ? '    ' : '|   ') + prefix;
    }
    const last = (this.flags[index] & LAST) !== 0;
    return {
      node,
      depth: this.depths[index],
      guide: prefix + (last ? '`-- ' : '|-- '),
      childGuide: prefix + (last ? '    ' : '|   '),
      size: subtreeSize(node),
      isDir: isDir(node),
      expanded: (this.flags[index] & EXPANDED) !== 0,
    };
  }

  /** Rows [from, to) as drawn (the window of a panel). */
  slice(from: number, to: number): TreeRow[] {
    const rows: TreeRow[] = [];
    for (let index = Math.max(0, from); index < Math.min(to, this.length); index++) rows.push(this.at(index)!);
    return rows;
  }

  /** Index of the row of `path`, or -1. */
  indexOfPath(path: string): number {
    return this.nodes.findIndex(node => node.path === path);
  }

  *[Symbol.iterator](): IterableIterator<TreeRow> {
    for (let index = 0; index < this.length; index++) yield this.at(index)!;
  }

  /** Rows for the children of `parent` (at `depth`, whose folder is row `parentRow`), depth-first. */
  static flatten(parent: FileTreeNode, depth: number, parentRow: number, options: TreeViewOptions): TreeRows {
    // Sized for every node below `parent` (known once per folder), so the arrays are allocated once.
    const capacity = descendantCount(parent);
    const nodes: FileTreeNode[] = new Array(capacity);
    const depths = new Uint16Array(capacity);
    const parents = new Int32Array(capacity);
    const flags = new Uint8Array(capacity);
    let count = 0;
    // Iterative, so that a deep tree cannot overflow the stack: one entry per open folder.
    const childrenStack: (readonly FileTreeNode[])[] = [shownChildren(parent, options)];
    const indexStack: number[] = [0];
    const rowStack: number[] = [parentRow];
    while (childrenStack.length > 0) {
      const top = childrenStack.length - 1;
      const children = childrenStack[top];
      const index = indexStack[top];
      if (index >= children.length) {
        childrenStack.pop();
        indexStack.pop();
        rowStack.pop();
        continue;
      }
      indexStack[top] = index + 1;
      const node = children[index];
      const expanded = node.type === 'dir' && !options.collapsed.has(node.path);
      const row = count++;
      nodes[row] = node;
      depths[row] = depth + top;
      parents[row] = rowStack[top];
      flags[row] = (index === children.length - 1 ? LAST : 0) | (expanded ? EXPANDED : 0);
      if (expanded && node.children && node.children.length > 0) {
        childrenStack.push(shownChildren(node, options));
        indexStack.push(0);
        rowStack.push(row);
      }
    }
    nodes.length = count;
    return count === capacity ? new TreeRows(nodes, depths, parents, flags) : new TreeRows(nodes, depths.slice(0, count), parents.slice(0, count), flags.slice(0, count));
  }

  /**
   * These rows with rows (at, removeEnd) taken out and `inserted` put after row `at`, which gets `atFlags`.
   * `inserted` are rows flattened for the children of row `at` with `INSERTED_PARENT` as their folder row.
   */
  splice(at: number, removeEnd: number, inserted: TreeRows, atFlags: number): TreeRows {
    const removed = removeEnd - (at + 1);
    const count = this.length - removed + inserted.length;
    const shift = inserted.length - removed;
    const tail = at + 1 + inserted.length;
    const nodes = this.nodes.slice(0, at + 1).concat(inserted.nodes, this.nodes.slice(removeEnd));
    const depths = new Uint16Array(count);
    depths.set(this.depths.subarray(0, at + 1));
    depths.set(inserted.depths, at + 1);
    depths.set(this.depths.subarray(removeEnd), tail);
    const flags = new Uint8Array(count);
    flags.set(this.flags.subarray(0, at + 1));
    flags.set(inserted.flags, at + 1);
    flags.set(this.flags.subarray(removeEnd), tail);
    flags[at] = atFlags;
    const parents = new Int32Array(count);
    parents.set(this.parents.subarray(0, at + 1));
    for (let index = 0; index < inserted.length; index++) {
      // Inserted rows name their parents among themselves (offset by the insertion point), or row `at`.
      const parent = inserted.parents[index];
      parents[at + 1 + index] = parent === INSERTED_PARENT ? at : parent + at + 1;
    }
    for (let index = removeEnd; index < this.length; index++) {
      const parent = this.parents[index];
      parents[index + shift] = parent > at ? parent + shift : parent;
    }
    return new TreeRows(nodes, depths, parents, flags);
  }

  flagsOf(index: number): number {
    return this.flags[index] ?? 0;
  }
}

/** All rows of a tree under the options; the root itself is not a row. */
export function flattenTree(root: FileTreeNode, options: TreeViewOptions): TreeRows {
  return TreeRows.flatten(root, 0, -1, options);
}

/**
 * Folds or unfolds the folder at `index` by splicing its descendants out of or into the rows, instead of
 * flattening the whole tree again. Returns the new rows and collapsed set; rows are unchanged for a file.
 */
export function toggleFold(
  rows: TreeRows,
  index: number,
  options: TreeViewOptions,
  want?: 'expand' | 'collapse',
): {rows: TreeRows; collapsed: ReadonlySet<string>} {
  const node = rows.node(index);
  if (!node || !isDir(node)) return {rows, collapsed: options.collapsed};
  const flags = rows.flagsOf(index);
  const expanded = (flags & EXPANDED) !== 0;
  const expand = want ? want === 'expand' : !expanded;
  if (expand === expanded) return {rows, collapsed: options.collapsed};
  const collapsed = new Set(options.collapsed);
  if (expand) collapsed.delete(node.path);
  else collapsed.add(node.path);
  const depth = rows.depth(index);
  if (!expand) {
    let end = index + 1;
    while (end < rows.length && rows.depth(end) > depth) end++;
    return {rows: rows.splice(index, end, TreeRows.empty, flags & ~EXPANDED), collapsed};
  }
  const inserted = TreeRows.flatten(node, depth + 1, INSERTED_PARENT, {...options, collapsed});
  return {rows: rows.splice(index, index + 1, inserted, flags | EXPANDED), collapsed};
}

/** Index of the row of the folder that contains row `index`, or -1 at the top level. */
export function parentRowIndex(rows: TreeRows, index: number): number {
  return rows.parent(index);
}

/**
 * Finds the next node (in display order, ignoring folds, wrapping around) whose path contains `query`
 * (case-insensitive) after `afterPath`. Returns its path, or undefined when nothing matches.
 */
export function findPath(root: FileTreeNode, query: string, options: TreeViewOptions, afterPath?: string): string | undefined {
  if (!query) return undefined;
  // One case-insensitive pattern instead of lower-casing 100,000 paths.
  const pattern = new RegExp(query.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  let first: string | undefined;
  let passed = afterPath === undefined;
  const stack: FileTreeNode[] = [...shownChildren(root, options)].reverse();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (pattern.test(node.path)) {
      if (passed && node.path !== afterPath) return node.path;
      first ??= node.path;
    }
    if (node.path === afterPath) passed = true;
    if (node.children) {
      const children = shownChildren(node, options);
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
    }
  }
  return first;
}

/** The collapsed set with every folder above `path` unfolded, so that the path becomes a row. */
export function revealPath(collapsed: ReadonlySet<string>, path: string): ReadonlySet<string> {
  const next = new Set(collapsed);
  const parts = path.split('/').filter(Boolean);
  const absolute = path.startsWith('/');
  for (let i = 1; i < parts.length; i++) {
    const ancestor = (absolute ? '/' : '') + parts.slice(0, i).join('/');
    next.delete(ancestor);
  }
  return next;
}

/** True when the tree holds a node at exactly `path`. Walks down the path, not the whole tree. */
export function hasPath(root: FileTreeNode, path: string): boolean {
  let node: FileTreeNode | undefined = root;
  while (node) {
    if (node.path === path) return true;
    node = node.children?.find(child => child.path === path || path.startsWith(child.path.endsWith('/') ? child.path : child.path + '/'));
  }
  return false;
}
