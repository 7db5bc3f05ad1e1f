/**
 * Watch mode: keep an image in step with its build context (see watch.ts for the contract).
 *
 * Everything here but `watchBuild` is free of chokidar: the facade can export it statically and load
 * watch.ts (and chokidar) only when a watch starts.
 */
export {watchBuild, describeChanges} from './watch.js';
export {defaultDebounceMs, type WatchBuildOptions, type WatchEngine} from './options.js';
export {WatchContextError} from './errors.js';
export {isWatchOwnEvent} from './events.js';
export type * from './events.js';
export {isEditorTemporary} from './rules.js';
export {createWatchPrinter, type WatchProgressMode, type WatchPrinterOptions} from './progress.js';
