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
 * Writing the megabytes is the larger part of that work: every page of a new file is memory the kernel must
 * find (on a virtual machine that hands freed memory back to its host, memory the host must fault in again),
 * then data the disk must take at the fsync. So a layer file is written, where it can be, over a spare: a copy
 * of an earlier layer of the same line (the layers spliced one from another), made while the process is idle
 * (`makeSpareLayerFiles`, which watch calls after each rebuild). Only the pages whose bytes differ are written,
 * then the file is cut to its length; the unchanged pages stay as they are, in memory and on disk.
 *
 * Contract:
 * - `startLayerFiles` boots the worker (idempotent; watch does, once); it never keeps the process alive.
 *   Until it is online, or where workers cannot start, `openLayerFile` answers undefined and the caller writes
 *   as a stream.
 * - A `LayerFile` creates its target (exclusively: an existing name is an error, nothing is written through
 *   it), appends `copy` ranges of its source and `write` chunks in the order they are given, hashes exactly
 *   those bytes, and on `end` closes the file and answers their SHA-256 and size (making them durable is the
 *   caller's part: the store fsyncs every blob it takes in). A spare, when one is used, is moved to the target
 *   name first (a link, so that an existing target still fails); its bytes never show through: every byte
 *   below the layer's size is compared and written where it differs, and the rest is cut off. A source
 *   shorter than a range fails the file with `ERR_LAYER_REUSE`. Any failure, `abort`, or the worker dying
 *   makes `end` reject; the target is then removed.
 * - `write` resolves once the worker holds less than a few megabytes of this file's chunks, so memory stays
 *   bounded whatever the layer's size.
 * - Spares are files of the caller's choosing folder (the store's tmp/), at most a few at once (the oldest
 *   unused one goes first), each used once; `dropSpareLayerFiles` removes them. A spare that has disappeared
 *   (a gc of old temporary files) only means a fresh file.
 */
import {randomBytes} from 'node:crypto';
import {join} from 'node:path';
import {Worker} from 'node:worker_threads';
import {StrataError} from '../errors.js';

