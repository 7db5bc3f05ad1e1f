/**
 * The builder: Dockerfile + context folder -> image in the store, with a content-addressed cache that explains
 * its misses and typed events for every step. See build.ts for the contract.
 */
export {build, forgetWarmContexts} from './build.js';
export type {BuildOptions, BuildHooks, BuildResult} from './build.js';
export type * from './events.js';
export {createPrinter, createPlainPrinter, createJsonPrinter, createQuietPrinter, stepTitle} from './progress.js';
export type {ProgressMode, ProgressPrinter, PrinterOptions} from './progress.js';
export {cacheRoots, pruneCache, explainMiss, describeFileChanges} from './cache.js';
export type {PruneResult as BuildCachePruneResult, StepInputs, CacheRecord} from './cache.js';
export {applyConfigChanges} from './changes.js';
export {writeImageIdFile} from './iidfile.js';
export {
  BuildError,
  TargetNotFoundError,
  BaseImageNotFoundError,
  CopySourceError,
  InstructionError,
  RunFailedError,
  FetchError,
  BuildCancelledError,
} from './errors.js';
