/**
 * COPY and ADD: from the instruction's sources (context, an earlier stage, an image, heredocs, URLs) to the
 * layer entries they add and the checksum that keys the cache.
 *
 * Semantics (BuildKit's Dockerfile frontend):
 * - Sources are clamped to their root (`..` and a leading `/` removed); a trailing `/` on a source is ignored.
 * - Wildcards follow Go's filepath.Match per path component; a wildcard that matches nothing copies nothing.
 * - A directory source copies its contents. A symlink named as a source is followed, inside its root; symlinks
 *   met while copying a directory are copied as symlinks, never followed.
 * - A destination ending in `/` (or `.`) is a directory; so is an existing directory. Several sources need one.
 *   A relative destination is resolved against WORKDIR. Missing parents are created (0755, the --chown owner);
 *   directories that exist in the image keep their metadata. Symlinks in the destination path are followed
 *   inside the image root.
 * - Owner: 0:0 for context files, the source's owner for `--from`, the --chown owner when given. `--chmod`
 *   (octal) sets the mode of every copied entry.
 * - ADD extracts a local tar (plain, gzip, bzip2, xz; detected by content) into the destination directory
 *   (members keep the archive's owners and modes; --chown only owns the folders it creates), and fetches
 *   http(s) URLs to a 0600 file that is not extracted.
 * - The checksum covers each copied source's relative path, type, mode and content (or link target) and where
 *   it lands; never its mtime, and never the owner of context files.
 */
import {createHash} from 'node:crypto';
import {spawn} from 'node:child_process';
import {createReadStream} from 'node:fs';
import {open, rm, writeFile, mkdtemp} from 'node:fs/promises';
import {join, posix} from 'node:path';
import {Readable} from 'node:stream';
import type {LayerEntry} from '../layer/entry.js';
import {readLayerMembers} from '../layer/reader.js';
import type {Context, ContextEntry} from './context.js';
import {cleanContextPath} from './context.js';
import {CopySourceError, FetchError, InstructionError} from './errors.js';
import {compilePathPattern, hasWildcards} from './path-match.js';
import {cleanRootPath, type RootfsView} from './rootfs-view.js';

/** A copied thing as the planner sees it, whatever tree it comes from. */
export interface SourceNode {
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly linkname?: string;
  readonly hostPath: string;
}

/** A tree sources are taken from: the build context or an image state's root filesystem. */
export interface SourceTree {
  readonly kind: 'context' | 'rootfs';
  lookup(path: string): Promise<SourceNode | null>;
  list(dir: string): Promise<SourceNode[]>;
  /** A content checksum for a regular file. */
  contentDigest(node: SourceNode): Promise<string>;
  /**
   * The checksum `contentDigest` would give, when the tree knows it without reading (else undefined): lets a
   * COPY of thousands of unchanged files run without a turn of the event loop per file.
   */
  knownDigest?(node: SourceNode): string | undefined;
  /**
   * True when `list` returns the very same array (and nodes) for a directory as long as it is unchanged, so
   * what a COPY made of a listing can be kept for the next plan (see `ListingMemo`).
   */
  readonly stableListings?: boolean;
}

/**
 * Nodes of a context listing, made once per listing: the Context keeps a directory's listing (the same array)
 * until that directory is invalidated, so a watch rebuild reuses the nodes, and the plans made of them, of
 * every directory that did not change.
 */
const contextNodes = new WeakMap<readonly ContextEntry[], SourceNode[]>();

function contextNode(entry: ContextEntry): SourceNode {
  return {
    path: entry.path, type: entry.type, mode: entry.mode, uid: 0, gid: 0, size: entry.size,
    mtimeMs: entry.mtimeMs, linkname: entry.linkname, hostPath: entry.hostPath,
  };
}

