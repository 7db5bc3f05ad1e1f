/**
 * The store's inter-process lock: proper-lockfile (an atomic mkdir, refreshed while held, taken over when
 * stale) plus an in-process queue so that calls from one process wait in line instead of polling.
 */
import lockfile from 'proper-lockfile';
import {StoreLockError} from './errors.js';

export interface LockGuard {
  /** Throws when the lock was lost (e.g. the process stalled past the stale time): do not commit then. */
  assertHeld(): void;
}

export class StoreLock {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly root: string;
  private readonly target: string;
  private readonly lockPath: string;
  private readonly staleMs: number;

  constructor(root: string, target: string, lockPath: string, staleMs = 10_000) {
    this.root = root;
    this.target = target;
    this.lockPath = lockPath;
    this.staleMs = staleMs;
  }

  run<T>(work: (guard: LockGuard) => Promise<T>): Promise<T> {
    const next = this.queue.then(() => this.runLocked(work));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runLocked<T>(work: (guard: LockGuard) => Promise<T>): Promise<T> {
    let lost: Error | undefined;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.target, {
        realpath: false,
        lockfilePath: this.lockPath,
        stale: this.staleMs,
        retries: {retries: 2000, factor: 1.3, minTimeout: 2, maxTimeout: 40, randomize: true},
        onCompromised: error => {
          lost = error;
        },
      });
    } catch (error) {
      throw new StoreLockError(this.root, error);
    }
    const guard: LockGuard = {
      assertHeld: () => {
        if (lost) throw new StoreLockError(this.root, lost);
      },
    };
    try {
      return await work(guard);
    } finally {
      await release().catch(() => undefined);
    }
  }
}
