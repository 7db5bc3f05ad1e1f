/**
 * Watch mode: keep an image in step with its build context (see watch.ts for the contract).
 */
export {watchBuild, defaultDebounceMs, describeChanges, WatchContextError} from './watch.js';
export type {WatchBuildOptions, WatchEngine} from './watch.js';
export {isWatchOwnEvent} from './events.js';
export type * from './events.js';
export {isEditorTemporary} from './rules.js';
export {createWatchPrinter, type WatchProgressMode, type WatchPrinterOptions} from './progress.js';