export function contextTree(context: Context): SourceTree {
  const toNode = contextNode;
  const byPath = new Map<string, ContextEntry>();
  return {
    kind: 'context',
    stableListings: true,
    async lookup(path) {
      const entry = await context.lookup(path);
      if (!entry) return null;
      byPath.set(entry.path, entry);
      return toNode(entry);
    },
    async list(dir) {
      const entries = await context.list(dir);
      for (const entry of entries) byPath.set(entry.path, entry);
      let nodes = contextNodes.get(entries);
      if (!nodes) contextNodes.set(entries, (nodes = entries.map(toNode)));
      return nodes;
    },
    async contentDigest(node) {
      const entry = byPath.get(node.path) ?? (await context.lookup(node.path));
      if (!entry) throw new CopySourceError(`read ${node.path}: vanished from the build context`);
      return context.fileDigest(entry);
    },
    knownDigest(node) {
      const entry = byPath.get(node.path);
      return entry && context.knownDigest(entry);
    },
  };
}

export function rootfsTree(view: RootfsView): SourceTree {
  const toNode = async (path: string, hostPath: string, stats: import('node:fs').Stats): Promise<SourceNode> => {
    const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
    const {readlink} = await import('node:fs/promises');
    return {
      path, type, mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, size: type === 'file' ? stats.size : 0,
      mtimeMs: stats.mtimeMs, linkname: type === 'symlink' ? await readlink(hostPath) : undefined, hostPath,
    };
  };
  return {
    kind: 'rootfs',
    async lookup(path) {
      const node = await view.lookup(path);
      return node ? toNode(node.path, node.hostPath, node.stats) : null;
    },
    async list(dir) {
      const names = await view.list(dir);
      const nodes: SourceNode[] = [];
      for (const name of names) {
        const path = dir === '' ? name : `${dir}/${name}`;
        const node = await view.lookup(path);
        if (node) nodes.push(await toNode(path, node.hostPath, node.stats));
      }
      return nodes;
    },
    async contentDigest(node) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(node.hostPath)) hash.update(chunk as Buffer);
      return 'sha256:' + hash.digest('hex');
    },
  };
}

export interface CopyRequest {
  readonly add: boolean;
  /** Source paths or URLs after substitution. */
  readonly sources: readonly string[];
  /** `COPY <<EOF dest` bodies (already expanded when the delimiter was unquoted). */
  readonly heredocs: readonly {readonly name: string; readonly content: string}[];
  /** The destination after substitution, as written. */
  readonly dest: string;
  /** Absolute WORKDIR of the state. */
  readonly workdir: string;
  readonly owner?: {uid: number; gid: number};
  readonly chmod?: number;
  readonly tree: SourceTree;
  /** The state the layer goes on top of. */
  readonly target: RootfsView;
  /** Folder for downloads (ADD URL); removed by the caller. */
  readonly scratchDir: string;
  readonly signal?: AbortSignal;
}

export interface CopyPlan {
  /** Layer entries (paths relative to the image root). */
  readonly entries: LayerEntry[];
  /** Source path -> checksum of type, mode and content, for miss reasons. */
  readonly files: Record<string, string>;
  /** Digest over everything that decides the layer's content. */
  readonly checksum: string;
  /**
   * Regular files of the layer by destination path -> identity (content checksum, mode, owner, mtime): two
   * builds whose entries share an identity wrote the same file, so a snapshot may reuse the earlier copy.
   */
  readonly identities: Record<string, string>;
}

/** Absolute destination, keeping whether it names a directory (trailing `/`, `.`). */
export function resolveDestination(dest: string, workdir: string): {path: string; isDir: boolean} {
  const isDir = dest.endsWith('/') || dest === '.' || dest.endsWith('/.') || dest === '';
  const absolute = dest.startsWith('/') ? dest : posix.join(workdir || '/', dest);
  return {path: cleanRootPath(absolute), isDir};
}

export function isUrl(source: string): boolean {
  return source.startsWith('http://') || source.startsWith('https://');
}