/** What the worker runs: plain JavaScript, so it needs no TypeScript loader whatever runs this module. */
const workerSource = `
const {parentPort} = require('node:worker_threads');
const fs = require('node:fs');
const {createHash} = require('node:crypto');
const CHUNK = 4 << 20;
const PAGE = 4096;
let buffer;
let existing;
const files = new Map();
function failed(file, id, error, code) {
  if (file.error) return;
  file.error = {message: error instanceof Error ? error.message : String(error), code};
  parentPort.postMessage({id, error: file.error});
}
function writeAll(fd, bytes, from, to, position) {
  for (let done = from; done < to; ) done += fs.writeSync(fd, bytes, done, to - done, position + done - from);
}
/** Over a spare: read what the file holds at this place, write only the pages that differ. */
function writeChanged(file, bytes) {
  existing ??= Buffer.allocUnsafe(CHUNK);
  for (let base = 0; base < bytes.length; base += CHUNK) {
    const length = Math.min(CHUNK, bytes.length - base);
    const position = file.size + base;
    let got = 0;
    while (got < length) {
      const read = fs.readSync(file.out, existing, got, length - got, position + got);
      if (read === 0) break;
      got += read;
    }
    // Runs of differing pages, each written at once.
    let from = -1;
    for (let at = 0; at < length; at += PAGE) {
      const end = Math.min(at + PAGE, length);
      const differs = end > got || bytes.compare(existing, at, end, base + at, base + end) !== 0;
      if (differs) {
        if (from < 0) from = at;
      } else if (from >= 0) {
        writeAll(file.out, bytes, base + from, base + at, position + from);
        from = -1;
      }
    }
    if (from >= 0) writeAll(file.out, bytes, base + from, base + length, position + from);
  }
}
function append(file, bytes) {
  file.hash.update(bytes);
  if (file.over) writeChanged(file, bytes);
  else writeAll(file.out, bytes, 0, bytes.length, file.size);
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
    const bytes = buffer.subarray(0, length);
    if (file.copyOfSource && file.size === position) {
      // Over a copy of the source, where the source's bytes stay in place: they are there already.
      file.hash.update(bytes);
      file.size += length;
    } else {
      append(file, bytes);
    }
    position += length;
  }
}
function close(file) {
  for (const fd of [file.out, file.source]) if (fd !== undefined) try { fs.closeSync(fd); } catch {}
}
/** Spares being copied, by path: a file opened over one of them takes it as far as it got. */
const copying = new Map();
/**
 * Copy \`source\` to a new spare at \`path\` a chunk at a time, each made durable at once (so that the fsync of
 * the layer written over it later has only that layer's changes), letting other messages in between: a layer
 * file that wants the spare before it is complete takes it as it is (its bytes are compared all the same).
 */
function copySpare(id, source, path) {
  const job = {path, from: undefined, to: undefined, position: 0, size: 0, taken: false, cancelled: false};
  const end = made => {
    copying.delete(path);
    for (const fd of [job.from, job.to]) if (fd !== undefined) try { fs.closeSync(fd); } catch {}
    if (!made && !job.taken) try { fs.unlinkSync(path); } catch {}
    parentPort.postMessage({id, done: true, made});
  };
  try {
    job.from = fs.openSync(source, 'r');
    job.size = fs.fstatSync(job.from).size;
    job.to = fs.openSync(path, 'wx', 0o644);
  } catch {
    return end(false);
  }
  copying.set(path, job);
  const step = () => {
    if (job.taken) return end(true);
    if (job.cancelled) return end(false);
    try {
      buffer ??= Buffer.allocUnsafe(CHUNK);
      const read = fs.readSync(job.from, buffer, 0, Math.min(CHUNK, job.size - job.position), job.position);
      if (read > 0) {
        writeAll(job.to, buffer, 0, read, job.position);
        job.position += read;
        fs.fdatasyncSync(job.to);
      }
      if (read === 0 || job.position >= job.size) return end(true);
    } catch {
      return end(false);
    }
    setImmediate(step);
  };
  step();
}

/**
 * The target, exclusively: made from the spare (\`over\`) when it is still there, else fresh. A spare that is a
 * complete copy of the source (\`copyOfSource\`, its size checked here) holds the source's bytes where they lie.
 */
function create(file, open) {
  if (open.over) {
    let linked = false;
    try {
      // A link, not a rename: an existing target must fail as it would without a spare.
      fs.linkSync(open.over, open.target);
      linked = true;
    } catch (error) {
      if (error.code === 'EEXIST') throw error;
      // Otherwise the spare is gone, or cannot be used: a fresh file (and no spare left behind).
      try { fs.unlinkSync(open.over); } catch {}
    }
    if (linked) {
      file.created = true;
      // A spare still being copied stops where it is.
      const partial = copying.get(open.over);
      if (partial) partial.taken = true;
      try { fs.unlinkSync(open.over); } catch {}
      file.over = true;
      file.out = fs.openSync(open.target, 'r+');
      // Written now, whatever the spare's age: a gc of old temporary files must not take it.
      const now = new Date();
      fs.futimesSync(file.out, now, now);
      file.copyOfSource = open.copyOfSource === true;
      return;
    }
  }
  file.out = fs.openSync(open.target, 'wx', 0o644);
  file.created = true;
}
parentPort.on('message', message => {
  const id = message.id;
  if (message.spare) {
    copySpare(id, message.spare.source, message.spare.path);
    return;
  }
  if (message.remove) {
    for (const path of message.remove) {
      // A spare still being copied stops there.
      const job = copying.get(path);
      if (job) job.cancelled = true;
      try { fs.unlinkSync(path); } catch {}
    }
    parentPort.postMessage({id, done: true});
    return;
  }
  if (message.open) {
    const file = {
      hash: createHash('sha256'), size: 0, out: undefined, source: undefined, over: false, copyOfSource: false, created: false,
      target: message.open.target, error: undefined,
    };
    files.set(id, file);
    try {
      create(file, message.open);
      if (message.open.source) file.source = fs.openSync(message.open.source, 'r');
      if (file.copyOfSource && fs.fstatSync(file.source).size !== fs.fstatSync(file.out).size) file.copyOfSource = false;
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
      // A posted Buffer arrives as a plain Uint8Array: the same bytes, seen as a Buffer again.
      const bytes = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
      try { append(file, bytes); } catch (error) { failed(file, id, error); }
    }
    parentPort.postMessage({id, acked: message.bytes.length});
    return;
  }
  files.delete(id);
  let digest;
  if (message.end && !file.error) {
    try {
      if (file.over) fs.ftruncateSync(file.out, file.size);
      digest = file.hash.digest('hex');
    } catch (error) {
      failed(file, id, error);
    }
  }
  close(file);
  // Only a file this worker created is removed: a name that existed was never opened.
  if ((message.abort || file.error) && file.created) try { fs.unlinkSync(file.target); } catch {}
  parentPort.postMessage({id, done: true, digest, size: file.size, error: file.error});
});
`;

/** Chunks of one file the worker may hold before `write` waits. */
const MAX_QUEUED_BYTES = 8 << 20;

/** Spares kept at once (one per line of layers), and lines remembered. */
const MAX_SPARES = 4;
const MAX_LINES = 64;

interface Reply {
  readonly id: number;
  readonly acked?: number;
  readonly done?: boolean;
  readonly digest?: string;
  readonly size?: number;
  readonly made?: boolean;
  readonly error?: {message: string; code?: string};
}

let worker: Worker | undefined;
let online = false;
let started: Promise<boolean> | undefined;
let nextId = 0;
/** Files and spare copies in flight, by message id. */
const open = new Map<number, {readonly thread: Worker; receive(reply: Reply): void}>();

