/**
 * Whether this system can run isolated commands at all, asked once per process: the builder uses it to fail a
 * RUN early with a clear message, and tests to skip with a printed reason.
 */
import {spawn} from 'node:child_process';
import {hostTools, userNamespacePlan} from './host-tools.js';

export type RuntimeProbe =
  | {readonly available: true; readonly rootless: boolean; readonly subordinateIds: number}
  | {readonly available: false; readonly reason: string};

let cached: Promise<RuntimeProbe> | undefined;

export function probeRuntime(): Promise<RuntimeProbe> {
  cached ??= probe();
  return cached;
}

async function probe(): Promise<RuntimeProbe> {
  if (process.platform !== 'linux') return {available: false, reason: `containers need Linux, this is ${process.platform}`};
  const tools = hostTools();
  if (!tools) return {available: false, reason: 'unshare, setpriv or env not found (install util-linux)'};
  const rootless = process.getuid!() !== 0;
  const plan = rootless ? userNamespacePlan() : null;
  const args = [...(rootless ? ['--user', '--map-root-user'] : []), '--mount', '--pid', '--fork', '--uts', '--ipc', tools.sh, '-c', 'exit 0'];
  const {code, stderr} = await new Promise<{code: number | null; stderr: string}>(resolve => {
    const child = spawn(tools.unshare, args, {stdio: ['ignore', 'ignore', 'pipe']});
    let text = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    child.on('error', error => resolve({code: -1, stderr: error.message}));
    child.on('close', exitCode => resolve({code: exitCode, stderr: text}));
  });
  if (code !== 0) return {available: false, reason: `cannot create namespaces: ${stderr.trim() || `unshare exited ${code}`}`};
  return {available: true, rootless, subordinateIds: plan?.subordinateCount ?? 0};
}