interface Placement {
  node: SourceNode;
  /** Where the node itself goes (for a directory: where its contents go). */
  destPath: string;
}

export async function planCopy(request: CopyRequest): Promise<CopyPlan> {
  const command = request.add ? 'ADD' : 'COPY';
  const destination = resolveDestination(request.dest, request.workdir);
  const resolvedDest = await request.target.resolve(destination.path);
  const destExistsAsDir = resolvedDest.node?.stats.isDirectory() ?? false;
  const destPath = resolvedDest.path;

  // Collect what each source names.
  const matched: SourceNode[] = [];
  const urls: string[] = [];
  let wildcard = false;
  for (const source of request.sources) {
    if (isUrl(source)) {
      if (!request.add) throw new InstructionError(`source can't be a URL for COPY: ${source}`);
      urls.push(source);
      continue;
    }
    const clean = cleanContextPath(source);
    if (hasWildcards(clean)) {
      wildcard = true;
      matched.push(...(await globTree(request.tree, clean)));
      continue;
    }
    const node = await followTopLevel(request.tree, clean);
    if (!node) {
      const where = request.tree.kind === 'context' ? 'the build context' : 'the source image';
      throw new CopySourceError(`${command.toLowerCase()} ${source}: "/${clean}": not found in ${where}`, {
        hint: request.tree.kind === 'context' ? 'check the path and that .dockerignore does not exclude it' : undefined,
      });
    }
    matched.push(node);
  }

  const count = matched.length + urls.length + request.heredocs.length;
  const many = request.sources.length + request.heredocs.length > 1 || (wildcard && count > 1);
  if (many && !destination.isDir && !destExistsAsDir) {
    throw new InstructionError(
      `When using ${command} with more than one source file, the destination must be a directory and end with a /`,
    );
  }
  const intoDir = destination.isDir || destExistsAsDir || many;

  const builder = new EntryBuilder(request);
  // Each line JSON-encoded as it is made (the checksum hashes the JSON of all of them).
  const lines: string[] = [];
  const files: Record<string, string> = {};

  for (const node of matched) {
    if (node.type === 'dir') {
      await builder.ensureDir(destPath);
      await copyDirectoryContents(request, builder, node, destPath, lines, files);
      continue;
    }
    if (request.add && node.type === 'file' && (await archiveKind(node.hostPath))) {
      await builder.ensureDir(destPath);
      const checksum = await checksumOf(request.tree, node);
      files[node.path] = checksum;
      lines.push(JSON.stringify(`${node.path}\0${destPath}\0archive\0${checksum}`));
      await extractArchive(node.hostPath, destPath, builder, request);
      continue;
    }
    const target = intoDir ? joinRel(destPath, baseName(node.path)) : destPath;
    await builder.ensureDir(parentRel(target));
    const checksum = await checksumOf(request.tree, node);
    files[node.path] = checksum;
    lines.push(JSON.stringify(`${node.path}\0${target}\0${checksum}`));
    builder.addNode(node, target, checksum);
  }

  for (const heredoc of request.heredocs) {
    const target = intoDir ? joinRel(destPath, heredoc.name) : destPath;
    await builder.ensureDir(parentRel(target));
    const content = Buffer.from(heredoc.content);
    lines.push(JSON.stringify(`<<${heredoc.name}\0${target}\0${createHash('sha256').update(content).digest('hex')}`));
    builder.add({path: target, type: 'file', mode: request.chmod ?? 0o644, ...builder.owner(0, 0), size: content.length, content});
  }

  for (const url of urls) {
    const fetched = await fetchUrl(url, request.scratchDir, request.signal);
    const target = intoDir ? joinRel(destPath, fetched.name) : destPath;
    await builder.ensureDir(parentRel(target));
    lines.push(JSON.stringify(`${url}\0${target}\0${fetched.digest}`));
    files[url] = fetched.digest;
    builder.add({
      path: target, type: 'file', mode: request.chmod ?? 0o600, ...builder.owner(0, 0), size: fetched.size,
      sourcePath: fetched.path, mtime: fetched.mtime,
    });
  }

  // The bytes of JSON.stringify({owner, chmod, lines}), put together from the lines already encoded.
  const json = `{"owner":${JSON.stringify(request.owner ?? null)},"chmod":${JSON.stringify(request.chmod ?? null)},"lines":[${lines.join(',')}]}`;
  const checksum = 'sha256:' + createHash('sha256').update(json).digest('hex');
  return {entries: builder.entries, files, checksum, identities: builder.identities};
}

