/**
 * Run one command in a root filesystem made of layer snapshots, isolated in Linux namespaces.
 *
 * Contract:
 * - The rootfs is `lowerDirs` (overlay lower folders, lowest first, whiteouts as 0/0 character devices) under a
 *   writable `upperDir`, mounted with overlayfs when the kernel allows it (root, or a user namespace on Linux
 *   >= 5.11; `index`, `metacopy` and `redirect_dir` off, so the upper dir holds whole files and no redirects).
 *   Every change the command makes lands in `upperDir` in overlayfs form (whiteouts as 0/0 character devices,
 *   re-created folders marked opaque with `trusted.overlay.opaque` as root or `user.overlay.opaque` in a user
 *   namespace); nothing else on the host is written, and the lower folders are never changed. Read the upper
 *   dir with `exportUpperDir` when not root (it holds files of subordinate ids the caller cannot read).
 * - Where overlayfs cannot be mounted, the lower stack is copied into `upperDir` (which must then be empty),
 *   and it holds the whole rootfs after the run; the result says `mode: 'copy'` and the caller diffs it
 *   against the lower stack (engine/layer `changesBetween` with `Snapshots.mergedCopy`).
 * - /proc, a minimal /dev (as BuildKit's: null, zero, full, random, urandom, tty, pts, shm, mqueue and the fd
 *   symlinks), /sys (read-only, where allowed), /etc/hosts, /etc/resolv.conf and /etc/hostname (unless
 *   `etcHostname: false`) are provided for the command and never appear in `upperDir`: in overlay mode their
 *   mount points, when the image lacks them, live in an extra top lower folder (a "stub" layer whose folders
 *   copy the metadata of the image's, so a copy-up of /etc keeps the image's mode, owner and times); in copy
 *   mode they are created in the rootfs and removed after the run, restoring their parent's times.
 * - The command is PID 1 of new mount, PID, UTS and IPC namespaces (as under BuildKit: it ignores signals it
 *   has no handler for), with a network namespace holding only loopback for `network: 'none'`, in a user
 *   namespace when the caller is not root, chrooted into the rootfs, with exactly `env` (its PATH finds
 *   argv[0]), in `cwd` (created when missing), as `user` with its groups (`resolveUser`).
 * - `workDir` is a scratch folder owned by this call (created, then removed): it must be on the same
 *   filesystem as `upperDir` and must not be inside a lower folder. Calls may run concurrently with
 *   different work dirs.
 * - Aborting `signal` kills every process of the command (the PID namespace dies with its PID 1) and rejects
 *   with the signal's reason; steps still running when this process exits are killed too.
 * - Errors: `RuntimeUnavailableError` (no namespaces for this user: a clear message and a hint),
 *   `UnknownUserError` (USER names nobody in the image), `IdMappingError` (USER needs ids the user namespace
 *   cannot map), `RuntimeSetupError` (anything else before the command started). A command that fails is
 *   not an error: its exit code is returned.
 */
