/**
 * An unprivileged user for the tests that must prove the user-namespace path ("run the RUN tests once more as
 * an unprivileged user"): created idempotently, with /etc/subuid and /etc/subgid ranges so that newuidmap lets
 * it map ids beyond its own, and a way to run node scripts (and node:test files) as it.
 */
import {spawn, spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {resolve} from 'node:path';

export const testUserName = 'strata-test';
const subordinateStart = 300000;
const subordinateCount = 65536;

export interface TestUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], {stdio: 'ignore'}).status === 0;
}

function lookup(name: string): TestUser | undefined {
  const uid = spawnSync('id', ['-u', name], {encoding: 'utf8'});
  const gid = spawnSync('id', ['-g', name], {encoding: 'utf8'});
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return {name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim())};
}

function hasRange(file: string, name: string): boolean {
  try {
    return readFileSync(file, 'utf8').split('\n').some(line => line.split(':')[0] === name);
  } catch {
    return false;
  }
}

/**
 * The unprivileged test user, created when missing (needs root, useradd/usermod and newuidmap). Returns a
 * reason string instead when that is not possible here, for the caller to skip with.
 */
export function ensureTestUser(name = testUserName): TestUser | {skip: string} {
  if (process.getuid?.() !== 0) return {skip: 'creating the unprivileged test user needs root'};
  for (const tool of ['useradd', 'usermod', 'runuser', 'newuidmap', 'newgidmap']) {
    if (!hasTool(tool)) return {skip: `${tool} not installed (uidmap, passwd, util-linux)`};
  }
  if (!lookup(name)) {
    const created = spawnSync('useradd', ['--create-home', '--shell', '/bin/sh', name], {encoding: 'utf8'});
    if (created.status !== 0 && !lookup(name)) return {skip: `useradd ${name} failed: ${created.stderr.trim()}`};
  }
  const range = `${subordinateStart}-${subordinateStart + subordinateCount - 1}`;
  if (!hasRange('/etc/subuid', name)) {
    const result = spawnSync('usermod', ['--add-subuids', range, name], {encoding: 'utf8'});
    if (result.status !== 0) return {skip: `usermod --add-subuids failed: ${result.stderr.trim()}`};
  }
  if (!hasRange('/etc/subgid', name)) {
    const result = spawnSync('usermod', ['--add-subgids', range, name], {encoding: 'utf8'});
    if (result.status !== 0) return {skip: `usermod --add-subgids failed: ${result.stderr.trim()}`};
  }
  return lookup(name)!;
}

export interface RunAsResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run `node --import tsx <args>` as `user` from the repository root (`runuser`, a login-free switch that
 * keeps no supplementary groups of root). `env` is added to a minimal environment.
 */
export function runNodeAs(user: TestUser, args: readonly string[], env: Record<string, string> = {}): Promise<RunAsResult> {
  const repository = resolve(import.meta.dirname, '..', '..');
  return new Promise((resolvePromise, reject) => {
    const child = spawn('runuser', ['-u', user.name, '--', process.execPath, '--import', 'tsx', ...args], {
      cwd: repository,
      env: {PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: `/home/${user.name}`, TMPDIR: '/tmp', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', code => resolvePromise({code: code ?? 1, stdout, stderr}));
  });
}
