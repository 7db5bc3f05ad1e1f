/**
 * What `watchBuild` takes. Kept apart from watch.ts so the facade can export it without loading chokidar.
 */
import type {BuildHooks, BuildOptions, BuildResult} from '../build/build.js';
import type {Store} from '../store/store.js';

/** What watch mode needs from the engine: its store and its build verb. `Engine` fits. */
export interface WatchEngine {
  readonly store: Store;
  build(options: Omit<BuildOptions, 'store' | 'root'>, hooks?: BuildHooks): Promise<BuildResult>;
}

/** The build's own options (see BuildOptions), plus what watching adds. */
export interface WatchBuildOptions
  extends Pick<BuildOptions, 'contextDir' | 'dockerfile' | 'tags' | 'buildArgs' | 'target' | 'labels' | 'network'> {
  /** The engine to build with; or give `store` and the builder is used directly. */
  readonly engine?: WatchEngine;
  readonly store?: Store;
  /** The first build ignores the cache; rebuilds use it. */
  readonly noCache?: boolean;
  /**
   * Remove the image a rebuild replaced when no tag names it any more and no image builds on it, as
   * `docker compose watch --prune` does (default true). Its layers stay while the build cache uses them.
   */
  readonly prune?: boolean;
  /** Quiet period that ends a burst of events (default 50 ms; docker compose waits 500 ms). */
  readonly debounceMs?: number;
  /** Longest a burst of continuous events may delay a build (default max(1 s, 10 x debounce)). */
  readonly maxWaitMs?: number;
  readonly signal?: AbortSignal;
  /** Milliseconds clock for latencies; default Date.now. */
  readonly clock?: () => number;
}

export const defaultDebounceMs = 50;
