/**
 * Layer files written on a worker thread, for a process that writes large layers again and again (watch mode).
 *
 * A spliced layer (see writer.ts) is mostly ranges copied from the step's earlier blob: tens of megabytes read,
 * hashed and written per rebuild. Done as streams on this thread, every 4 MB read and write is a trip through
 * libuv's four-thread pool, so for the length of the copy each small file operation of the build (the next
 * RUN's mounts and stubs, the cache records) waits in line behind them, and this thread does the hashing. The
 * worker does all of it with synchronous calls in a thread of its own: this thread only posts the ranges and
 * the freshly encoded members, in order.
 *
 * Contract:
 * - `startLayerFiles` boots the worker (idempotent; watch does, once); it never keeps the process alive.
 *   Until it is online, or where workers cannot start, `openLayerFile` answers undefined and the caller writes
 *   as a stream.
 * - A `LayerFile` creates its target (exclusively: an existing name is an error, nothing is written through
 *   it), appends `copy` ranges of its source and `write` chunks in the order they are given, hashes exactly
 *   those bytes, and on `end` closes the file and answers their SHA-256 and size (making them durable is the
   caller's part: the store fsyncs every blob it takes in). A source
 *   shorter than a range fails the file with `ERR_LAYER_REUSE`. Any failure, `abort`, or the worker dying makes
 *   `end` reject; the target is then removed.
 * - `write` resolves once the worker holds less than a few megabytes of this file's chunks, so memory stays
 *   bounded whatever the layer's size.
 */
import {Worker} from 'node:worker_threads';
import {StrataError} from '../errors.js';

/** What the worker runs: plain JavaScript, so it needs no TypeScript loader whatever runs this module. */
const workerSource = `
const {parentPort} = require('node:worker_threads');
const fs = require('node:fs');
const {createHash} = require('node:crypto');
const CHUNK = 4 << 20;
let buffer;
const files = new Map();
function failed(file, id, error, code) {
  if (file.error) return;
  file.error = {message: error instanceof Error ? error.message : String(error), code};
  parentPort.postMessage({id, error: file.error});
}
function append(file, bytes) {
  file.hash.update(bytes);
  for (let done = 0; done < bytes.length; ) done += fs.writeSync(file.out, bytes, done, bytes.length - done);
  file.size += bytes.length;
}
function copy(file, id, start, end) {
  buffer ??= Buffer.allocUnsafe(CHUNK);
  for (let position = start; position < end; ) {
    const length = Math.min(CHUNK, end - position);
    let filled = 0;
    while (filled < length) {
      const read = fs.readSync(file.source, buffer, filled, length - filled, position + filled);
      if (read === 0) return failed(file, id, 'shorter than its map', 'ERR_LAYER_REUSE');
      filled += read;
    }
    append(file, buffer.subarray(0, length));
    position += length;
  }
}
function close(file) {
  for (const fd of [file.out, file.source]) if (fd !== undefined) try { fs.closeSync(fd); } catch {}
}
parentPort.on('message', message => {
  const id = message.id;
  if (message.open) {
    const file = {hash: createHash('sha256'), size: 0, out: undefined, source: undefined, target: message.open.target, error: undefined};
    files.set(id, file);
    try {
      file.out = fs.openSync(message.open.target, 'wx', 0o644);
      if (message.open.source) file.source = fs.openSync(message.open.source, 'r');
    } catch (error) {
      failed(file, id, error);
    }
    return;
  }
  const file = files.get(id);
  if (!file) return;
  if (message.copy) {
    if (!file.error) {
      try { copy(file, id, message.copy[0], message.copy[1]); } catch (error) { failed(file, id, error); }
    }
    return;
  }
  if (message.bytes) {
    if (!file.error) {
      try { append(file, message.bytes); } catch (error) { failed(file, id, error); }
    }
    parentPort.postMessage({id, acked: message.bytes.length});
    return;
  }
  files.delete(id);
  const digest = message.end && !file.error ? file.hash.digest('hex') : undefined;
  close(file);
  // Only a file this worker created is removed: a name that existed was never opened.
  if ((message.abort || file.error) && file.out !== undefined) try { fs.unlinkSync(file.target); } catch {}
  parentPort.postMessage({id, done: true, digest, size: file.size, error: file.error});
});
`;

/** Chunks of one file the worker may hold before `write` waits. */
const MAX_QUEUED_BYTES = 8 << 20;

