import {execFile} from 'node:child_process';
import {constants, readFileSync} from 'node:fs';
import {
  chmod,
  link,
  lchown,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rm,
  symlink,
  unlink,
} from 'node:fs/promises';
import {join} from 'node:path';
import type {Readable} from 'node:stream';
import {promisify} from 'node:util';
import {OPAQUE_MARKER, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX} from './entry.js';
import {UnsafeLayerError} from './errors.js';
import {readLayerMembers, type MemberBody, type ReadLimits, type TarMember} from './reader.js';
import {setXattrs, type XattrWrite} from './xattr.js';

const execFileAsync = promisify(execFile);

export interface ApplyOptions {
  /**
   * Create device nodes, keep `security.capability` and fail on owner errors. Default: running as root in the
   * initial user namespace (as containerd decides).
   */
  privileged?: boolean;
  /** Apply entry owners with lchown. Default: running as root (inside a user namespace, errors are tolerated). */
  chown?: boolean;
  /** Drop setuid, setgid and sticky bits from every mode. */
  stripSetuid?: boolean;
  limits?: ReadLimits;
}

export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface ApplyResult {
  /** Tar members read, whiteouts included. */
  entries: number;
  /** Regular-file content bytes written. */
  bytes: number;
  /** Digest of the uncompressed tar, to check against the expected diffID. */
  diffId: string;
  /** Members not materialised, with why (device nodes when unprivileged, xattrs the policy refused). */
  skipped: SkippedEntry[];
}

const MAX_SYMLINK_HOPS = 40;
const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * Applies a layer tar (plain or gzip, sniffed) onto the folder `target`, which is created if missing.
 *
 * Safety contract (the safe-extraction checklist of formats-and-protocols.md section 3):
 * - Names are cleaned; a name climbing above the root, or with NUL or a drive/UNC prefix, throws
 *   `LayerEscapeError` naming the entry. Leading `/` and `./` are stripped. The root entry itself is skipped.
 * - Parents are resolved one component at a time with the target as `/`: a symlink met on the way is followed
 *   inside the target (`a -> /etc` then `a/passwd` writes `target/etc/passwd`), `..` stops at the root, and
 *   nothing is cached between entries. Missing parents are created 0755.
 * - The final component is never followed: unless dir over dir (attributes only), what is there is removed,
 *   then the new node is created exclusively (`O_EXCL|O_NOFOLLOW` for files).
 * - Hardlinks resolve inside the target and must point at an existing non-directory, else
 *   `UnsafeLayerError`. Device nodes are made only when privileged, otherwise skipped. FIFOs are always made.
 * - Owners are set before modes (chown clears setuid); `stripSetuid` drops 07000. Directory modes and mtimes
 *   are set in a final pass, after re-checking that the path is still the same real directory.
 * - Whiteouts delete lower content only: `.wh.x` removes `x` unless this layer wrote it; `.wh..wh..opq` hides
 *   every lower child of its folder, keeping entries this layer unpacked, wherever the marker appears. A bare
 *   `.wh.` (or one naming `.`/`..`) throws `UnsafeLayerError`; other `.wh..wh.` names are skipped.
 * - Duplicate entries: the last one wins. PAX global headers carry no entries and are not applied.
 * - `limits` cap members and uncompressed bytes (`LayerLimitError`). Xattrs from `SCHILY.xattr.*` are set
 *   except `trusted.overlay.*`; `security.capability` only when privileged; ones the filesystem refuses are
 *   listed in `skipped`.
 */
export async function applyLayer(tar: Readable, target: string, options: ApplyOptions = {}): Promise<ApplyResult> {
  await mkdir(target, {recursive: true});
  const root = await realpath(target);
  const privileged = options.privileged ?? isPrivileged();
  const applier = new Applier(root, {
    privileged,
    chown: options.chown ?? process.getuid?.() === 0,
    stripSetuid: options.stripSetuid ?? false,
  });
  const summary = await readLayerMembers(tar, (member, body) => applier.apply(member, body), options.limits);
  await applier.finish();
  return {entries: summary.entries, bytes: applier.bytes, diffId: summary.diffId!, skipped: applier.skipped};
}