/** The line of layers each layer file belongs to (layers spliced one from another), by path. */
const lineOf = new Map<string, number>();
let nextLine = 0;
/** Layers written since the last `makeSpareLayerFiles`: the newest of each line, with the folder for its spare. */
const wanted = new Map<number, {from: string; folder: string}>();
/** A spare per line: a copy of one of its layers (`from`), or being made. */
const spares = new Map<number, {path: string; from: string}>();

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
  started = new Promise(resolve => {
    thread.once('online', () => {
      // Booting, it holds this process (someone may wait for it); online and idle, it never does.
      if (open.size === 0) thread.unref();
      resolve((online = true));
    });
    thread.once('error', () => resolve(false));
    thread.once('exit', () => resolve(false));
  });
  // Unreferenced only after this listener, once online: a worker's first 'message' listener refs it again.
  thread.on('message', (reply: Reply) => open.get(reply.id)?.receive(reply));
  const fail = () => {
    if (worker === thread) {
      worker = undefined;
      online = false;
      started = undefined;
      spares.clear();
    }
    // Only what this thread held: a worker started since (another session) keeps its own.
    for (const file of [...open.values()]) if (file.thread === thread) file.receive({id: -1, done: true, error: {message: 'the layer file worker stopped'}});
  };
  thread.once('error', fail);
  thread.once('exit', fail);
  return started;
}

/** Whether `openLayerFile` can open files now. */
export function layerFilesOnline(): boolean {
  return worker !== undefined && online;
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

/**
 * Create `target` on the worker, with `source` (an immutable file, such as an earlier layer blob) to copy
 * ranges from, over the spare of `source`'s line when there is one; undefined when the worker is not online.
 */
export function openLayerFile(target: string, source?: string): LayerFile | undefined {
  if (!worker || !online) return undefined;
  const line = source === undefined ? undefined : lineOf.get(source);
  const spare = line === undefined ? undefined : spares.get(line);
  if (line !== undefined) spares.delete(line);
  const file = new WorkerLayerFile(worker, nextId++, source);
  open.set(file.id, file);
  worker.ref();
  worker.postMessage({id: file.id, open: {target, source, over: spare?.path, copyOfSource: spare !== undefined && spare.from === source}});
  return file;
}

/**
 * A layer became `blobPath` (a name that never changes), spliced from `source` (undefined: written afresh, the
 * first of a line): it joins `source`'s line, and is the one that line's next spare is copied from, into
 * `folder` (on the file system of the targets). Does nothing while the worker is not online.
 */
export function rememberLayerFile(blobPath: string, source: string | undefined, folder: string): void {
  if (!worker || !online) return;
  let line = source === undefined ? undefined : lineOf.get(source);
  if (line === undefined) line = nextLine++;
  lineOf.set(blobPath, line);
  while (lineOf.size > MAX_LINES) lineOf.delete(lineOf.keys().next().value!);
  wanted.delete(line);
  wanted.set(line, {from: blobPath, folder});
}

/**
 * Copy a spare for each line written to since the last call that has none, the most recent lines first; past a
 * few spares in all, the one kept longest unused goes. For once a rebuild is over: the copies run on the worker
 * a chunk at a time, and a layer file opened meanwhile over one takes it as far as it got. Resolves when they
 * are made.
 */
export async function makeSpareLayerFiles(): Promise<void> {
  const thread = worker;
  if (!thread || !online) return;
  const jobs: Promise<unknown>[] = [];
  const evicted: string[] = [];
  // Only spares made before this call may give way (oldest first): the newest lines, first here, keep theirs.
  const older = [...spares.keys()];
  for (const [line, {from, folder}] of [...wanted].reverse()) {
    wanted.delete(line);
    if (spares.has(line)) continue;
    while (spares.size >= MAX_SPARES && older.length > 0) {
      const oldest = older.shift()!;
      const spare = spares.get(oldest);
      if (!spare || wanted.has(oldest)) continue;
      spares.delete(oldest);
      evicted.push(spare.path);
    }
    if (spares.size >= MAX_SPARES) break;
    const path = join(folder, `spare-${process.pid}-${randomBytes(6).toString('hex')}`);
    const spare = {path, from};
    spares.set(line, spare);
    jobs.push(
      job(thread, {spare: {source: from, path}}).then(reply => {
        if (!reply.made && spares.get(line) === spare) spares.delete(line);
      }),
    );
  }
  wanted.clear();
  if (evicted.length > 0) jobs.push(job(thread, {remove: evicted}));
  await Promise.all(jobs);
}

/** Remove every spare (watch does when it stops); resolves when they are gone. */
export async function dropSpareLayerFiles(): Promise<void> {
  const paths = [...spares.values()].map(spare => spare.path);
  spares.clear();
  wanted.clear();
  const thread = worker;
  if (!thread || paths.length === 0) return;
  await job(thread, {remove: paths});
}

/** Post a job that is not a file (a spare copy, a removal) and wait for its reply. */
function job(thread: Worker, message: object): Promise<Reply> {
  const id = nextId++;
  thread.ref();
  return new Promise(resolve => {
    open.set(id, {
      thread,
      receive: reply => {
        if (!reply.done) return;
        open.delete(id);
        if (open.size === 0) thread.unref();
        resolve(reply);
      },
    });
    thread.postMessage({id, ...message});
  });
}

class WorkerLayerFile implements LayerFile {
  private queued = 0;
  private room?: () => void;
  private error?: Error;
  private ended = false;
  private readonly closed: Promise<Reply>;
  private settle!: (reply: Reply) => void;

  constructor(
    readonly thread: Worker,
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
