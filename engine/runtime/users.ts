/**
 * USER resolution against an image's own /etc/passwd and /etc/group, with the rules runc applies for docker:
 * - `''` is root (0:0).
 * - `name` or `uid`: the passwd entry matching the name or uid gives uid and primary gid; a uid with no entry
 *   runs as that uid with gid 0. Supplementary groups are the /etc/group entries listing the user's name.
 * - `user:group`: the group (a name from /etc/group, or any number) replaces the primary gid and there are no
 *   supplementary groups.
 * A name that the files do not hold is an `UnknownUserError` (docker: "unable to find user app").
 */
import {readFile} from 'node:fs/promises';
import {lookupInStack} from '../snapshot/stack.js';
import {UnknownUserError} from './errors.js';

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary group ids, in /etc/group order, without duplicates. */
  readonly groups: readonly number[];
  /** The passwd name when one matched. */
  readonly name?: string;
  /** The passwd home directory when one matched. */
  readonly home?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const numeric = /^\d+$/;

function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 4 || !numeric.test(fields[2]!) || !numeric.test(fields[3]!)) continue;
    entries.push({name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? ''});
  }
  return entries;
}

function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    if (fields.length < 3 || !numeric.test(fields[2]!)) continue;
    const members = (fields[3] ?? '').split(',').map(member => member.trim()).filter(Boolean);
    entries.push({name: fields[0]!, gid: Number(fields[2]), members});
  }
  return entries;
}

/** Read a file of the rootfs: a folder, or a stack of overlay lower folders (lowest first). Missing -> ''. */
async function readRootfsFile(rootfs: string | readonly string[], relPath: string): Promise<string> {
  const lowers = typeof rootfs === 'string' ? [rootfs] : rootfs;
  const entry = await lookupInStack(lowers, relPath);
  if (!entry || !entry.stats.isFile()) return '';
  return readFile(entry.hostPath, 'utf8');
}

/**
 * Resolve a USER spec (`name`, `uid`, `name:group`, `uid:gid`) against the rootfs, given as one folder or as
 * a stack of overlay lower folders (lowest first).
 */
export async function resolveUser(rootfs: string | readonly string[], spec: string | undefined): Promise<ResolvedUser> {
  const trimmed = (spec ?? '').trim();
  if (trimmed === '') return {uid: 0, gid: 0, groups: [], name: 'root', home: '/root'};
  const colon = trimmed.indexOf(':');
  const userPart = colon === -1 ? trimmed : trimmed.slice(0, colon);
  const groupPart = colon === -1 ? undefined : trimmed.slice(colon + 1);

  const passwd = parsePasswd(await readRootfsFile(rootfs, 'etc/passwd'));
  const userIsNumber = numeric.test(userPart);
  const match = passwd.find(entry => (userIsNumber ? entry.uid === Number(userPart) : entry.name === userPart));
  if (!match && !userIsNumber) {
    throw new UnknownUserError(`resolve user ${trimmed}: unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = match ? match.uid : Number(userPart);
  let gid = match ? match.gid : 0;

  const needGroups = groupPart !== undefined || match !== undefined;
  const groupFile = needGroups ? parseGroup(await readRootfsFile(rootfs, 'etc/group')) : [];

  if (groupPart !== undefined && groupPart !== '') {
    const groupIsNumber = numeric.test(groupPart);
    const group = groupFile.find(entry => (groupIsNumber ? entry.gid === Number(groupPart) : entry.name === groupPart));
    if (!group && !groupIsNumber) {
      throw new UnknownUserError(`resolve user ${trimmed}: unable to find group ${groupPart}: no matching entries in group file`);
    }
    gid = group ? group.gid : Number(groupPart);
    return {uid, gid, groups: [], ...(match ? {name: match.name, home: match.home} : {})};
  }

  const groups: number[] = [];
  if (match) {
    for (const group of groupFile) {
      if (group.members.includes(match.name) && !groups.includes(group.gid)) groups.push(group.gid);
    }
  }
  return {uid, gid, groups, ...(match ? {name: match.name, home: match.home} : {})};
}
