/**
 * Removing what a step wrote. Without root, an upper dir (or a copy-mode rootfs) holds folders owned by
 * subordinate ids that the calling user cannot list or empty; `rm` then runs inside a user namespace with the
 * step's id mapping, where it may. As root this is a plain recursive remove.
 */
import {spawn} from 'node:child_process';
import {rm} from 'node:fs/promises';
import {RuntimeSetupError} from './errors.js';
import {findHostTool, hostTools, userNamespacePlan} from './host-tools.js';

export async function removeContainerTree(path: string): Promise<void> {
  try {
    await rm(path, {recursive: true, force: true});
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (process.getuid!() === 0 || (code !== 'EACCES' && code !== 'EPERM')) throw error;
  }
  const tools = hostTools();
  const rmTool = findHostTool('rm');
  if (!tools || !rmTool) throw new RuntimeSetupError(`remove ${path}: permission denied and no unshare to retry with`);
  const plan = userNamespacePlan();
  const args = ['--user', '--map-root-user', ...(plan.subordinateCount > 0 ? ['--map-auto'] : []), '--', rmTool, '-rf', '--', path];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(tools.unshare, args, {stdio: ['ignore', 'ignore', 'pipe']});
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', code => (code === 0 ? resolve() : reject(new RuntimeSetupError(`remove ${path}: ${stderr.trim() || `rm exited ${code}`}`))));
  });
}
