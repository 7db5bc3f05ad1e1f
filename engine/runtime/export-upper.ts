/**
 * Reading a step's upper dir as the container saw it.
 *
 * As root this is a plain walk. Without root the upper dir holds files owned by subordinate ids (a file the
 * command made as uid 1000 belongs to, say, host uid 100999), which the calling user can neither read (mode
 * 0600) nor list (mode 0700), and whose owners must be translated back. So the upper dir is exported as a tar
 * stream by the host's GNU tar running inside a user namespace with the same id mapping as the step: it can
 * read everything, and it records owners as the container's ids.
 *
 * The stream is the raw upper dir (POSIX tar, numeric owners, every xattr): overlay whiteouts are still 0/0
 * character devices and opaque folders still carry `trusted.overlay.opaque` (root) or `user.overlay.opaque`
 * (user namespace). Turning that into an OCI layer is engine/layer's job.
 */
import {spawn} from 'node:child_process';
import type {Readable} from 'node:stream';
import {RuntimeSetupError, RuntimeUnavailableError} from './errors.js';
import {findHostTool, hostTools, userNamespacePlan} from './host-tools.js';

export interface UpperExport {
  /** The tar stream; read it to the end. */
  readonly stream: Readable;
  /** Resolves when tar exited cleanly; rejects with its message otherwise. */
  readonly done: Promise<void>;
}

export function exportUpperDir(upperDir: string): UpperExport {
  const tar = findHostTool('tar');
  if (!tar) throw new RuntimeUnavailableError('export upper dir: tar not found', {hint: 'install GNU tar'});
  const tarArgs = ['--format=posix', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', upperDir, '-cf', '-', '.'];
  let command = tar;
  let args = tarArgs;
  if (process.getuid!() !== 0) {
    const tools = hostTools();
    if (!tools) throw new RuntimeUnavailableError('export upper dir: unshare not found', {hint: 'install util-linux'});
    const plan = userNamespacePlan();
    command = tools.unshare;
    args = ['--user', '--map-root-user', ...(plan.subordinateCount > 0 ? ['--map-auto'] : []), '--', tar, ...tarArgs];
  }
  const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']});
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', code => {
      if (code === 0) resolve();
      else reject(new RuntimeSetupError(`export upper dir ${upperDir}: ${stderr.trim() || `tar exited ${code}`}`));
    });
  });
  // A consumer that stops early must not leave tar blocked on a full pipe.
  // (Only then: once the whole stream was read, tar is exiting on its own, and the pipe may close before its
  // exit is seen; a SIGTERM then would fail an export that succeeded.)
  let ended = false;
  child.stdout.once('end', () => (ended = true));
  child.stdout.on('close', () => {
    if (!ended && child.exitCode === null) child.kill('SIGTERM');
  });
  return {stream: child.stdout, done};
}
