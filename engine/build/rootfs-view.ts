/**
 * Read-only questions about an image state's root filesystem, answered from its stack of extracted layer
 * folders (lowest first) without mounting: does a path exist, what is it, where does a path lead once the
 * symlinks along it are followed (as inside a chroot: absolute links restart at the image root, `..` never
 * climbs above it), and who are the users and groups of --chown.
 */
import {readFile} from 'node:fs/promises';
import type {Stats} from 'node:fs';
import {readlink} from 'node:fs/promises';
import {listInStack, lookupInStack} from '../snapshot/stack.js';
import {InstructionError} from './errors.js';

export interface RootfsNode {
  /** Path relative to the image root ('' = root). */
  readonly path: string;
  readonly hostPath: string;
  readonly stats: Stats;
}

const maxSymlinkHops = 40;

export class RootfsView {
  readonly lowers: readonly string[];
  constructor(lowers: readonly string[]) {
    this.lowers = lowers;
  }

  /** The entry at exactly `path` (no following), or null. */
  async lookup(path: string): Promise<RootfsNode | null> {
    const clean = cleanRootPath(path);
    if (this.lowers.length === 0) return null;
    const entry = await lookupInStack(this.lowers, clean);
    return entry ? {path: clean, hostPath: entry.hostPath, stats: entry.stats} : null;
  }

  async list(path: string): Promise<string[]> {
    if (this.lowers.length === 0) return [];
    return listInStack(this.lowers, cleanRootPath(path));
  }

  /**
   * Resolve every symlink along `path` (the last component too, unless `followLast` is false). Returns the
   * resolved relative path, and the node when it exists.
   */
  async resolve(path: string, followLast = true): Promise<{path: string; node: RootfsNode | null}> {
    let pending = cleanRootPath(path).split('/').filter(Boolean);
    const done: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      const candidate = [...done, part].join('/');
      const node = await this.lookup(candidate);
      const isLast = pending.length === 0;
      if (node && node.stats.isSymbolicLink() && (!isLast || followLast)) {
        if (++hops > maxSymlinkHops) throw new InstructionError(`resolve ${path}: too many levels of symbolic links`);
        const target = await readlink(node.hostPath);
        const targetParts = target.split('/').filter(part => part !== '' && part !== '.');
        if (target.startsWith('/')) done.length = 0;
        const rest: string[] = [];
        for (const targetPart of targetParts) {
          if (targetPart === '..') {
            if (rest.length > 0) rest.pop();
            else done.pop();
          } else rest.push(targetPart);
        }
        pending = [...rest, ...pending];
        continue;
      }
      if (!node) {
        // The rest does not exist: nothing more to follow.
        return {path: [...done, part, ...pending].join('/'), node: null};
      }
      done.push(part);
    }
    const resolved = done.join('/');
    return {path: resolved, node: resolved === '' ? await this.lookup('') : await this.lookup(resolved)};
  }

  async readText(path: string): Promise<string> {
    const {node} = await this.resolve(path);
    if (!node || !node.stats.isFile()) return '';
    return readFile(node.hostPath, 'utf8');
  }
}

export function cleanRootPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

/**
 * `--chown=user[:group]` as BuildKit resolves it: a name is looked up in the image's /etc/passwd (uid and
 * its primary gid), a number is taken as is with gid = uid; a group (name from /etc/group, or number)
 * replaces the gid.
 */
export async function resolveChown(view: RootfsView, spec: string): Promise<{uid: number; gid: number}> {
  const colon = spec.indexOf(':');
  const userPart = colon === -1 ? spec : spec.slice(0, colon);
  const groupPart = colon === -1 ? undefined : spec.slice(colon + 1);
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    gid = uid;
  } else {
    const passwd = parseColonFile(await view.readText('etc/passwd'));
    const entry = passwd.find(fields => fields[0] === userPart);
    if (!entry || !/^\d+$/.test(entry[2] ?? '') || !/^\d+$/.test(entry[3] ?? '')) {
      throw new InstructionError(`unable to convert uid/gid chown string to host mapping: unknown user ${JSON.stringify(userPart)}`, {
        hint: `add the user to the image's /etc/passwd first, or use numeric ids (--chown=1000:1000)`,
      });
    }
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const groups = parseColonFile(await view.readText('etc/group'));
      const entry = groups.find(fields => fields[0] === groupPart);
      if (!entry || !/^\d+$/.test(entry[2] ?? '')) {
        throw new InstructionError(`unable to convert uid/gid chown string to host mapping: unknown group ${JSON.stringify(groupPart)}`);
      }
      gid = Number(entry[2]);
    }
  }
  return {uid, gid};
}

function parseColonFile(text: string): string[][] {
  return text
    .split('\n')
    .filter(line => line.trim() !== '' && !line.startsWith('#'))
    .map(line => line.split(':'));
}