import {spawn} from 'node:child_process';
import {chmod, chown, lstat, mkdir, readFile, readdir, rm, rmdir, symlink, unlink, utimes, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {readFileSync} from 'node:fs';
import type {Stats} from 'node:fs';
import {lookupInStack, resolveInStack} from '../snapshot/stack.js';
import {mergeStackKeepingOwners} from '../snapshot/snapshots.js';
import {IdMappingError, RuntimeSetupError, RuntimeUnavailableError} from './errors.js';
import {hostTools, userNamespacePlan} from './host-tools.js';
import type {HostTools, UserNamespacePlan} from './host-tools.js';
import {probeRuntime} from './probe.js';
import {launch, type Launched} from './launcher.js';
import {setupScript} from './setup-script.js';
import {resolveUser} from './users.js';
import type {ResolvedUser} from './users.js';

export type OutputStream = 'stdout' | 'stderr';

export interface RunIsolatedOptions {
  /** Overlay lower folders, lowest first. */
  readonly lowerDirs: readonly string[];
  /** The writable layer: receives every change (overlay mode) or the whole rootfs (copy mode). */
  readonly upperDir: string;
  /** Scratch folder for this run (overlay work dir, mount point, /etc files); same filesystem as upperDir. */
  readonly workDir: string;
  readonly argv: readonly string[];
  /** `KEY=value` entries: the command's whole environment. */
  readonly env: readonly string[];
  /** Working directory inside the rootfs, created when missing (as docker does for WORKDIR). */
  readonly cwd: string;
  /** `name`, `uid`, `name:group` or `uid:gid`, resolved against the rootfs; root when absent. */
  readonly user?: string;
  readonly network: 'host' | 'none';
  /**
   * UTS hostname, in /etc/hosts and /etc/hostname; default `buildkitsandbox`, the name BuildKit gives its RUN
   * sandboxes, so that a step that records its hostname builds what docker build makes. `strata run` passes
   * the container's own.
   */
  readonly hostname?: string;
  /**
   * Provide /etc/hostname (default true, as `docker run` does). BuildKit's RUN does not: pass false for exact
   * build parity, so that a RUN writing /etc/hostname changes the layer as it does under docker build.
   */
  readonly etcHostname?: boolean;
  /** /etc/resolv.conf content; default: the host's. */
  readonly resolvConf?: string;
  /** Extra `/etc/hosts` lines after localhost's. */
  readonly extraHosts?: readonly string[];
  readonly onOutput?: (line: string, stream: OutputStream) => void;
  readonly signal?: AbortSignal;
  /** Force a mode (tests, or a caller that knows overlay is refused); default 'auto': overlay, else copy. */
  readonly mode?: 'auto' | 'overlay' | 'copy';
}

/** How container ids map to host ids, for a caller that reads `upperDir` from the host. */
export interface IdMapEntry {
  readonly inside: number;
  readonly outside: number;
  readonly count: number;
}

export interface RunIsolatedResult {
  /** The command's exit code; 128 + signal number when a signal ended it. */
  readonly exitCode: number;
  readonly mode: 'overlay' | 'copy';
  /** Identity when the caller is root. In a user namespace, files the command owns as root belong on the host
   * to the calling user, and ids 1..n to its subordinate range. */
  readonly uidMap: readonly IdMapEntry[];
  readonly gidMap: readonly IdMapEntry[];
}

interface MountTarget {
  readonly path: string;
  readonly type: 'dir' | 'file';
}

/** The mount points a step needs in its rootfs; /etc/hostname only when it is provided. */
function mountTargetsFor(etcFiles: readonly string[]): MountTarget[] {
  return [
    {path: 'proc', type: 'dir'},
    {path: 'dev', type: 'dir'},
    {path: 'sys', type: 'dir'},
    ...etcFiles.map(name => ({path: `etc/${name}`, type: 'file' as const})),
  ];
}

/** Remembered per process: once the kernel refused an overlay mount, do not ask again. */
let overlayRefused = false;

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function hasType(stats: Stats | undefined, type: 'dir' | 'file'): boolean {
  return stats !== undefined && (type === 'dir' ? stats.isDirectory() : stats.isFile());
}

async function copyMetadata(path: string, from: Stats): Promise<void> {
  // Owner before mode: chown may clear setgid.
  await chown(path, from.uid, from.gid).catch(error => {
    if (errnoCode(error) !== 'EPERM' && errnoCode(error) !== 'EINVAL') throw error;
  });
  await chmod(path, from.mode & 0o7777);
}

/**
 * The stub layer: mount points the image lacks (or holds with another type, such as a resolv.conf symlink that
 * would lead a bind mount outside), with parent folders that copy the image's metadata.
 * Returns whether the /etc files and /sys can be mounted.
 */
async function buildStubLayer(lowers: readonly string[], stubDir: string, mountTargets: readonly MountTarget[]): Promise<{etc: boolean; sys: boolean}> {
  const [etc, existing] = await Promise.all([
    lookupInStack(lowers, 'etc'),
    Promise.all(mountTargets.map(target => lookupInStack(lowers, target.path))),
    mkdir(stubDir, {recursive: true}),
  ]);
  const etcUsable = !etc || etc.stats.isDirectory();
  const timesToSet: Array<[string, Stats]> = [];
  for (const [index, target] of mountTargets.entries()) {
    if (target.path.startsWith('etc/') && !etcUsable) continue;
    if (hasType(existing[index]?.stats, target.type)) continue;
    if (target.path.startsWith('etc/')) {
      const stubEtc = join(stubDir, 'etc');
      if (!(await lstat(stubEtc).catch(() => null))) {
        await mkdir(stubEtc);
        if (etc) {
          await copyMetadata(stubEtc, etc.stats);
          timesToSet.push([stubEtc, etc.stats]);
        } else {
          await chmod(stubEtc, 0o755);
        }
      }
      await writeFile(join(stubDir, target.path), '', {mode: 0o644});
    } else {
      await mkdir(join(stubDir, target.path), {mode: 0o755});
    }
  }
  for (const [path, stats] of timesToSet) await utimes(path, stats.atime, stats.mtime);
  return {etc: etcUsable, sys: true};
}

interface CreatedStub {
  readonly path: string;
  readonly type: 'dir' | 'file';
}

/** Copy mode: create the missing mount points in the rootfs itself, to be removed by `removeRootfsStubs`. */
async function createRootfsStubs(rootfs: string, mountTargets: readonly MountTarget[]): Promise<{created: CreatedStub[]; parents: Array<[string, Stats]>; etc: boolean; sys: boolean}> {
  const created: CreatedStub[] = [];
  const parents = new Map<string, Stats>();
  const rootStats = await lstat(rootfs);
  parents.set(rootfs, rootStats);
  let etc = await lstat(join(rootfs, 'etc')).catch(() => null);
  if (!etc) {
    await mkdir(join(rootfs, 'etc'), {mode: 0o755});
    created.push({path: join(rootfs, 'etc'), type: 'dir'});
    etc = await lstat(join(rootfs, 'etc'));
  } else if (etc.isDirectory()) {
    parents.set(join(rootfs, 'etc'), etc);
  }
  const etcUsable = etc.isDirectory();
  let sys = true;
  for (const target of mountTargets) {
    if (target.path.startsWith('etc/') && !etcUsable) continue;
    const path = join(rootfs, target.path);
    const existing = await lstat(path).catch(() => undefined);
    if (hasType(existing, target.type)) continue;
    if (existing) {
      // Another type (a symlink, say): a mount there could follow it out of the rootfs, so skip this one.
      if (target.path.startsWith('etc/')) return {created, parents: [...parents], etc: false, sys};
      if (target.path === 'sys') {
        sys = false;
        continue;
      }
      throw new RuntimeSetupError(`prepare rootfs: /${target.path} is not a directory`);
    }
    if (target.type === 'dir') await mkdir(path, {mode: 0o755});
    else await writeFile(path, '', {mode: 0o644});
    created.push({path, type: target.type});
  }
  return {created, parents: [...parents], etc: etcUsable, sys};
}

async function removeRootfsStubs(created: readonly CreatedStub[], parents: ReadonlyArray<[string, Stats]>): Promise<void> {
  for (const stub of [...created].reverse()) {
    const stats = await lstat(stub.path).catch(() => null);
    if (!stats) continue;
    if (stub.type === 'dir' && stats.isDirectory()) {
      // Only an untouched mount point goes; a folder the command filled stays, as it would in docker.
      if ((await readdir(stub.path)).length === 0) await rmdir(stub.path);
    } else if (stub.type === 'file' && stats.isFile() && stats.size === 0) {
      await unlink(stub.path);
    }
  }
  for (const [path, stats] of parents) await utimes(path, stats.atime, stats.mtime).catch(() => {});
}

/** fstab fields escape space, tab, newline and backslash as octal. */
function fstabField(value: string): string {
  return value.replace(/[\\ \t\n]/g, char => `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

const deviceNodes = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/**
 * The step's /dev, prepared on the host (no process needed): empty files as bind targets for the host's
 * device nodes, folders for devpts and shm, and the usual symlinks. Bound over the rootfs's /dev, so what the
 * command writes there lands in the scratch folder, never in the layer.
 */
async function prepareDev(devDir: string): Promise<void> {
  await mkdir(devDir, {mode: 0o755});
  await Promise.all([
    ...deviceNodes.map(name => writeFile(join(devDir, name), '', {mode: 0o666})),
    mkdir(join(devDir, 'pts')),
    mkdir(join(devDir, 'shm')),
    mkdir(join(devDir, 'mqueue')),
    symlink('pts/ptmx', join(devDir, 'ptmx')),
    symlink('/proc/self/fd', join(devDir, 'fd')),
    symlink('/proc/self/fd/0', join(devDir, 'stdin')),
    symlink('/proc/self/fd/1', join(devDir, 'stdout')),
    symlink('/proc/self/fd/2', join(devDir, 'stderr')),
  ]);
}

/**
 * Everything the step mounts, in order, as one fstab for `mount -a`: the overlay rootfs first (unless in copy
 * mode; its lower folders are names relative to the layers folder the script mounts from), then what goes
 * inside it.
 */
function fstabFor(
  rootDir: string,
  devDir: string,
  filesDir: string,
  mounts: {etc: boolean; sys: boolean; etcFiles: readonly string[]; overlay?: string},
): string {
  const lines: Array<[string, string, string, string]> = [
    ...(mounts.overlay === undefined ? [] : [['overlay', rootDir, 'overlay', mounts.overlay] as [string, string, string, string]]),
    ['proc', join(rootDir, 'proc'), 'proc', 'nosuid,nodev,noexec'],
    [devDir, join(rootDir, 'dev'), 'none', 'bind'],
    ...deviceNodes.map(name => [`/dev/${name}`, join(rootDir, 'dev', name), 'none', 'bind'] as [string, string, string, string]),
    ['devpts', join(rootDir, 'dev/pts'), 'devpts', 'newinstance,ptmxmode=0666,mode=0620'],
    ['shm', join(rootDir, 'dev/shm'), 'tmpfs', 'nosuid,nodev,noexec,mode=1777,size=65536k'],
    ['mqueue', join(rootDir, 'dev/mqueue'), 'mqueue', 'nosuid,nodev,noexec'],
  ];
  if (mounts.sys) lines.push(['sysfs', join(rootDir, 'sys'), 'sysfs', 'ro,nosuid,nodev,noexec']);
  if (mounts.etc) {
    for (const name of mounts.etcFiles) lines.push([join(filesDir, name), join(rootDir, 'etc', name), 'none', 'bind']);
  }
  return lines.map(fields => `${fields.map(fstabField).join(' ')} 0 0\n`).join('');
}

function hostsFile(hostname: string, extra: readonly string[] = []): string {
  return [`127.0.0.1\tlocalhost ${hostname}`, '::1\tlocalhost ip6-localhost ip6-loopback', ...extra, ''].join('\n');
}

async function hostResolvConf(): Promise<string> {
  try {
    return await readFile('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

function idMaps(isRoot: boolean, plan: UserNamespacePlan | null): {uidMap: IdMapEntry[]; gidMap: IdMapEntry[]} {
  if (isRoot || !plan) {
    const identity = [{inside: 0, outside: 0, count: 4294967295}];
    return {uidMap: identity, gidMap: identity};
  }
  const uidMap: IdMapEntry[] = [{inside: 0, outside: process.getuid!(), count: 1}];
  const gidMap: IdMapEntry[] = [{inside: 0, outside: process.getgid!(), count: 1}];
  if (plan.subordinateCount > 0 && plan.uidRange && plan.gidRange) {
    uidMap.push({inside: 1, outside: plan.uidRange.start, count: plan.subordinateCount});
    gidMap.push({inside: 1, outside: plan.gidRange.start, count: plan.subordinateCount});
  }
  return {uidMap, gidMap};
}

function checkIdsMappable(user: ResolvedUser, spec: string | undefined, plan: UserNamespacePlan): void {
  const highest = Math.max(user.uid, user.gid, ...user.groups);
  if (highest === 0) return;
  if (highest <= plan.subordinateCount) return;
  const why = plan.subordinateCount === 0
    ? 'the user namespace maps only root: no subordinate ids for this user (or no newuidmap/newgidmap)'
    : `the user namespace maps ids up to ${plan.subordinateCount}`;
  throw new IdMappingError(`run as user ${spec ?? ''} (uid ${user.uid}, gid ${user.gid}): ${why}`, {
    hint: 'add ranges to /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 <user>) and install uidmap, or run as root',
  });
}

/**
 * The command line of the final exec: a clean environment, then groups, then chroot + cwd + uid. As root with
 * no supplementary groups to set, unshare sets the group itself (setgid after dropping every supplementary
 * group, as setpriv's --clear-groups does): one process fewer on the path of every RUN.
 */
function commandLine(
  tools: HostTools,
  options: RunIsolatedOptions,
  user: ResolvedUser,
  rootDir: string,
  cwd: string,
  ids: {canSetGroups: boolean; isRoot: boolean},
): string[] {
  const env = options.env.filter(entry => entry.indexOf('=') > 0);
  const line = [tools.env, '-i', ...env];
  const byUnshare = ids.isRoot && user.groups.length === 0;
  if (ids.canSetGroups && !byUnshare) {
    line.push(tools.setpriv, '--regid', String(user.gid));
    if (user.groups.length > 0) line.push('--groups', user.groups.join(','));
    else line.push('--clear-groups');
    line.push('--');
  }
  line.push(tools.unshare, `--root=${rootDir}`, `--wd=${cwd}`);
  if (byUnshare) line.push(`--setgid=${user.gid}`);
  if (user.uid !== 0) line.push(`--setuid=${user.uid}`);
  line.push('--', ...options.argv);
  return line;
}

function lineSplitter(stream: OutputStream, emit: (line: string, stream: OutputStream) => void) {
  let pending = '';
  return {
    push(chunk: string) {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        emit(pending.slice(0, newline), stream);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    },
    end() {
      if (pending !== '') emit(pending, stream);
      pending = '';
    },
  };
}

function signalNumber(name: NodeJS.Signals | null): number {
  if (!name) return 0;
  const numbers: Record<string, number> = {SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15};
  return numbers[name] ?? 0;
}

/**
 * Kill the PID 1 of the command's namespaces, which takes every process in them along (the kernel kills a PID
 * namespace whose init dies), then the helper. Synchronous, so that it also works from an 'exit' handler.
 */
function killTree(pid: number): void {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    // the helper is already gone
  }
  for (const target of [...children.map(Number), pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Steps still running, killed if this process exits while they run (an uncaught error, process.exit): the
 * step's PID 1 may have changed credentials, which clears the parent-death signal `--kill-child` set, so the
 * kernel would not end it for us. A caller that wants Ctrl-C to stop steps turns SIGINT into an abort.
 */
const liveHelpers = new Set<number>();
let exitHookInstalled = false;

function trackHelper(pid: number): void {
  liveHelpers.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const helper of liveHelpers) killTree(helper);
  });
}

interface Attempt {
  readonly outcome: 'ran' | 'overlay-refused' | 'setup-failed';
  readonly exitCode: number;
  readonly stderr: string;
}

const unavailableHint =
  'RUN needs user, mount and PID namespaces: run as root, or enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)';

function classifySetupFailure(options: RunIsolatedOptions, stderr: string, setupLog: string): Error {
  const text = `${stderr}\n${setupLog}`.trim();
  const firstLine = text.split('\n').find(line => line.trim() !== '') ?? 'no output';
  const what = `run ${options.argv[0] ?? ''}`.trim();
  if (/unshare failed|uid_map|gid_map|newuidmap|newgidmap|setgroups/i.test(stderr)) {
    return new RuntimeUnavailableError(`${what}: cannot create Linux namespaces: ${firstLine}`, {hint: unavailableHint});
  }
  return new RuntimeSetupError(`${what}: set up the container: ${text || 'the helper exited without saying why'}`);
}

async function attempt(
  tools: HostTools,
  options: RunIsolatedOptions,
  unshareArgs: readonly string[],
  scriptEnv: Record<string, string>,
  command: readonly string[],
  filesDir: string,
): Promise<Attempt> {
  let status = '';
  let ready = false;
  const held: Array<[string, OutputStream]> = [];
  const stderrText: string[] = [];
  // util-linux 2.38's unshare cannot re-raise SIGKILL when its child dies of it: it says this and exits 1.
  let killedBySigkill = false;
  const emit = (line: string, stream: OutputStream) => {
    if (ready && stream === 'stderr' && /^unshare: sigprocmask unblock failed/.test(line)) {
      killedBySigkill = true;
      return;
    }
    if (!ready) {
      held.push([line, stream]);
      return;
    }
    options.onOutput?.(line, stream);
  };
  const out = lineSplitter('stdout', emit);
  const err = lineSplitter('stderr', emit);
  const onData = (fd: 1 | 2 | 3, chunk: string) => {
    if (fd === 1) return out.push(chunk);
    if (fd === 2) {
      if (!ready) stderrText.push(chunk);
      return err.push(chunk);
    }
    status += chunk;
    if (!ready && status.includes('ready\n')) {
      ready = true;
      for (const [line, stream] of held.splice(0)) options.onOutput?.(line, stream);
    }
  };

  const args = [...unshareArgs, '--', tools.sh, '-c', setupScript, 'strata-run', ...command];
  const started = launch(tools.unshare, args, scriptEnv, onData) ?? spawnHere(tools.unshare, args, scriptEnv, onData);
  // The pid is only signalled while the step has not exited: once it has, the number may be another process's.
  let exited = false;
  const kill = (known: number | undefined) => {
    if (known !== undefined && !exited) killTree(known);
  };
  const onAbort = () => void started.pid.then(kill);
  options.signal?.addEventListener('abort', onAbort, {once: true});
  // Aborted while the step was being prepared: no abort event is coming any more.
  if (options.signal?.aborted) onAbort();
  void started.pid.then(known => {
    if (known !== undefined && !exited) trackHelper(known);
  });
  const [code, signal] = await started.exited
    .catch(async (error: unknown) => {
      // The launcher went away mid-step: what it started must not outlive the step.
      kill(await started.pid);
      throw error;
    })
    .finally(async () => {
      exited = true;
      options.signal?.removeEventListener('abort', onAbort);
      const known = await started.pid;
      if (known !== undefined) liveHelpers.delete(known);
    });

  if (options.signal?.aborted) throw options.signal.reason ?? new DOMException('run aborted', 'AbortError');
  out.end();
  err.end();
  if (status.includes('overlay-refused')) return {outcome: 'overlay-refused', exitCode: code ?? 1, stderr: stderrText.join('')};
  if (!ready) {
    const setupLog = await readFile(join(filesDir, 'setup.log'), 'utf8').catch(() => '');
    throw classifySetupFailure(options, stderrText.join(''), setupLog);
  }
  const exitCode = killedBySigkill && code === 1 ? 128 + 9 : (code ?? 128 + signalNumber(signal));
  return {outcome: 'ran', exitCode, stderr: ''};
}

/** `launch`'s shape for a process started from this one (no launcher running). */
function spawnHere(file: string, args: readonly string[], env: Record<string, string>, onData: (fd: 1 | 2 | 3, text: string) => void): Launched {
  const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env});
  for (const fd of [1, 2, 3] as const) {
    const stream = child.stdio[fd] as NodeJS.ReadableStream;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => onData(fd, chunk));
  }
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
  });
  return {pid: Promise.resolve(child.pid), exited};
}

/** Remove the scratch folder, including overlayfs' work/work, which the kernel leaves with mode 000. */
async function removeWorkDir(workDir: string): Promise<void> {
  await chmod(join(workDir, 'ovl', 'work'), 0o700).catch(() => {});
  await rm(workDir, {recursive: true, force: true});
}

export async function runIsolated(options: RunIsolatedOptions): Promise<RunIsolatedResult> {
  if (process.platform !== 'linux') {
    throw new RuntimeUnavailableError(`run ${options.argv[0] ?? ''}: containers need Linux namespaces, and this is ${process.platform}`);
  }
  const tools = hostTools();
  if (!tools) {
    throw new RuntimeUnavailableError('run: unshare, setpriv or env not found', {hint: 'install util-linux and coreutils'});
  }
  if (options.argv.length === 0) throw new RuntimeSetupError('run: empty command');
  options.signal?.throwIfAborted();
  // Asked once per process: a system without namespaces fails here, before anything is written.
  const probe = await probeRuntime();
  if (!probe.available) {
    throw new RuntimeUnavailableError(`run ${options.argv[0]}: ${probe.reason.replace(/^cannot create namespaces/, 'cannot create Linux namespaces')}`, {hint: unavailableHint});
  }

  const isRoot = process.getuid!() === 0;
  const plan = isRoot ? null : userNamespacePlan();
  const user = await resolveUser(options.lowerDirs, options.user);
  if (plan) checkIdsMappable(user, options.user, plan);
  const canSetGroups = isRoot || (plan !== null && plan.subordinateCount > 0);

  const hostname = options.hostname ?? 'buildkitsandbox';
  const workDir = options.workDir;
  const filesDir = join(workDir, 'files');
  const rootDir = join(workDir, 'root');
  const layersDir = join(workDir, 'layers');
  const ovlWork = join(workDir, 'ovl');
  const devDir = join(workDir, 'dev');
  // sysfs belongs to the network namespace: a user namespace may mount it only over a network of its own.
  const sysAllowed = isRoot || options.network === 'none';
  const etcFiles = options.etcHostname === false ? ['hosts', 'resolv.conf'] : ['hosts', 'resolv.conf', 'hostname'];
  const mountTargets = mountTargetsFor(etcFiles);
  const unshareArgs = [
    ...(isRoot ? [] : ['--user', '--map-root-user', ...(plan!.subordinateCount > 0 ? ['--map-auto'] : [])]),
    '--mount',
    '--propagation=private',
    '--pid',
    '--fork',
    '--kill-child',
    '--uts',
    '--ipc',
    ...(options.network === 'none' ? ['--net'] : []),
  ];
  const baseEnv = {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    STRATA_FILES: filesDir,
    STRATA_HOSTNAME: hostname,
    STRATA_LAYERS: layersDir,
    // sethostname(2) as root is a write to /proc (a shell builtin); a user namespace needs hostname(1).
    STRATA_SETHOSTNAME: isRoot ? 'proc' : 'command',
  };
  const maps = idMaps(isRoot, plan);

  await mkdir(workDir, {recursive: true});
  try {
    await Promise.all([mkdir(filesDir), mkdir(rootDir), mkdir(layersDir), mkdir(ovlWork), mkdir(options.upperDir, {recursive: true})]);
    // Each step pays for this preparation: the independent parts run together.
    const prepareFiles = Promise.all([
      writeFile(join(filesDir, 'hosts'), hostsFile(hostname, options.extraHosts)),
      writeFile(join(filesDir, 'hostname'), `${hostname}\n`),
      prepareDev(devDir),
      (options.resolvConf !== undefined ? Promise.resolve(options.resolvConf) : hostResolvConf()).then(text =>
        writeFile(join(filesDir, 'resolv.conf'), text),
      ),
    ]);
    let mode: 'overlay' | 'copy' = options.mode === 'copy' || (options.mode !== 'overlay' && overlayRefused) ? 'copy' : 'overlay';
    if (mode === 'overlay') {
      // Short relative names keep the mount options far below the kernel's one-page limit, however many layers.
      const stubDir = join(layersDir, 's');
      const stack = [...options.lowerDirs, stubDir];
      const [{etc, sys}, cwd] = await Promise.all([
        buildStubLayer(options.lowerDirs, stubDir, mountTargets),
        resolveInStack(options.lowerDirs, options.cwd || '/'),
        Promise.all(options.lowerDirs.map((dir, index) => symlink(dir, join(layersDir, String(index))))),
        prepareFiles,
      ]);
      const lower = ['s', ...options.lowerDirs.map((_, index) => String(index)).reverse()].join(':');
      const cwdExists = (await lookupInStack(stack, cwd))?.stats.isDirectory() ?? false;
      const overlay = `lowerdir=${lower},upperdir=${options.upperDir},workdir=${ovlWork}${isRoot ? ',index=off,metacopy=off,redirect_dir=off' : ',userxattr,index=off,metacopy=off'}`;
      await writeFile(join(filesDir, 'fstab'), fstabFor(rootDir, devDir, filesDir, {etc, sys: sys && sysAllowed, etcFiles, overlay}));
      const command = commandLine(tools, options, user, rootDir, cwd, {canSetGroups, isRoot});
      const result = await attempt(tools, options, unshareArgs, {
        ...baseEnv,
        STRATA_MODE: 'overlay',
        STRATA_ROOT: rootDir,
        STRATA_MKDIR: cwdExists ? '' : cwd,
      }, command, filesDir);
      if (result.outcome === 'ran') return {exitCode: result.exitCode, mode, ...maps};
      if (options.mode === 'overlay') {
        const log = await readFile(join(filesDir, 'setup.log'), 'utf8').catch(() => '');
        throw new RuntimeSetupError(`run ${options.argv[0]}: mount overlayfs: ${log.trim() || 'refused'}`);
      }
      overlayRefused = true;
      mode = 'copy';
      await rm(options.upperDir, {recursive: true, force: true});
      await mkdir(options.upperDir, {recursive: true});
    }

    // Copy mode: the rootfs is upperDir itself, holding a merged copy of the lower stack.
    await prepareFiles;
    const rootfs = options.upperDir;
    await mergeStackKeepingOwners(options.lowerDirs, rootfs);
    const stubs = await createRootfsStubs(rootfs, mountTargets);
    try {
      const cwd = await resolveInStack([rootfs], options.cwd || '/');
      const cwdExists = (await lstat(join(rootfs, cwd)).catch(() => null))?.isDirectory() ?? false;
      await writeFile(join(filesDir, 'fstab'), fstabFor(rootfs, devDir, filesDir, {etc: stubs.etc, sys: stubs.sys && sysAllowed, etcFiles}));
      const command = commandLine(tools, options, user, rootfs, cwd, {canSetGroups, isRoot});
      const result = await attempt(tools, options, unshareArgs, {
        ...baseEnv,
        STRATA_MODE: 'copy',
        STRATA_ROOT: rootfs,
        STRATA_MKDIR: cwdExists ? '' : cwd,
      }, command, filesDir);
      return {exitCode: result.exitCode, mode: 'copy', ...maps};
    } finally {
      await removeRootfsStubs(stubs.created, stubs.parents);
    }
  } finally {
    await removeWorkDir(workDir);
  }
}