class EntryBuilder {
  readonly entries: LayerEntry[] = [];
  private readonly seen = new Map<string, LayerEntry>();
  private readonly existingDirs = new Map<string, boolean>();
  constructor(private readonly request: CopyRequest) {}

  owner(uid: number, gid: number): {uid: number; gid: number} {
    return this.request.owner ?? {uid, gid};
  }

  add(entry: LayerEntry): void {
    if (entry.path === '') return;
    const previous = this.seen.get(entry.path);
    if (previous) {
      // A later source wins, as when copying over an earlier one; a directory stays a directory.
      if (previous.type === 'dir' && entry.type === 'dir') return;
      this.entries.splice(this.entries.indexOf(previous), 1);
    }
    this.seen.set(entry.path, entry);
    this.entries.push(entry);
  }

  /** Regular files of the result by destination path -> identity (see CopyPlan.identities). */
  readonly identities: Record<string, string> = {};

  /** Adds the entry for a source node; returns it (and the file's identity), or undefined for other types. */
  addNode(node: SourceNode, target: string, checksum?: string): {entry: LayerEntry; identity?: string} | undefined {
    const owner = this.owner(node.uid, node.gid);
    const mtime = new Date(Math.floor(node.mtimeMs / 1000) * 1000);
    let entry: LayerEntry;
    let identity: string | undefined;
    if (node.type === 'file') {
      const mode = this.request.chmod ?? node.mode;
      if (checksum) setOwn(this.identities, target, (identity = `${checksum}|${mode.toString(8)}|${owner.uid}:${owner.gid}|${mtime.getTime()}`));
      entry = {path: target, type: 'file', mode: this.request.chmod ?? node.mode, ...owner, size: node.size, sourcePath: node.hostPath, mtime};
    } else if (node.type === 'symlink') {
      entry = {path: target, type: 'symlink', mode: 0o777, ...owner, linkname: node.linkname ?? '', mtime};
    } else if (node.type === 'dir') {
      entry = {path: target, type: 'dir', mode: this.request.chmod ?? node.mode, ...owner, mtime};
    } else return undefined;
    this.add(entry);
    return {entry, identity};
  }

  /** Adds an entry a memo kept from an earlier plan of the same listing (see `ListingMemo`). */
  addKept(item: MemoItem): void {
    if (item.identity !== undefined) setOwn(this.identities, item.entry.path, item.identity);
    this.add(item.entry);
  }

  /**
   * Make sure `dir` and its parents exist in the result: directories the image lacks are created (0755, the
   * --chown owner); those it has are written with their own metadata, since a layer that holds a child must
   * hold its parent and overlayfs shows the topmost copy of a directory.
   */
  async ensureDir(dir: string): Promise<void> {
    if (dir === '') return;
    const parts = dir.split('/');
    for (let index = 1; index <= parts.length; index++) {
      const path = parts.slice(0, index).join('/');
      if (this.seen.has(path)) continue;
      if (await this.keepExistingDir(path)) continue;
      this.add({path, type: 'dir', mode: 0o755, ...this.owner(0, 0)});
    }
  }

  /** When the image has a directory at `path`, add an entry that keeps its metadata and answer true. */
  async keepExistingDir(path: string): Promise<boolean> {
    if (!(await this.existsAsDir(path))) return false;
    if (!this.seen.has(path)) {
      const stats = this.existingStats.get(path)!;
      this.add({path, type: 'dir', mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, mtime: stats.mtime});
    }
    return true;
  }

