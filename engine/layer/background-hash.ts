/**
 * SHA-256 on a worker thread, for a process that writes large layers again and again (watch mode): hashing a
 * 20 MB layer takes this thread about as long as everything else in a rebuilt COPY, and on another core it
 * overlaps with reading, writing and the snapshot clone.
 *
 * The worker is started by `startBackgroundHashing` (watch does, once) and never keeps the process alive;
 * until it is online, or when workers cannot start, `createLayerHash` hashes on this thread. Chunks backed by
 * a SharedArrayBuffer reach the worker without a copy; others are copied. A worker that dies makes `digest`
 * reject, and the caller falls back to writing the layer the ordinary way.
 */
import {createHash, type Hash} from 'node:crypto';
import {Worker} from 'node:worker_threads';

/** What the worker runs: plain JavaScript, so it needs no TypeScript loader whatever runs this module. */
const workerSource = `
const {parentPort} = require('node:worker_threads');
const {createHash} = require('node:crypto');
const hashes = new Map();
parentPort.on('message', message => {
  let hash = hashes.get(message.id);
  if (!hash) hashes.set(message.id, (hash = createHash('sha256')));
  if (message.chunk) hash.update(message.chunk);
  if (message.end) {
    hashes.delete(message.id);
    parentPort.postMessage({id: message.id, digest: hash.digest('hex')});
  }
});
`;

/** The running sum of a layer's bytes: `update` in order, then `digest` once. */
export interface LayerHash {
  update(chunk: Buffer): void;
  /** The hex digest. */
  digest(): Promise<string>;
}

let worker: Worker | undefined;
let online = false;
let started: Promise<boolean> | undefined;
let nextId = 0;
const waiting = new Map<number, (digest: string) => void>();

/**
 * Start the hashing worker (idempotent). Resolves true once it is online, false when it cannot run (hashing
 * then stays on this thread); nobody needs to wait for it.
 */
export function startBackgroundHashing(): Promise<boolean> {
  if (started && worker) return started;
  let thread: Worker;
  try {
    thread = new Worker(workerSource, {eval: true});
  } catch {
    return Promise.resolve(false);
  }
  worker = thread;
  thread.unref();
  started = new Promise(resolve => {
    thread.once('online', () => resolve((online = true)));
    thread.once('error', () => resolve(false));
    thread.once('exit', () => resolve(false));
  });
  thread.on('message', (reply: {id: number; digest: string}) => {
    const resolve = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (waiting.size === 0) worker?.unref();
    resolve?.(reply.digest);
  });
  const fail = () => {
    online = false;
    worker = undefined;
    // Whoever waits gets no digest from a dead worker.
    for (const resolve of waiting.values()) resolve('');
    waiting.clear();
  };
  thread.once('error', fail);
  thread.once('exit', fail);
  return started;
}

class InlineHash implements LayerHash {
  private readonly hash: Hash = createHash('sha256');
  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  digest(): Promise<string> {
    return Promise.resolve(this.hash.digest('hex'));
  }
}

/** Hashes on the worker; if the worker dies before answering, `digest` rejects (the caller writes again). */
class WorkerHash implements LayerHash {
  private readonly id = nextId++;
  constructor(private readonly thread: Worker) {}

  update(chunk: Buffer): void {
    this.thread.postMessage({id: this.id, chunk});
  }

  async digest(): Promise<string> {
    this.thread.ref();
    const digest = await new Promise<string>(resolve => {
      waiting.set(this.id, resolve);
      this.thread.postMessage({id: this.id, end: true});
    });
    if (!digest) throw new Error('hash layer: the hashing worker stopped');
    return digest;
  }
}

/** A hash for a layer: on the worker when it is running, else on this thread. */
export function createLayerHash(): LayerHash {
  return worker && online ? new WorkerHash(worker) : new InlineHash();
}

/** A buffer the worker can read without a copy (for chunks that are hashed in the background). */
export function shareableBuffer(length: number): Buffer {
  return worker && online ? Buffer.from(new SharedArrayBuffer(length)) : Buffer.allocUnsafe(length);
}
