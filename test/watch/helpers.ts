/**
 * A watch-mode bench: a temp store (optionally with the offline base image), a temp context folder, and a real
 * `watchBuild` session over them whose events are collected and can be waited on.
 */
import {mkdir, mkdtemp, rename, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {basename, dirname, join} from 'node:path';
import {Store} from '../../engine/store/index.js';
import {watchBuild, type WatchBuildOptions} from '../../engine/watch/index.js';
import type {WatchEvent} from '../../engine/watch/index.js';
import {baseImage} from '../helpers/base-image.js';

export interface WatchBench {
  readonly store: Store;
  readonly root: string;
  readonly context: string;
  readonly dir: string;
  readonly events: WatchEvent[];
  /** Write a context file as editors with safe-write do: a temporary file renamed over it (no half states). */
  write(path: string, content: string | Buffer): Promise<void>;
  /** Write in place (truncate, then write), as some editors do. */
  writeInPlace(path: string, content: string | Buffer): Promise<void>;
  /** Start watching (tags `app:dev` unless told otherwise). */
  start(options?: Partial<WatchBuildOptions>): void;
  /** The first event at or after `from` (an index into `events`) that matches; fails after `timeoutMs`. */
  waitFor<T extends WatchEvent['type']>(type: T, options?: {from?: number; timeoutMs?: number; where?: (event: Extract<WatchEvent, {type: T}>) => boolean}): Promise<Extract<WatchEvent, {type: T}>>;
  /** Wait until no event has arrived for `ms` (lets a watcher show it does nothing). */
  settle(ms: number): Promise<void>;
  of<T extends WatchEvent['type']>(type: T, from?: number): Extract<WatchEvent, {type: T}>[];
  /** Abort and wait for the session to end. */
  stop(): Promise<void>;
  tagged(reference?: string): Promise<string | undefined>;
}

export async function withWatchBench(work: (bench: WatchBench) => Promise<void>, options: {base?: boolean} = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-watch-'));
  const root = join(dir, 'store');
  const context = join(dir, 'context');
  await mkdir(context, {recursive: true});
  const store = await Store.open(root);
  if (options.base) await baseImage(store);
  const events: WatchEvent[] = [];
  const waiters = new Set<() => void>();
  let lastEventAt = Date.now();
  let controller: AbortController | undefined;
  let session: Promise<void> | undefined;
  let sessionError: unknown;
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const bench: WatchBench = {
    store, root, context, dir, events,
    async write(path, content) {
      const target = join(context, path);
      await mkdir(dirname(target), {recursive: true});
      // A `~` name: the watcher ignores editor backups, so the temporary file itself triggers nothing.
      const temporary = join(dirname(target), `.${basename(target)}.${process.pid}~`);
      await writeFile(temporary, content);
      await rename(temporary, target);
    },
    async writeInPlace(path, content) {
      const target = join(context, path);
      await mkdir(dirname(target), {recursive: true});
      await writeFile(target, content);
    },
    start(overrides = {}) {
      controller = new AbortController();
      session = watchBuild({store, contextDir: context, tags: ['app:dev'], signal: controller.signal, ...overrides}, event => {
        events.push(event);
        lastEventAt = Date.now();
        notify();
      }).catch(error => {
        sessionError = error;
        notify();
      });
    },
    waitFor(type, {from = 0, timeoutMs = 30_000, where} = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (sessionError) {
            finish();
            reject(sessionError as Error);
            return;
          }
          for (let index = from; index < events.length; index++) {
            const event = events[index];
            if (event.type === type && (!where || where(event as never))) {
              finish();
              resolve(event as never);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no ${type} event within ${timeoutMs} ms; saw: ${events.slice(from).map(event => event.type).join(', ')}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async settle(ms) {
      for (;;) {
        const wait = lastEventAt + ms - Date.now();
        if (wait <= 0) return;
        await new Promise(resolve => setTimeout(resolve, wait));
      }
    },
    of(type, from = 0) {
      return events.slice(from).filter(event => event.type === type) as never;
    },
    async stop() {
      controller?.abort();
      await session;
      session = undefined;
    },
    async tagged(reference = 'app:dev') {
      try {
        return (await store.resolveImage(reference)).id;
      } catch {
        return undefined;
      }
    },
  };
  try {
    await work(bench);
  } finally {
    await bench.stop();
    await rm(dir, {recursive: true, force: true});
  }
}

/** Steps of a rebuilt event as `instruction` strings. */
export function rerun(event: {steps: readonly {instruction: string}[]}): string[] {
  return event.steps.map(step => step.instruction);
}
