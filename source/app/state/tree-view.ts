/**
 * The file tree as rows on screen: the engine hands over a tree of what a layer changed; this module decides
 * which nodes are rows (folded folders, hidden unchanged entries), in which order, with which tree guides.
 *
 * Everything derived from one tree object (subtree sizes, "has a change below", sorted children) is cached per
 * node. Rows are never all made: `TreeRows` counts them per folder and finds the few a panel draws, so a view
 * option costs one counting pass over a 100,000-file layer at most, and folding a folder a walk from the root.
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

/** Where one row is: its node, how deep, its folder's row, and whether it and each folder above are last. */
interface Located {
  readonly node: FileTreeNode;
  readonly depth: number;
  readonly parent: number;
  readonly last: boolean;
  /** Per folder above the row, outermost first: is it the last of its folder's shown children? */
  readonly lastAbove: readonly boolean[];
  /** The folders above the row, the root first. */
  readonly folders: readonly FileTreeNode[];
}

/**
 * The rows of a tree under some view options, depth-first, without making them: a 100,000-file layer has
 * 100,000 rows, but a panel only ever draws a window of them. What is kept is, per unfolded folder, how many
 * rows it shows below it and where each of its shown children starts; a row is found by walking down from
 * the root through those offsets. Folding a folder makes new rows that share every count except those of the
 * folders above it; a view option (sort, hide unchanged) makes new rows whose counts fill in as asked.
 */
export class TreeRows {
  static readonly empty = new TreeRows(undefined, {collapsed: new Set(), hideUnchanged: false, sortBySize: false});

  /** Rows shown below a folder, counting it as unfolded (which rows depend on hideUnchanged and folds only). */
  private readonly counts: Map<FileTreeNode, number>;
  /** Per folder, the row offset of each shown child from the folder's first child row (then the total). */
  private readonly starts: Map<FileTreeNode, Int32Array>;

  private constructor(
    private readonly root: FileTreeNode | undefined,
    private readonly options: TreeViewOptions,
    counts?: Map<FileTreeNode, number>,
    starts?: Map<FileTreeNode, Int32Array>,
  ) {
    this.counts = counts ?? new Map();
    this.starts = starts ?? new Map();
  }

  static of(root: FileTreeNode, options: TreeViewOptions): TreeRows {
    return new TreeRows(root, options);
  }

  get length(): number {
    return this.root ? this.countBelow(this.root) : 0;
  }

  node(index: number): FileTreeNode | undefined {
    return this.locate(index)?.node;
  }

  depth(index: number): number {
    return this.locate(index)?.depth ?? 0;
  }

  /** Row index of the folder that contains row `index`, or -1 at the top level. */
  parent(index: number): number {
    return this.locate(index)?.parent ?? -1;
  }

  isExpanded(index: number): boolean {
    const node = this.node(index);
    return node !== undefined && this.expanded(node);
  }

  /** The row as drawn: node, guides, size. Undefined outside the list. */
  at(index: number): TreeRow | undefined {
    const found = this.locate(index);
    if (!found) return undefined;
    const {node, last} = found;
    let prefix = '';
    for (const above of found.lastAbove) prefix += above ? '    ' : '|   ';
    return {
      node,
      depth: found.depth,
      guide: prefix + (last ? '`-- ' : '|-- '),
      childGuide: prefix + (last ? '    ' : '|   '),
      size: subtreeSize(node),
      isDir: isDir(node),
      expanded: this.expanded(node),
    };
  }

  /** Rows [from, to) as drawn (the window of a panel). */
  slice(from: number, to: number): TreeRow[] {
    const rows: TreeRow[] = [];
    for (let index = Math.max(0, from); index < Math.min(to, this.length); index++) rows.push(this.at(index)!);
    return rows;
  }

  /** Index of the row of `path`, or -1 when it is not a row (hidden, or inside a folded folder). */
  indexOfPath(path: string): number {
    let folder = this.root;
    let base = 0;
    while (folder) {
      const children = shownChildren(folder, this.options);
      const at = children.findIndex(child => child.path === path || isBelow(path, child.path));
      if (at === -1) return -1;
      const child = children[at];
      const row = base + this.startsOf(folder)[at];
      if (child.path === path) return row;
      if (!this.expanded(child)) return -1;
      folder = child;
      base = row + 1;
    }
    return -1;
  }