  private readonly existingStats = new Map<string, import('node:fs').Stats>();

  async existsAsDir(path: string): Promise<boolean> {
    const known = this.existingDirs.get(path);
    if (known !== undefined) return known;
    // Below a path that is not a directory of the image nothing exists (the view resolves a path component by
    // component): a COPY of a new source tree asks no layer about each of its folders.
    const parent = parentRel(path);
    if (parent !== '' && this.existingDirs.get(parent) === false) {
      this.existingDirs.set(path, false);
      return false;
    }
    const node = await this.request.target.lookup(path);
    const isDir = node?.stats.isDirectory() ?? false;
    if (isDir) this.existingStats.set(path, node!.stats);
    this.existingDirs.set(path, isDir);
    return isDir;
  }
}

async function copyDirectoryContents(
  request: CopyRequest,
  builder: EntryBuilder,
  dir: SourceNode,
  destDir: string,
  lines: string[],
  files: Record<string, string>,
): Promise<void> {
  const children = await request.tree.list(dir.path);
  const memo = request.tree.stableListings ? listingMemo(children, destDir, request) : undefined;
  for (let index = 0; index < children.length; index++) {
    const child = children[index];
    if (child.type === 'other') continue;
    const kept = memo?.items[index];
    if (kept && kept.node === child && (child.type === 'symlink' || (kept.digest !== undefined && request.tree.knownDigest?.(child) === kept.digest))) {
      // Unchanged since the last plan of this listing (same node, same content digest): same results.
      files[child.path] = kept.checksum;
      lines.push(kept.line);
      builder.addKept(kept);
      continue;
    }
    const target = joinRel(destDir, baseName(child.path));
    const digest = child.type === 'file' ? request.tree.knownDigest?.(child) : undefined;
    const known = checksumOf(request.tree, child);
    const checksum = typeof known === 'string' ? known : await known;
    files[child.path] = checksum;
    const line = JSON.stringify(`${child.path}\0${target}\0${checksum}`);
    lines.push(line);
    if (child.type === 'dir') {
      if (!(await builder.keepExistingDir(target))) builder.addNode(child, target, checksum);
      await copyDirectoryContents(request, builder, child, target, lines, files);
      continue;
    }
    const added = builder.addNode(child, target, checksum);
    // Kept only when the result is sure to be the same next time: a file whose digest was remembered (a
    // racy or new one is read again), or a symlink (its node holds the target).
    if (memo && added && (child.type === 'symlink' || digest !== undefined)) {
      memo.items[index] = {node: child, digest, checksum, line, entry: added.entry, identity: added.identity};
      keptItems++;
    }
  }
}

/**
 * What a COPY made of one listed directory's files and symlinks, for the same listing (the same array, see
 * `SourceTree.stableListings`) copied to the same place with the same owner and mode: a watch rebuild after
 * one edit re-plans only what changed. The entries are shared between plans; nobody modifies a plan's
 * entries (the layer writer and the snapshot seeder copy what they change).
 */
interface ListingMemo {
  readonly destDir: string;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly chmod: number | undefined;
  readonly items: (MemoItem | undefined)[];
}

interface MemoItem {
  readonly node: SourceNode;
  /** For a file: the content digest its checksum was made from. */
  readonly digest: string | undefined;
  readonly checksum: string;
  /** The checksum line, JSON-encoded. */
  readonly line: string;
  readonly entry: LayerEntry;
  readonly identity: string | undefined;
}

/** Memos by listing, a few destinations each (a Dockerfile may copy one folder to several places). */
let listingMemos = new WeakMap<readonly SourceNode[], ListingMemo[]>();
/** Items kept since the memos were last dropped: an upper bound of what they hold. */
let keptItems = 0;
/** Beyond this many kept items the memos are dropped and start again, so a huge context costs no more. */
const MAX_KEPT_ITEMS = 50_000;
const MAX_DESTINATIONS = 4;

