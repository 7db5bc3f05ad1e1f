import {spawn} from 'node:child_process';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {Readable} from 'node:stream';
import {runCli} from '../../source/commands/index.js';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `strata ARGS` in this process against `root`, capturing what it prints. */
export async function strata(root: string, args: readonly string[], options: {stdin?: string | Buffer; now?: Date} = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--root', root, ...args], {
    stdout: {write: (text: string) => (stdout += text)},
    stderr: {write: (text: string) => (stderr += text)},
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    env: {HOME: tmpdir()},
    now: options.now ? () => options.now! : undefined,
  });
  return {code, stdout, stderr};
}

/** Runs the real `strata` entry point in a child process (for kill tests and end-to-end checks). */
export function spawnStrata(args: readonly string[], options: {env?: NodeJS.ProcessEnv} = {}) {
  return spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'source', 'cli.ts'), ...args], {
    cwd: repoRoot,
    env: {...process.env, ...options.env},
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export async function tempRoot(prefix = 'strata-cli-'): Promise<{root: string; base: string; cleanup(): Promise<void>}> {
  const base = await mkdtemp(join(tmpdir(), prefix));
  return {base, root: join(base, 'store'), cleanup: () => rm(base, {recursive: true, force: true})};
}