let privilegedCache: boolean | undefined;

/** Root in the initial user namespace: the only case where device nodes and any owner can be created. */
export function isPrivileged(): boolean {
  if (privilegedCache !== undefined) return privilegedCache;
  if (process.getuid?.() !== 0) return (privilegedCache = false);
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    privilegedCache = map.length === 3 && map[0] === '0' && map[1] === '0' && map[2] === '4294967295';
  } catch {
    privilegedCache = false;
  }
  return privilegedCache;
}

interface DirectoryAttributes {
  rel: string;
  mode: number;
  mtime: Date;
  ino: number;
}

class Applier {
  bytes = 0;
  readonly skipped: SkippedEntry[] = [];
  /** Real (resolved) paths written by this layer. */
  private readonly written = new Set<string>();
  /** Real paths of folders that hold something this layer wrote. */
  private readonly holding = new Set<string>();
  private readonly directories = new Map<string, DirectoryAttributes>();
  private readonly xattrs: {rel: string; ino: number; writes: XattrWrite[]}[] = [];

  constructor(
    private readonly root: string,
    private readonly policy: {privileged: boolean; chown: boolean; stripSetuid: boolean},
  ) {}

  async apply(member: TarMember, body: MemberBody): Promise<void> {
    if (member.path === '') return;
    const parts = member.path.split('/');
    const base = parts.pop()!;
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(member, parts, base);
    if ((member.type === 'char' || member.type === 'block') && !this.policy.privileged) {
      // Skipped before anything is touched: what a lower layer has at the path stays.
      this.skipped.push({path: member.path, reason: `${member.type} device needs privileges`});
      return;
    }
    const parent = await this.resolveParent(parts, member.name, true);
    const rel = joinRel(parent!, base);
    const full = this.full(rel);
    // Resolve a hardlink's target before the final component is removed, so a link to itself fails cleanly.
    const linkTarget = member.type === 'hardlink' ? await this.hardlinkTarget(member) : undefined;
    if (linkTarget === full) {
      throw new UnsafeLayerError(`apply layer: hardlink ${JSON.stringify(member.name)} points at itself`, {entry: member.name});
    }
    const existing = await lstatOrNull(full);
    if (existing && !(existing.isDirectory() && member.type === 'dir')) {
      if (existing.isDirectory()) await rm(full, {recursive: true, force: true});
      else await unlink(full);
    }
    const mode = this.policy.stripSetuid ? member.mode & 0o777 : member.mode;
    switch (member.type) {
      case 'dir':
        await this.directory(member, rel, full, mode, existing?.isDirectory() ?? false);
        break;
      case 'file':
        await this.file(member, full, mode, body);
        break;
      case 'symlink':
        await symlink(member.linkname!, full);
        await this.owner(full, member);
        await lutimes(full, member.mtime, member.mtime);
        break;
      case 'hardlink':
        await link(linkTarget!, full);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        await this.special(member, full, mode);
        break;
    }
    this.markWritten(rel);
    if (member.xattrs) await this.queueXattrs(member, rel, full);
  }

  /** Final pass: xattrs, then directory modes and mtimes, deepest first. */
  async finish(): Promise<void> {
    // A later entry may have replaced a path, or a folder above it, with a symlink: only write xattrs to the
    // very node this layer created, reached through real folders.
    const writes: XattrWrite[] = [];
    for (const queued of this.xattrs) {
      if (await this.isSameNode(queued.rel, queued.ino)) writes.push(...queued.writes);
      else this.skipped.push({path: queued.rel, reason: 'xattrs not applied: the path was replaced later in the layer'});
    }
    // An xattr the filesystem refuses (user.* on a device node, trusted.* unprivileged) is reported, not fatal.
    for (const failure of await setXattrs(writes)) {
      this.skipped.push({path: failure.path.slice(this.root.length + 1), reason: `xattr ${failure.name}: ${failure.message}`});
    }
    const directories = [...this.directories.values()].sort((a, b) => depth(b.rel) - depth(a.rel));
    for (const directory of directories) {
      const handle = await this.openVerifiedDirectory(directory);
      if (!handle) continue;
      try {
        await handle.chmod(directory.mode);
        await handle.utimes(directory.mtime, directory.mtime);
      } finally {
        await handle.close();
      }
    }
  }