interface Reply {
  readonly id: number;
  readonly acked?: number;
  readonly done?: boolean;
  readonly digest?: string;
  readonly size?: number;
  readonly error?: {message: string; code?: string};
}

let worker: Worker | undefined;
let online = false;
let started: Promise<boolean> | undefined;
let nextId = 0;
const open = new Map<number, WorkerLayerFile>();

/**
 * Boot the worker (idempotent). Resolves true once it is online, false when it cannot run; nobody needs to
 * wait for it.
 */
export function startLayerFiles(): Promise<boolean> {
  if (started && worker) return started;
  let thread: Worker;
  try {
    // No execArgv: the parent's loaders (tsx in tests) are not needed for plain JavaScript, nor booted.
    thread = new Worker(workerSource, {eval: true, execArgv: []});
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
  thread.on('message', (reply: Reply) => open.get(reply.id)?.receive(reply));
  const fail = () => {
    if (worker === thread) {
      worker = undefined;
      online = false;
      started = undefined;
    }
    for (const file of open.values()) file.receive({id: -1, done: true, error: {message: 'the layer file worker stopped'}});
  };
  thread.once('error', fail);
  thread.once('exit', fail);
  return started;
}

/** A layer file being written on the worker (see the module contract). */
export interface LayerFile {
  /** Append bytes [start, end) of the source. */
  copy(start: number, end: number): void;
  /** Append `chunk` (copied: the caller may reuse it at once); resolves when there is room for more. */
  write(chunk: Buffer): Promise<void>;
  /** Close: the hex SHA-256 and size of everything appended. */
  end(): Promise<{digest: string; size: number}>;
  /** Close and remove the target (a no-op after `end`). */
  abort(): Promise<void>;
}

/** Whether `openLayerFile` can open files now. */
export function layerFilesOnline(): boolean {
  return worker !== undefined && online;
}

/**
 * Create `target` on the worker, with `source` (an immutable file, such as an earlier layer blob) to copy
 * ranges from; undefined when the worker is not online.
 */
export function openLayerFile(target: string, source?: string): LayerFile | undefined {
  if (!worker || !online) return undefined;
  const file = new WorkerLayerFile(worker, nextId++, source);
  open.set(file.id, file);
  worker.ref();
  worker.postMessage({id: file.id, open: {target, source}});
  return file;
}

class WorkerLayerFile implements LayerFile {
  private queued = 0;
  private room?: () => void;
  private error?: Error;
  private ended = false;
  private readonly closed: Promise<Reply>;
  private settle!: (reply: Reply) => void;

  constructor(
    private readonly thread: Worker,
    readonly id: number,
    private readonly source: string | undefined,
  ) {
    this.closed = new Promise(resolve => (this.settle = resolve));
  }

  receive(reply: Reply): void {
    if (reply.error && !this.error) {
      this.error = reply.error.code
        ? new StrataError(reply.error.code, `write layer: reuse ${this.source ?? ''}: ${reply.error.message}`)
        : new Error(`write layer: ${reply.error.message}`);
    }
    if (reply.acked !== undefined) this.queued -= reply.acked;
    if (reply.done) {
      open.delete(this.id);
      if (open.size === 0) this.thread.unref();
      this.settle(reply);
    }
    if (this.room && (this.queued < MAX_QUEUED_BYTES || this.error || reply.done)) {
      const wake = this.room;
      this.room = undefined;
      wake();
    }
  }

  copy(start: number, end: number): void {
    if (end > start) this.thread.postMessage({id: this.id, copy: [start, end]});
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.error) throw this.error;
    if (chunk.length === 0) return;
    this.queued += chunk.length;
    this.thread.postMessage({id: this.id, bytes: chunk});
    if (this.queued >= MAX_QUEUED_BYTES) await new Promise<void>(resolve => (this.room = resolve));
    if (this.error) throw this.error;
  }

  async end(): Promise<{digest: string; size: number}> {
    this.ended = true;
    this.thread.postMessage({id: this.id, end: true});
    const reply = await this.closed;
    if (this.error) throw this.error;
    if (!reply.digest) throw new Error('write layer: the layer file worker stopped');
    return {digest: reply.digest, size: reply.size ?? 0};
  }

  async abort(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      this.thread.postMessage({id: this.id, abort: true});
    }
    await this.closed;
  }
}
