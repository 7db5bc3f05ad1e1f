/**
 * The real-Docker harness for peer tests: a private dockerd (its own socket, data root and exec root under a
 * temp folder, no iptables, no bridge), driven with the Debian client at /usr/bin/docker. Builds run with
 * BuildKit (`DOCKER_BUILDKIT=1`) and `--network none`.
 *
 * Facts this harness relies on (Docker 20.10 from Debian, checked by test/runtime/docker-harness.test.ts):
 * - BuildKit builds `FROM base` against an image made by `docker import` without pulling: the image exists in
 *   the daemon's image store, which BuildKit's worker resolves first (`--pull` is off by default).
 * - /usr/local/bin/docker on some machines is a client without an engine; /usr/bin/docker is used explicitly.
 */
import {spawn} from 'node:child_process';
import type {ChildProcess} from 'node:child_process';
import {access, constants, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

export const dockerdPath = '/usr/sbin/dockerd';
export const dockerClientPath = '/usr/bin/docker';

export interface DockerResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface DockerRunOptions {
  /** Bytes for the client's stdin. */
  readonly input?: string | Buffer;
  /** Working directory of the client (build contexts). */
  readonly cwd?: string;
  /** Extra environment for the client. */
  readonly env?: Record<string, string>;
  /** Kill the client after this many ms (default 5 minutes). */
  readonly timeoutMs?: number;
}

export interface DockerDaemon {
  /** Run the docker client against this daemon. Never throws for a non-zero exit: check `code`. */
  docker(args: readonly string[], options?: DockerRunOptions): Promise<DockerResult>;
  /** `docker import` of a rootfs tar as `name` (e.g. `base:latest`). Throws when the import fails. */
  loadBaseIntoDocker(tarPath: string, name: string): Promise<string>;
  /** The unix socket path. */
  readonly socket: string;
  /** The daemon's storage driver (overlay2, or vfs where overlay2 failed). */
  readonly storageDriver: string;
  /** Stop dockerd, unmount what it left under its roots and remove its folders. */
  stop(): Promise<void>;
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(() => true, () => false);
}

function runClient(socket: string, args: readonly string[], options: DockerRunOptions = {}): Promise<DockerResult> {
  return new Promise(resolve => {
    const child = spawn(dockerClientPath, args, {
      cwd: options.cwd,
      env: {
        PATH: '/usr/bin:/bin:/usr/sbin:/sbin',
        HOME: process.env.HOME ?? '/root',
        DOCKER_HOST: `unix://${socket}`,
        DOCKER_BUILDKIT: '1',
        DOCKER_CLI_HINTS: 'false',
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', error => {
      clearTimeout(timer);
      resolve({stdout, stderr: `${stderr}${error.message}`, code: -1});
    });
    child.on('close', code => {
      clearTimeout(timer);
      resolve({stdout, stderr, code: code ?? -1});
    });
    child.stdin.end(options.input ?? '');
  });
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Unmount everything mounted at or below `dir` (deepest first), as dockerd can leave overlay and shm mounts. */
async function unmountBelow(dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const points = mountinfo
    .split('\n')
    .map(line => line.split(' ')[4] ?? '')
    .map(point => point.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter(point => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) {
    await new Promise<void>(resolve => {
      const child = spawn('umount', ['-l', point], {stdio: 'ignore'});
      child.on('error', () => resolve());
      child.on('close', () => resolve());
    });
  }
}

async function startWith(storageDriver: string): Promise<DockerDaemon | {failure: string}> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-dockerd-'));
  const socket = join(dir, 'docker.sock');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  await mkdir(dataRoot);
  await mkdir(execRoot);
  const configFile = join(dir, 'daemon.json');
  await writeFile(configFile, '{}\n');
  const logPath = join(dir, 'dockerd.log');
  let log = '';
  const daemon = spawn(
    dockerdPath,
    [
      `--host=unix://${socket}`,
      `--data-root=${dataRoot}`,
      `--exec-root=${execRoot}`,
      `--pidfile=${join(dir, 'docker.pid')}`,
      `--config-file=${configFile}`,
      `--storage-driver=${storageDriver}`,
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--userland-proxy=false',
      '--log-level=warn',
    ],
    {stdio: ['ignore', 'pipe', 'pipe'], env: {PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root'}},
  );
  daemon.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  daemon.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    daemon.kill('SIGTERM');
    if (!(await waitForExit(daemon, 15_000))) {
      daemon.kill('SIGKILL');
      await waitForExit(daemon, 5_000);
    }
    await writeFile(logPath, log).catch(() => {});
    await unmountBelow(dir);
    await rm(dir, {recursive: true, force: true, maxRetries: 3});
  };

  // Ready when `docker version` reaches the server; give up after 30 s or when dockerd dies.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) break;
    const probe = await runClient(socket, ['version', '--format', '{{.Server.Version}}'], {timeoutMs: 5_000});
    if (probe.code === 0) {
      const info = await runClient(socket, ['info', '--format', '{{.Driver}}'], {timeoutMs: 10_000});
      const driver = info.stdout.trim() || storageDriver;
      return {
        socket,
        storageDriver: driver,
        docker: (args, options) => runClient(socket, args, options),
        async loadBaseIntoDocker(tarPath, name) {
          const result = await runClient(socket, ['import', '--change', 'CMD ["sh"]', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', tarPath, name]);
          if (result.code !== 0) throw new Error(`docker import ${tarPath} ${name}: ${result.stderr.trim()}`);
          return result.stdout.trim();
        },
        stop,
      };
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  const failure = log.trim().split('\n').slice(-5).join('\n') || 'dockerd did not answer within 30 s';
  await stop();
  return {failure};
}

/**
 * Start a private dockerd (overlay2, falling back to vfs). Resolves with a `{skip}` reason instead when
 * dockerd or the client is missing, the caller is not root, or the daemon does not come up.
 */
export async function startDocker(): Promise<DockerDaemon | {skip: string}> {
  if (!(await executable(dockerdPath))) return {skip: `${dockerdPath} not installed (docker.io)`};
  if (!(await executable(dockerClientPath))) return {skip: `${dockerClientPath} not installed (docker.io)`};
  if (process.getuid?.() !== 0) return {skip: 'a private dockerd needs root'};
  const failures: string[] = [];
  for (const driver of ['overlay2', 'vfs']) {
    const started = await startWith(driver);
    if (!('failure' in started)) return started;
    failures.push(`${driver}: ${started.failure}`);
  }
  return {skip: `dockerd did not start: ${failures.join('; ')}`};
}