  private async whiteout(member: TarMember, parts: string[], base: string): Promise<void> {
    if (base === OPAQUE_MARKER) {
      const folder = await this.resolveParent(parts, member.name, true);
      const rel = folder!.join('/');
      this.holding.add(rel);
      for (const child of await readdir(this.full(rel))) await this.removeLower(joinRel(folder!, child));
      return;
    }
    if (base.startsWith(WHITEOUT_META_PREFIX)) {
      this.skipped.push({path: member.path, reason: 'AUFS metadata'});
      return;
    }
    const name = base.slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') {
      throw new UnsafeLayerError(`apply layer: entry ${JSON.stringify(member.name)} is a whiteout without a name`, {
        entry: member.name,
      });
    }
    const parent = await this.resolveParent(parts, member.name, false);
    if (parent) await this.removeLower(joinRel(parent, name));
  }

  /** Deletes what lower layers put at `rel`, keeping whatever this layer has already unpacked there. */
  private async removeLower(rel: string): Promise<void> {
    const full = this.full(rel);
    if (!this.written.has(rel) && !this.holding.has(rel)) {
      await rm(full, {recursive: true, force: true});
      return;
    }
    const stats = await lstatOrNull(full);
    if (!stats?.isDirectory()) return;
    for (const child of await readdir(full)) await this.removeLower(`${rel}/${child}`);
  }

  private async directory(member: TarMember, rel: string, full: string, mode: number, exists: boolean) {
    if (!exists) await mkdir(full, 0o700);
    await this.owner(full, member);
    // Keep the folder writable for its children; the exact mode is set in the final pass.
    await chmod(full, mode | 0o700);
    const stats = await lstat(full);
    this.directories.set(rel, {rel, mode, mtime: member.mtime, ino: stats.ino});
  }

  private async file(member: TarMember, full: string, mode: number, body: MemberBody) {
    const handle = await open(full, FILE_FLAGS, 0o600);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        await handle.write(chunk);
        this.bytes += chunk.length;
      }
      if (this.policy.chown) await this.tolerateOwnerError(() => handle.chown(member.uid, member.gid));
      await handle.chmod(mode);
      await handle.utimes(member.mtime, member.mtime);
    } finally {
      await handle.close();
    }
  }

  private async special(member: TarMember, full: string, mode: number) {
    if (member.type === 'fifo') await execFileAsync('mkfifo', ['-m', '0600', '--', full]);
    else {
      if (member.devmajor > 0xffffffff || member.devminor > 0xffffffff) {
        throw new UnsafeLayerError(`apply layer: entry ${JSON.stringify(member.name)} has device numbers beyond 32 bits`, {
          entry: member.name,
        });
      }
      const kind = member.type === 'char' ? 'c' : 'b';
      await execFileAsync('mknod', ['-m', '0600', '--', full, kind, String(member.devmajor), String(member.devminor)]);
    }
    await this.owner(full, member);
    // Just created in a verified real folder; the final component is the node itself, not a symlink.
    await chmod(full, mode);
    await lutimes(full, member.mtime, member.mtime);
  }

  private async hardlinkTarget(member: TarMember): Promise<string> {
    const parts = member.linkname!.split('/');
    const base = parts.pop();
    const parent = base ? await this.resolveParent(parts, member.name, false) : null;
    const targetFull = parent && base ? this.full(joinRel(parent, base)) : undefined;
    const stats = targetFull ? await lstatOrNull(targetFull) : null;
    if (!targetFull || !stats) {
      throw new UnsafeLayerError(`apply layer: hardlink ${JSON.stringify(member.name)} points at missing ${member.linkname}`, {
        entry: member.name,
      });
    }
    if (stats.isDirectory()) {
      throw new UnsafeLayerError(`apply layer: hardlink ${JSON.stringify(member.name)} points at a directory`, {
        entry: member.name,
      });
    }
    return targetFull;
  }

  private async owner(full: string, member: TarMember) {
    if (this.policy.chown) await this.tolerateOwnerError(() => lchown(full, member.uid, member.gid));
  }

  private async tolerateOwnerError(change: () => Promise<void>) {
    try {
      await change();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (this.policy.privileged || (code !== 'EPERM' && code !== 'EINVAL')) throw error;
    }
  }

  private async queueXattrs(member: TarMember, rel: string, full: string) {
    const writes: XattrWrite[] = [];
    for (const [name, value] of Object.entries(member.xattrs!)) {
      if (name.startsWith('trusted.overlay.')) {
        this.skipped.push({path: member.path, reason: `xattr ${name} is never applied`});
      } else if (name === 'security.capability' && !this.policy.privileged) {
        this.skipped.push({path: member.path, reason: `xattr ${name} needs privileges`});
      } else {
        writes.push({path: full, name, value});
      }
    }
    if (writes.length > 0) this.xattrs.push({rel, ino: (await lstat(full)).ino, writes});
  }

  private markWritten(rel: string) {
    this.written.add(rel);
    for (let slash = rel.lastIndexOf('/'); slash > 0; slash = rel.lastIndexOf('/', slash - 1)) {
      const ancestor = rel.slice(0, slash);
      if (this.holding.has(ancestor)) break;
      this.holding.add(ancestor);
    }
  }

  /**
   * Resolves the folder `parts` inside the root, one component at a time, following symlinks as if the root
   * were `/`. Returns the real path as components. Missing folders are created (0755) when `create`, else the
   * answer is null; a non-folder on the way throws.
   */
  private async resolveParent(parts: string[], entry: string, create: boolean): Promise<string[] | null> {
    const resolved: string[] = [];
    const pending = parts.slice().reverse();
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.pop()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const full = join(this.root, ...resolved, part);
      const stats = await lstatOrNull(full);
      if (!stats) {
        if (!create) return null;
        await mkdir(full, 0o755);
        resolved.push(part);
        continue;
      }
      if (stats.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw new UnsafeLayerError(`apply layer: entry ${JSON.stringify(entry)}: too many levels of symlinks`, {entry});
        }
        const link = await readlink(full);
        if (link.startsWith('/')) resolved.length = 0;
        pending.push(...link.split('/').reverse());
        continue;
      }
      if (!stats.isDirectory()) {
        if (!create) return null;
        throw new UnsafeLayerError(
          `apply layer: entry ${JSON.stringify(entry)}: ${[...resolved, part].join('/')} is not a directory`,
          {entry},
        );
      }
      resolved.push(part);
    }
    return resolved;
  }

  /** Opens a recorded folder only if every component is still a real folder and it is the same inode. */
  private async openVerifiedDirectory(directory: DirectoryAttributes) {
    if (!(await this.isSameNode(directory.rel, directory.ino))) return null;
    const handle = await open(this.full(directory.rel), DIR_FLAGS).catch(() => null);
    if (!handle) return null;
    if ((await handle.stat()).ino !== directory.ino) {
      await handle.close();
      return null;
    }
    return handle;
  }

  /** Is `rel` still the node with inode `ino`, reached through real folders only (no symlink on the way)? */
  private async isSameNode(rel: string, ino: number): Promise<boolean> {
    let full = this.root;
    const parts = rel.split('/');
    for (let i = 0; i < parts.length; i++) {
      full = join(full, parts[i]);
      const stats = await lstatOrNull(full);
      if (!stats) return false;
      if (i < parts.length - 1 ? !stats.isDirectory() : stats.ino !== ino) return false;
    }
    return true;
  }

  private full(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }
}

function joinRel(parent: string[], name: string): string {
  return parent.length === 0 ? name : `${parent.join('/')}/${name}`;
}

function depth(rel: string): number {
  let count = 0;
  for (let i = 0; i < rel.length; i++) if (rel.charCodeAt(i) === 47) count++;
  return count;
}

async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}