function listingMemo(children: readonly SourceNode[], destDir: string, request: CopyRequest): ListingMemo {
  if (keptItems > MAX_KEPT_ITEMS) {
    listingMemos = new WeakMap();
    keptItems = 0;
  }
  const uid = request.owner?.uid;
  const gid = request.owner?.gid;
  const chmod = request.chmod;
  let memos = listingMemos.get(children);
  if (!memos) listingMemos.set(children, (memos = []));
  let memo = memos.find(one => one.destDir === destDir && one.uid === uid && one.gid === gid && one.chmod === chmod);
  if (!memo) {
    memo = {destDir, uid, gid, chmod, items: new Array<MemoItem | undefined>(children.length)};
    if (memos.length >= MAX_DESTINATIONS) memos.shift();
    memos.push(memo);
  }
  return memo;
}

/** `record[key] = value` as an own data property even for `__proto__`, as Object.fromEntries would. */
function setOwn(record: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') Object.defineProperty(record, key, {value, writable: true, enumerable: true, configurable: true});
  else record[key] = value;
}

/**
 * Type, mode and content (or link target) of one source; never its mtime or (context) owner. A string when it
 * is known at once (the tree remembers the file's digest), a promise when the file must be read.
 */
function checksumOf(tree: SourceTree, node: SourceNode): string | Promise<string> {
  const owner = tree.kind === 'rootfs' ? `${node.uid}:${node.gid}` : '0:0';
  if (node.type === 'file') {
    const prefix = `f${node.mode.toString(8)}:${owner}:`;
    const known = tree.knownDigest?.(node);
    if (known !== undefined) return prefix + known.slice(7);
    return tree.contentDigest(node).then(digest => prefix + digest.slice(7));
  }
  if (node.type === 'symlink') return `l:${owner}:${node.linkname ?? ''}`;
  if (node.type === 'dir') return `d${node.mode.toString(8)}:${owner}`;
  return 'o';
}

/** A named source: symlinks along it (the last one too) are followed inside the tree's root. */
async function followTopLevel(tree: SourceTree, path: string): Promise<SourceNode | null> {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    const parts = current.split('/').filter(Boolean);
    let resolved: string[] = [];
    let node: SourceNode | null = null;
    let restarted = false;
    for (let index = 0; index < parts.length; index++) {
      node = await tree.lookup([...resolved, parts[index]].join('/'));
      if (!node) return null;
      if (node.type === 'symlink') {
        const link = node.linkname ?? '';
        const base = link.startsWith('/') ? [] : resolved;
        current = cleanRootPath([...base, link, ...parts.slice(index + 1)].join('/'));
        restarted = true;
        break;
      }
      resolved = [...resolved, parts[index]];
    }
    if (!restarted) return parts.length === 0 ? await tree.lookup('') : node;
  }
  throw new CopySourceError(`resolve ${path}: too many levels of symbolic links`);
}

/** Matches of a wildcard path, component by component, sorted. */
async function globTree(tree: SourceTree, pattern: string): Promise<SourceNode[]> {
  const parts = pattern.split('/');
  let current: {path: string; node: SourceNode | null}[] = [{path: '', node: null}];
  for (const part of parts) {
    const next: {path: string; node: SourceNode | null}[] = [];
    for (const {path} of current) {
      if (hasWildcards(part)) {
        const regexp = compilePathPattern(part);
        for (const child of await tree.list(path)) {
          if (regexp.test(baseName(child.path))) next.push({path: child.path, node: child});
        }
      } else {
        const childPath = path === '' ? part : `${path}/${part.replace(/\\(.)/g, '$1')}`;
        const node = await tree.lookup(childPath);
        if (node) next.push({path: childPath, node});
      }
    }
    current = next;
  }
  return current.map(match => match.node!).filter(Boolean);
}

