/**
 * The engine facade: the one module that source/ imports. The command line and the workbench call the same
 * verbs, so anything the workbench can do a script can do too.
 */
export * from './errors.js';
export * from './engine.js';
export {Engine, resolveRoot} from './facade.js';
export type {StoredImage} from './store/index.js';
export type {EngineBuildOptions} from './facade.js';
export type {BuildEvent, BuildEventType, StepSummary} from './build/events.js';
export type {BuildResult} from './build/build.js';
export {createPrinter, type ProgressMode, type ProgressPrinter} from './build/progress.js';
export {demoContext, demoImage, demoStoreRoot, prepareDemo} from './demo.js';
export {readWorkbenchConfig, workbenchConfigPath, type WorkbenchConfig, type WorkbenchConfigResult} from './workbench.js';
export {watchBuild} from './facade.js';
export type {WatchBuildOptions} from './watch/watch.js';
export type * from './watch/events.js';
export {createWatchPrinter, type WatchProgressMode} from './watch/progress.js';
export {writeImageIdFile} from './build/iidfile.js';
export {checkDockerfileFile as checkDockerfile, type DockerfileCheckResult} from './dockerfile/check.js';
export {formatDockerfileExcerpt} from './dockerfile/excerpt.js';
export {defaultDebounceMs, type WatchEngine} from './watch/options.js';
export {watchableContext, WatchContextError} from './watch/errors.js';
export {isWatchOwnEvent} from './watch/events.js';
