/**
 * The host programs the runtime drives, found once in the usual system folders (not through $PATH: the engine
 * does not read the environment deep inside, and a RUN must not depend on what the caller's PATH holds).
 */
import {accessSync, constants, readFileSync} from 'node:fs';
import {userInfo} from 'node:os';

const systemDirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];

export function findHostTool(name: string): string | undefined {
  for (const dir of systemDirs) {
    const candidate = `${dir}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

export interface HostTools {
  readonly sh: string;
  readonly unshare: string;
  readonly setpriv: string;
  readonly env: string;
}

let cached: HostTools | null | undefined;

/** The tools, or null when one is missing. */
export function hostTools(): HostTools | null {
  if (cached !== undefined) return cached;
  const sh = findHostTool('sh');
  const unshare = findHostTool('unshare');
  const setpriv = findHostTool('setpriv');
  const env = findHostTool('env');
  cached = sh && unshare && setpriv && env ? {sh, unshare, setpriv, env} : null;
  return cached;
}

/** A range of subordinate ids from /etc/subuid or /etc/subgid. */
export interface SubordinateRange {
  readonly start: number;
  readonly count: number;
}

function firstRange(file: string, name: string, id: number): SubordinateRange | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if ((owner === name || owner === String(id)) && Number(count) > 0) {
      return {start: Number(start), count: Number(count)};
    }
  }
  return undefined;
}

/**
 * How a user namespace for the current (non-root) user maps ids: its own uid/gid become 0, and when
 * newuidmap/newgidmap and subordinate ranges exist, 1..count map onto those ranges (`unshare --map-auto`).
 */
export interface UserNamespacePlan {
  /** Inner ids 1..(subordinateCount) are mapped; 0 means only root exists inside. */
  readonly subordinateCount: number;
  readonly uidRange?: SubordinateRange;
  readonly gidRange?: SubordinateRange;
}

export function userNamespacePlan(): UserNamespacePlan {
  const uid = process.getuid!();
  let name = String(uid);
  try {
    name = userInfo().username;
  } catch {
    // a uid without a passwd entry: match /etc/subuid by number only
  }
  // util-linux looks both files up by the user's name (or uid), as newuidmap/newgidmap check them.
  const uidRange = firstRange('/etc/subuid', name, uid);
  const gidRange = firstRange('/etc/subgid', name, uid);
  const helpers = findHostTool('newuidmap') && findHostTool('newgidmap');
  if (!helpers || !uidRange || !gidRange) return {subordinateCount: 0};
  return {subordinateCount: Math.min(uidRange.count, gidRange.count) - 1, uidRange, gidRange};
}