type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz';

async function archiveKind(path: string): Promise<ArchiveKind | undefined> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const {bytesRead} = await handle.read(head, 0, 512, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (bytesRead >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
    if (bytesRead >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return undefined;
  } finally {
    await handle.close();
  }
}

async function extractArchive(path: string, destDir: string, builder: EntryBuilder, request: CopyRequest): Promise<void> {
  const kind = await archiveKind(path);
  let input: Readable;
  let child: ReturnType<typeof spawn> | undefined;
  let closed: Promise<void> = Promise.resolve();
  if (kind === 'bzip2' || kind === 'xz') {
    const tool = kind === 'bzip2' ? 'bzip2' : 'xz';
    child = spawn(tool, ['-dc', path], {stdio: ['ignore', 'pipe', 'ignore']});
    const spawned = child;
    closed = new Promise<void>((resolve, reject) => {
      spawned.once('error', error => reject(new InstructionError(`add ${baseName(path)}: ${tool} is needed to extract it`, {cause: error})));
      spawned.once('close', () => resolve());
    });
    closed.catch(() => {});
    input = child.stdout!;
  } else input = createReadStream(path);
  await readLayerMembers(input, async (member, body) => {
    if (member.path === '') return;
    const target = joinRel(destDir, member.path);
    // Extracted members keep the archive's owners and modes: --chown/--chmod apply to copied files only
    // (checked against docker build: ADD --chown=app x.tar.gz leaves the members 0:0).
    const owner = {uid: member.uid, gid: member.gid};
    const mode = member.mode;
    if (member.type === 'file') {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      const content = Buffer.concat(chunks);
      await builder.ensureDir(parentRel(target));
      builder.add({path: target, type: 'file', mode, ...owner, size: content.length, content, mtime: member.mtime});
    } else if (member.type === 'dir') {
      await builder.ensureDir(parentRel(target));
      if (!(await builder.keepExistingDir(target))) builder.add({path: target, type: 'dir', mode, ...owner, mtime: member.mtime});
    } else if (member.type === 'symlink') {
      await builder.ensureDir(parentRel(target));
      builder.add({path: target, type: 'symlink', mode: 0o777, ...owner, linkname: member.linkname, mtime: member.mtime});
    } else if (member.type === 'hardlink') {
      await builder.ensureDir(parentRel(target));
      builder.add({path: target, type: 'hardlink', mode, ...owner, linkname: joinRel(destDir, member.linkname ?? ''), mtime: member.mtime});
    }
  });
  await closed;
}

async function fetchUrl(
  url: string,
  scratchDir: string,
  signal?: AbortSignal,
): Promise<{path: string; name: string; digest: string; size: number; mtime?: Date}> {
  let response: Response;
  try {
    response = await fetch(url, {signal, redirect: 'follow'});
  } catch (error) {
    const cause = (error as {cause?: {code?: string; message?: string}}).cause;
    throw new FetchError(url, cause?.code ?? cause?.message ?? (error as Error).message, {cause: error});
  }
  if (!response.ok) throw new FetchError(url, `server answered ${response.status} ${response.statusText}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const pathname = new URL(url).pathname;
  const last = posix.basename(pathname);
  const name = last && last !== '/' && last !== '.' ? last : '__unnamed__';
  const dir = await mkdtemp(join(scratchDir, 'add-'));
  const path = join(dir, 'download');
  await writeFile(path, bytes);
  const modified = response.headers.get('last-modified');
  const mtime = modified ? new Date(modified) : undefined;
  return {
    path, name, size: bytes.length, digest: 'sha256:' + createHash('sha256').update(bytes).digest('hex'),
    mtime: mtime && !Number.isNaN(mtime.getTime()) ? mtime : undefined,
  };
}

export async function removeScratch(dir: string): Promise<void> {
  await rm(dir, {recursive: true, force: true});
}

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

function parentRel(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
