/**
 * Step processes started by a small helper process, for a process that runs many steps and holds a lot of
 * memory (watch mode).
 *
 * Node starts a child with fork() and exec(): the fork copies the page tables of the whole process, so its cost
 * grows with the memory mapped (about 8 ms for the 170 MB of a watching process on this kind of machine), and it
 * blocks the event loop, every RUN of every rebuild. The helper is a bare Node process started once, whose fork
 * costs a millisecond and blocks nothing here: it starts the step's process, passes its three output streams on
 * as text, and its exit.
 *
 * Contract:
 * - `startLauncher` boots the helper (idempotent). It never keeps this process alive while no step runs, and it
 *   kills what it started and exits when this process goes away.
 * - `launch` answers undefined until the helper is up (or once it is gone): the caller starts the process
 *   itself. Otherwise the process is started with stdin ignored and stdout, stderr and fd 3 as pipes; `onData`
 *   gets each stream's text in order (decoded as UTF-8 by the helper, so characters are never split), and
 *   `exited` resolves once the process has exited and its streams have ended, as a child's 'close' does.
 *   `pid` resolves once it runs (undefined if it could not start; `exited` then rejects with the reason).
 * - If the helper dies, the processes it started are killed and their `exited` rejects.
 */
import {spawn, type ChildProcess} from 'node:child_process';

/** What the helper runs: plain JavaScript, no loader. */
const helperSource = `
const {spawn} = require('node:child_process');
const {readFileSync} = require('node:fs');
const running = new Map();
function killTree(pid) {
  let children = [];
  try { children = readFileSync('/proc/' + pid + '/task/' + pid + '/children', 'utf8').trim().split(/\\s+/).filter(Boolean); } catch {}
  for (const target of [...children.map(Number), pid]) try { process.kill(target, 'SIGKILL'); } catch {}
}
process.on('message', message => {
  const id = message.id;
  let child;
  try {
    child = spawn(message.file, message.args, {stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: message.env});
  } catch (error) {
    process.send({id, error: error.message, code: null, signal: null});
    return;
  }
  let failed;
  let done = false;
  const finish = (code, signal) => {
    if (done) return;
    done = true;
    running.delete(id);
    process.send({id, error: failed, code, signal});
  };
  child.once('error', error => {
    failed = error.message;
    // One that never started has no 'close' to wait for.
    if (child.pid === undefined) finish(null, null);
  });
  if (child.pid !== undefined) {
    running.set(id, child.pid);
    process.send({id, pid: child.pid});
  }
  for (const fd of [1, 2, 3]) {
    const stream = child.stdio[fd];
    stream.setEncoding('utf8');
    stream.on('data', data => process.send({id, fd, data}));
  }
  child.once('close', finish);
});
process.on('disconnect', () => {
  for (const pid of running.values()) killTree(pid);
  process.exit(0);
});
`;

interface Reply {
  readonly id: number;
  readonly pid?: number;
  readonly fd?: 1 | 2 | 3;
  readonly data?: string;
  readonly error?: string;
  readonly code?: number | null;
  readonly signal?: NodeJS.Signals | null;
}

interface Waiting {
  pid(pid: number | undefined): void;
  data(fd: 1 | 2 | 3, text: string): void;
  exit(reply: Reply): void;
  fail(error: Error): void;
}

let helper: ChildProcess | undefined;
let up = false;
let nextId = 0;
const waiting = new Map<number, Waiting>();

/** Boot the helper (idempotent); resolves true once it is up, false when it cannot start. */
export function startLauncher(): Promise<boolean> {
  if (helper) return Promise.resolve(up);
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['-e', helperSource], {stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: {PATH: process.env.PATH ?? ''}});
  } catch {
    return Promise.resolve(false);
  }
  helper = child;
  idle(child);
  const gone = () => {
    if (helper === child) {
      helper = undefined;
      up = false;
    }
    for (const [id, entry] of waiting) {
      waiting.delete(id);
      entry.fail(new Error('the step launcher stopped'));
    }
  };
  child.on('message', (reply: Reply) => {
    const entry = waiting.get(reply.id);
    if (!entry) return;
    if (reply.pid !== undefined) entry.pid(reply.pid);
    else if (reply.fd !== undefined) entry.data(reply.fd, reply.data ?? '');
    else {
      waiting.delete(reply.id);
      if (waiting.size === 0) idle(child);
      entry.exit(reply);
    }
  });
  // Every error, not only the first: a send to a helper that just died reports one too.
  child.on('error', gone);
  child.once('exit', gone);
  return new Promise(resolve => {
    child.once('spawn', () => resolve((up = true)));
    child.once('error', () => resolve(false));
  });
}

/** No step running: the helper does not keep this process alive. */
function idle(child: ChildProcess): void {
  child.unref();
  child.channel?.unref();
}

export interface Launched {
  readonly pid: Promise<number | undefined>;
  readonly exited: Promise<[code: number | null, signal: NodeJS.Signals | null]>;
}

/** Start `file` with `args` and exactly `env` through the helper; undefined when it is not up. */
export function launch(file: string, args: readonly string[], env: Record<string, string>, onData: (fd: 1 | 2 | 3, text: string) => void): Launched | undefined {
  const child = helper;
  if (!child || !up || !child.connected) return undefined;
  const id = nextId++;
  let settlePid!: (pid: number | undefined) => void;
  const pid = new Promise<number | undefined>(resolve => (settlePid = resolve));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    waiting.set(id, {
      pid: settlePid,
      data: onData,
      exit: reply => {
        settlePid(undefined);
        if (reply.error !== undefined) reject(new Error(reply.error));
        else resolve([reply.code ?? null, reply.signal ?? null]);
      },
      fail: error => {
        settlePid(undefined);
        reject(error);
      },
    });
  });
  // Alive while a step runs: its exit, or the helper's, must still be heard.
  child.ref();
  child.channel?.ref();
  child.send({id, file, args, env}, error => {
    if (!error) return;
    // Not delivered (the helper is going away): this step fails; `gone` takes care of the others.
    const entry = waiting.get(id);
    waiting.delete(id);
    entry?.fail(new Error(`the step launcher stopped: ${error.message}`));
  });
  return {pid, exited};
}
