/**
 * Watch events: what `watchBuild` reports. The union holds the watcher's own events and, unchanged, every
 * build event of each rebuild (`build-started`, `step-*`, `build-done`, `build-failed`), so one reducer or one
 * printer can consume a watch session. Every event is a plain JSON-serialisable object with a `type`.
 *
 * A session reads: `watching`, then one first build (its build events, then `rebuilt` or `rebuild-failed`),
 * then for each burst of saves `change-detected` (or only `change-ignored` when nothing really changed),
 * the rebuild's build events and `rebuilt` (then `image-pruned` for the image it replaced) or
 * `rebuild-failed`; `watch-stopped` last.
 */
import type {BuildEvent, StepRef, StepSummary} from '../build/events.js';

export interface WatchingEvent {
  readonly type: 'watching';
  readonly contextDir: string;
  readonly dockerfile: string;
  /** The .dockerignore in force, when there is one. */
  readonly ignoreFile?: string;
  /** Regular files watched (those .dockerignore does not exclude). */
  readonly files: number;
  readonly debounceMs: number;
}

/** A burst of saves settled and these paths really changed (content, type or mode): a rebuild follows. */
export interface ChangeDetectedEvent {
  readonly type: 'change-detected';
  /** Context-relative paths (`/`-separated); the Dockerfile or ignore file outside the context by absolute path. */
  readonly paths: readonly string[];
  /** One line for people: `src/app.js changed`, `Dockerfile changed`, `3 files changed`. */
  readonly reason: string;
}

/** A path that saw file system events but triggers nothing. */
export interface ChangeIgnoredEvent {
  readonly type: 'change-ignored';
  readonly path: string;
  readonly why: 'content unchanged' | 'appeared and vanished' | 'excluded by .dockerignore' | 'editor temporary file';
}

/** Changes arrived while a build ran: they are folded into one build after it. */
export interface RebuildQueuedEvent {
  readonly type: 'rebuild-queued';
  readonly paths: readonly string[];
}

/** The build succeeded and the tags point at its image. */
export interface RebuiltEvent {
  readonly type: 'rebuilt';
  readonly imageId: string;
  /** The image the first tag named before this build (undefined when none). */
  readonly previousImageId?: string;
  /** False when the build made the same image (every step cached: the change did not reach the image). */
  readonly imageChanged: boolean;
  readonly tags: readonly string[];
  /** The steps that ran (missed the cache), each with the builder's reason (`src/app.js changed`). */
  readonly steps: readonly StepSummary[];
  /** What started this build: `watch started`, or the change-detected reason. */
  readonly reason: string;
  readonly changedPaths: readonly string[];
  /** From the file change (its mtime, or when the event arrived) to the image tagged. */
  readonly latencyMs: number;
  /** The build alone. */
  readonly buildMs: number;
}

/** The image a rebuild replaced was removed: no tag named it any more and nothing builds on it. */
export interface ImagePrunedEvent {
  readonly type: 'image-pruned';
  readonly imageId: string;
}

/** The build failed: the tags still point at the previous image; the next good save recovers. */
export interface RebuildFailedEvent {
  readonly type: 'rebuild-failed';
  readonly error: string;
  readonly code: string;
  readonly step?: StepRef;
  /** The Dockerfile excerpt around the failing line, when there is one. */
  readonly excerpt?: string;
  readonly hint?: string;
  /** The image the tags still name (undefined when there is none yet). */
  readonly keptImageId?: string;
  readonly reason: string;
  readonly changedPaths: readonly string[];
}

/** The file watcher reported a problem (it keeps running). */
export interface WatchErrorEvent {
  readonly type: 'watch-error';
  readonly error: string;
}

export interface WatchStoppedEvent {
  readonly type: 'watch-stopped';
  /** Builds run in the session (the first one included). */
  readonly builds: number;
}

export type WatchOwnEvent =
  | WatchingEvent
  | ChangeDetectedEvent
  | ChangeIgnoredEvent
  | RebuildQueuedEvent
  | RebuiltEvent
  | ImagePrunedEvent
  | RebuildFailedEvent
  | WatchErrorEvent
  | WatchStoppedEvent;

export type WatchEvent = WatchOwnEvent | BuildEvent;

export type WatchEventType = WatchEvent['type'];

const ownTypes: ReadonlySet<string> = new Set<WatchOwnEvent['type']>([
  'watching', 'change-detected', 'change-ignored', 'rebuild-queued', 'rebuilt', 'image-pruned', 'rebuild-failed', 'watch-error', 'watch-stopped',
]);

/** True for the watcher's own events, false for the build events it passes through. */
export function isWatchOwnEvent(event: WatchEvent): event is WatchOwnEvent {
  return ownTypes.has(event.type);
}
