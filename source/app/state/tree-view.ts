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

function shownChildren(node: FileTreeNode, options: TreeViewOptions): readonly FileTreeNode[] {
  const children = sortedChildren(node, options.sortBySize);
  return options.hideUnchanged ? children.filter(hasChange) : children;
}

/**
 * Rows for the children of `parent`, depth-first, starting at `depth` under guide prefix `prefix`. Iterative
 * so that a deep tree cannot overflow the stack.
 */
function flattenChildren(parent: FileTreeNode, depth: number, prefix: string, options: TreeViewOptions): TreeRow[] {
  const rows: TreeRow[] = [];
  type Frame = {children: readonly FileTreeNode[]; index: number; depth: number; prefix: string};
  const stack: Frame[] = [{children: shownChildren(parent, options), index: 0, depth, prefix}];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.index >= frame.children.length) {
      stack.pop();
      continue;
    }
    const node = frame.children[frame.index++];
    const last = frame.index === frame.children.length;
    const dir = isDir(node);
    const expanded = dir && !options.collapsed.has(node.path);
    const childGuide = frame.prefix + (last ? '    ' : '|   ');
    rows.push({
      node,
      depth: frame.depth,
      guide: frame.prefix + (last ? '`-- ' : '|-- '),
      childGuide,
      size: subtreeSize(node),
      isDir: dir,
      expanded,
    });
    if (expanded && node.children && node.children.length > 0) {
      stack.push({children: shownChildren(node, options), index: 0, depth: frame.depth + 1, prefix: childGuide});
    }
  }
  return rows;
}

/** All rows of a tree under the options; the root itself is not a row. */
export function flattenTree(root: FileTreeNode, options: TreeViewOptions): TreeRow[] {
  return flattenChildren(root, 0, '', options);
}

/**
 * Folds or unfolds the folder at `index` by splicing its descendants out of or into the row list, instead of
 * flattening the whole tree again. Returns the new rows and collapsed set; rows are unchanged for a file.
 */
export function toggleFold(
  rows: readonly TreeRow[],
  index: number,
  options: TreeViewOptions,
  want?: 'expand' | 'collapse',
): {rows: readonly TreeRow[]; collapsed: ReadonlySet<string>} {
  const row = rows[index];
  if (!row || !row.isDir) return {rows, collapsed: options.collapsed};
  const expand = want ? want === 'expand' : !row.expanded;
  if (expand === row.expanded) return {rows, collapsed: options.collapsed};
  const collapsed = new Set(options.collapsed);
  if (expand) collapsed.delete(row.node.path);
  else collapsed.add(row.node.path);
  const toggled: TreeRow = {...row, expanded: expand};
  let end = index + 1;
  if (!expand) {
    while (end < rows.length && rows[end].depth > row.depth) end++;
    return {rows: [...rows.slice(0, index), toggled, ...rows.slice(end)], collapsed};
  }
  const inserted = flattenChildren(row.node, row.depth + 1, row.childGuide, {...options, collapsed});
  const next = rows.slice(0, index);
  next.push(toggled);
  for (const child of inserted) next.push(child);
  for (let i = index + 1; i < rows.length; i++) next.push(rows[i]);
  return {rows: next, collapsed};
}

/** Index of the row of the folder that contains row `index`, or -1 at the top level. */
export function parentRowIndex(rows: readonly TreeRow[], index: number): number {
  const depth = rows[index]?.depth ?? 0;
  for (let i = index - 1; i >= 0; i--) if (rows[i].depth < depth) return i;
  return -1;
}

/**
 * Finds the next node (in display order, ignoring folds, wrapping around) whose path contains `query`
 * (case-insensitive) after `afterPath`. Returns its path, or undefined when nothing matches.
 */
export function findPath(root: FileTreeNode, query: string, options: TreeViewOptions, afterPath?: string): string | undefined {
  const needle = query.toLowerCase();
  if (!needle) return undefined;
  let first: string | undefined;
  let passed = afterPath === undefined;
  const stack: FileTreeNode[] = [...shownChildren(root, options)].reverse();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.path.toLowerCase().includes(needle)) {
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