  *[Symbol.iterator](): IterableIterator<TreeRow> {
    for (let index = 0; index < this.length; index++) yield this.at(index)!;
  }

  /** These rows with the folder at row `index` folded or unfolded (`collapsed` is the new set of folds). */
  withFold(index: number, collapsed: ReadonlySet<string>): TreeRows {
    const found = this.locate(index);
    if (!found) return this;
    // Only the folders above the toggled one show a different number of rows.
    const counts = new Map(this.counts);
    const starts = new Map(this.starts);
    for (const folder of found.folders) {
      counts.delete(folder);
      starts.delete(folder);
    }
    return new TreeRows(this.root, {...this.options, collapsed}, counts, starts);
  }

  private expanded(node: FileTreeNode): boolean {
    return node.type === 'dir' && !this.options.collapsed.has(node.path);
  }

  private countBelow(folder: FileTreeNode): number {
    let count = this.counts.get(folder);
    if (count === undefined) {
      count = 0;
      for (const child of shownChildren(folder, this.options)) {
        count += 1;
        if (this.expanded(child) && child.children && child.children.length > 0) count += this.countBelow(child);
      }
      this.counts.set(folder, count);
    }
    return count;
  }

  private startsOf(folder: FileTreeNode): Int32Array {
    let starts = this.starts.get(folder);
    if (!starts) {
      const children = shownChildren(folder, this.options);
      starts = new Int32Array(children.length + 1);
      let row = 0;
      children.forEach((child, at) => {
        starts![at] = row;
        row += 1;
        if (this.expanded(child) && child.children && child.children.length > 0) row += this.countBelow(child);
      });
      starts[children.length] = row;
      this.starts.set(folder, starts);
    }
    return starts;
  }

  /** Walks down from the root to row `index`, choosing at each folder the child whose rows hold it. */
  private locate(index: number): Located | undefined {
    if (!this.root || index < 0 || index >= this.length) return undefined;
    let folder = this.root;
    let base = 0;
    let parent = -1;
    const lastAbove: boolean[] = [];
    const folders: FileTreeNode[] = [];
    for (;;) {
      folders.push(folder);
      const children = shownChildren(folder, this.options);
      const starts = this.startsOf(folder);
      // The last child starting at or before the row (binary search over the offsets).
      const target = index - base;
      let low = 0;
      let high = children.length - 1;
      while (low < high) {
        const middle = (low + high + 1) >> 1;
        if (starts[middle] <= target) low = middle;
        else high = middle - 1;
      }
      const child = children[low];
      const row = base + starts[low];
      const last = low === children.length - 1;
      if (row === index) return {node: child, depth: lastAbove.length, parent, last, lastAbove, folders};
      lastAbove.push(last);
      parent = row;
      base = row + 1;
      folder = child;
    }
  }
}

/** Is `path` inside the folder at `folder`? */
function isBelow(path: string, folder: string): boolean {
  return path.length > folder.length && path.charCodeAt(folder.length) === 47 && path.startsWith(folder);
}

/** All rows of a tree under the options; the root itself is not a row. */
export function flattenTree(root: FileTreeNode, options: TreeViewOptions): TreeRows {
  return TreeRows.of(root, options);
}

/**
 * Folds or unfolds the folder at `index`. Returns the new rows and collapsed set; rows are unchanged for a
 * file, or when the folder already is as wanted.
 */
export function toggleFold(
  rows: TreeRows,
  index: number,
  options: TreeViewOptions,
  want?: 'expand' | 'collapse',
): {rows: TreeRows; collapsed: ReadonlySet<string>} {
  const node = rows.node(index);
  if (!node || !isDir(node)) return {rows, collapsed: options.collapsed};
  const expanded = rows.isExpanded(index);
  const expand = want ? want === 'expand' : !expanded;
  if (expand === expanded) return {rows, collapsed: options.collapsed};
  const collapsed = new Set(options.collapsed);
  if (expand) collapsed.delete(node.path);
  else collapsed.add(node.path);
  return {rows: rows.withFold(index, collapsed), collapsed};
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
