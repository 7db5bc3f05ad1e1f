import {LayerEscapeError} from './errors.js';

export type LayerEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/**
 * One member of a layer, as the writer takes it and the changeset functions produce it.
 *
 * `path` is relative and `/`-separated, with no leading `/` or `./` and no `..`; directories carry no trailing
 * slash (the writer adds it). A whiteout is an ordinary empty `file` entry named `dir/.wh.name`, an opaque marker
 * one named `dir/.wh..wh..opq`. Content of a regular file comes from `content` or is streamed from `sourcePath`
 * (a host file; its size is taken from `size` or a stat); neither means an empty file. A `hardlink`'s
 * `linkname` is the layer path of the file it links to; a `symlink`'s is stored verbatim.
 */
export interface LayerEntry {
  path: string;
  type: LayerEntryType;
  /** Permission, setuid, setgid and sticky bits (masked with 07777). */
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  /** Defaults to the epoch, so that a layer built twice from the same entries is byte-identical. */
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes; values are written as UTF-8 text (tar-stream reads PAX records as UTF-8). */
  xattrs?: Record<string, string>;
  sourcePath?: string;
  content?: Buffer;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** `.wh..wh.` names are AUFS metadata (e.g. `.wh..wh.plnk`): never exported, skipped on apply. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

export function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

export function joinPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

const DRIVE_OR_UNC = /^(?:[A-Za-z]:(?:[\\/]|$)|\\\\)/;

/**
 * Turns a tar member name into a clean relative path ('' for the root), as the safe-extraction checklist says:
 * leading `/` and `./` are stripped (archives made with `tar -P` or `-C /` carry them, and docker accepts
 * them), `.` and empty components dropped and `..` resolved. A name that would climb above the root, or that
 * carries a NUL byte or a Windows drive or UNC prefix, throws `LayerEscapeError`. Backslashes elsewhere are
 * ordinary characters on Linux (systemd unit names use `\x2d`), so they are kept.
 */
export function cleanArchiveName(name: string): string {
  if (name.includes('\0')) throw new LayerEscapeError(name, 'contains a NUL byte');
  if (DRIVE_OR_UNC.test(name)) throw new LayerEscapeError(name, 'is a Windows drive or UNC path');
  // Fast path: most names are already clean.
  if (!/(?:^|\/)\.{0,2}(?:\/|$)/.test(name) && !name.startsWith('/')) return name;
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new LayerEscapeError(name, 'climbs above the root');
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join('/');
}

const SLASH = 0x2f;
const DOT = 0x2e;

/** True when `path` is already in the clean form the writer requires. */
export function isCleanPath(path: string): boolean {
  // One pass over the code units (no split): a layer of thousands of entries checks every path.
  if (path === '' || path.includes('\0')) return false;
  let start = 0;
  for (let index = 0; index <= path.length; index++) {
    if (index < path.length && path.charCodeAt(index) !== SLASH) continue;
    const length = index - start;
    // '', '.' and '..' components.
    if (length === 0) return false;
    if (length <= 2 && path.charCodeAt(start) === DOT && (length === 1 || path.charCodeAt(start + 1) === DOT)) return false;
    start = index + 1;
  }
  return true;
}

/**
 * The writer's sort key: components compared in order, and inside one directory the opaque marker first, then
 * whiteouts, then everything else by code unit. So a parent precedes its children and a whiteout precedes the
 * siblings it might otherwise be confused with, as the OCI layer spec recommends.
 */
export function layerSortKey(path: string): string {
  let key = '';
  let start = 0;
  for (;;) {
    const slash = path.indexOf('/', start);
    const part = slash === -1 ? path.slice(start) : path.slice(start, slash);
    if (start > 0) key += '\0';
    key += (part === OPAQUE_MARKER ? '\x01' : part.startsWith(WHITEOUT_PREFIX) ? '\x02' : '\x03') + part;
    if (slash === -1) return key;
    start = slash + 1;
  }
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * `compareKeys(layerSortKey(a), layerSortKey(b))` without making the keys, for paths without NUL: component
 * by component, each ranked (opaque marker, whiteout, other) and then compared by code unit; a path sorts
 * before the paths below it.
 */
export function compareLayerPaths(a: string, b: string): number {
  if (a === b) return 0;
  let startA = 0;
  let startB = 0;
  for (;;) {
    let endA = a.indexOf('/', startA);
    if (endA === -1) endA = a.length;
    let endB = b.indexOf('/', startB);
    if (endB === -1) endB = b.length;
    const order = compareComponents(a, startA, endA, b, startB, endB);
    if (order !== 0) return order;
    const lastA = endA === a.length;
    const lastB = endB === b.length;
    if (lastA || lastB) return lastA && lastB ? 0 : lastA ? -1 : 1;
    startA = endA + 1;
    startB = endB + 1;
  }
}

function compareComponents(a: string, startA: number, endA: number, b: string, startB: number, endB: number): number {
  const rankA = componentRank(a, startA, endA);
  const rankB = componentRank(b, startB, endB);
  if (rankA !== rankB) return rankA - rankB;
  const lengthA = endA - startA;
  const lengthB = endB - startB;
  const common = Math.min(lengthA, lengthB);
  for (let index = 0; index < common; index++) {
    const difference = a.charCodeAt(startA + index) - b.charCodeAt(startB + index);
    if (difference !== 0) return difference;
  }
  return lengthA - lengthB;
}

/** The rank `layerSortKey` gives a component: 1 the opaque marker, 2 another whiteout, 3 anything else. */
function componentRank(path: string, start: number, end: number): number {
  if (!path.startsWith(WHITEOUT_PREFIX, start)) return 3;
  return end - start === OPAQUE_MARKER.length && path.startsWith(OPAQUE_MARKER, start) ? 1 : 2;
}
