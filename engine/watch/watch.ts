/**
 * `watchBuild`: keep an image in step with its build context while the user edits.
 *
 * Contract:
 * - The context is watched with chokidar, minus what `.dockerignore` excludes (excluded folders are not even
 *   walked), plus the Dockerfile and the ignore file wherever they live (see rules.ts).
 * - Events are collected until the context has been quiet for `debounceMs` (or for at most `maxWaitMs` of
 *   continuous events), then each path that saw events is fingerprinted again (type, mode, content; never
 *   times) and compared with what it held before: a `touch`, an atime change or an editor saving the same
 *   bytes triggers nothing.
 * - The quiet period is not spent idle: once a burst has been still for a few milliseconds (`earlyStartMs`),
 *   its check and build start at once, and their events are held back. If the quiet period then ends without
 *   another event, the held events go out and the build tags its image (the builder waits for that before
 *   tagging). If an event comes first, the early build is cancelled, its events are dropped, the paths'
 *   fingerprints are restored, and the burst goes on as if nothing had started (the cache keeps the steps it
 *   finished, valid for what they read). A rebuild thus costs the longer of the quiet period and the build,
 *   not their sum.
 * - A real change rebuilds through the normal build and its cache, with `changedPaths` as the hint, so only
 *   the changed files are read again and only the steps from the first COPY/ADD that sees them re-run. The
 *   `rebuilt` event lists those steps with the builder's reason and the latency from the change to the tag.
 * - One build at a time per context in this process: changes arriving during a build are queued and folded
 *   into one build after it. Paths that changed while a build ran are rebuilt without the content check
 *   (the build may have read them mid-change); the cache keeps that cheap.
 * - A failed build leaves the tags on the previous image (the builder only tags on success) and reports the
 *   error with the Dockerfile excerpt; the next real change tries again.
 * - The first build runs at start without the hint, so changes made while nobody watched are found by
 *   content (the builder's cache compares checksums, not times). It runs while the first fingerprints are
 *   taken; events until both are done count as arriving during a build.
 * - After a rebuild replaced an image that no tag names any more and no image builds on, that image is
 *   removed (`prune: false` keeps it), as docker compose watch prunes.
 * - `--no-cache` applies to the first build only: later rebuilds use what it made, or watching is pointless.
 * - Resolves after `signal` aborts: the watchers are closed and a running build is cancelled and awaited.
 *   Rejects only when watching cannot start (the context is not a folder).
 */
import {realpath} from 'node:fs/promises';
import type {Stats} from 'node:fs';
import {basename, dirname, join, resolve, sep} from 'node:path';
import {watch as chokidarWatch, type FSWatcher} from 'chokidar';
import type {BuildHooks, BuildResult} from '../build/build.js';
import {BuildCancelledError} from '../build/errors.js';
import {flushCacheWrites} from '../build/cache.js';
import type {StepRef} from '../build/events.js';
import {dropSpareLayerFiles, makeSpareLayerFiles, startLayerFiles} from '../layer/layer-file.js';
import {startBackgroundSeeding} from '../build/snapshot-seed.js';
import {startLauncher} from '../runtime/launcher.js';
import type {Store} from '../store/store.js';
import {watchableContext, WatchContextError} from './errors.js';
import {defaultDebounceMs, type WatchBuildOptions} from './options.js';
import type {WatchEvent} from './events.js';
import {fingerprintOf, forEachLimited, sameContent, type Fingerprint} from './fingerprint.js';
import {WatchRules} from './rules.js';

export type {WatchBuildOptions, WatchEngine} from './options.js';
export {defaultDebounceMs} from './options.js';
export {watchableContext, WatchContextError} from './errors.js';

/** Watch `options.contextDir` and rebuild on every real change until `options.signal` aborts. */
export async function watchBuild(options: WatchBuildOptions, onEvent: (event: WatchEvent) => void): Promise<void> {
  // Real paths: chokidar reports them, and a context given through a symlink must still be walked.
  const realContext = await watchableContext(options.contextDir);
  const dockerfile = options.dockerfile === undefined ? undefined : await realParent(resolve(options.dockerfile));
  // Every rebuild writes its COPY layers again and links their snapshots: two threads do that beside the build,
  // booted now rather than on the first edit.
  void startLayerFiles();
  startBackgroundSeeding();
  // And its RUN steps are started by a small helper process: a fork of this one would copy its page tables.
  void startLauncher();
  const session = new WatchSession({...options, contextDir: realContext, dockerfile}, onEvent);
  sessions++;
  try {
    await session.run();
  } finally {
    // The cache companions held back are written, and the spares (for rebuilds only) go.
    flushCacheWrites();
    if (--sessions === 0) await dropSpareLayerFiles();
  }
}

/** Watch sessions running in this process. */
let sessions = 0;

/** The path with its folder's symlinks resolved (the file itself may be missing, or a symlink). */
async function realParent(path: string): Promise<string> {
  const folder = await realpath(dirname(path)).catch(() => dirname(path));
  return join(folder, basename(path));
}

type FsEventName = 'add' | 'addDir' | 'change' | 'unlink' | 'unlinkDir';

interface PendingPath {
  /** When the first event of this burst arrived for the path. */
  readonly firstAt: number;
  /** An event arrived while a build ran: rebuild without the content check. */
  suspect: boolean;
  directoryEvent: boolean;
  /** Only raw events so far: when nothing changed, say nothing (they are noisy by nature). */
  rawOnly: boolean;
}

/**
 * A burst checked and built before its quiet period ended. What it does that users see waits for
 * `confirmed`: its events are held, and the builder tags only after `beforeTag` (see `confirm`). The cache
 * records and layers of its finished steps stay if it is cancelled: they hold what they were keyed by (a COPY
 * checks that its sources did not change while it read them).
 */
interface EarlyStart {
  /** When the quiet period ends if no event comes. */
  readonly deadline: number;
  readonly controller: AbortController;
  cancelled: boolean;
  confirmed: boolean;
  /** Events held until the quiet period is over; dropped on cancel. */
  readonly held: WatchEvent[];
  /** Wakes `confirm` on cancel. */
  wake?: () => void;
  /** To put back on cancel: the burst, when it started, and the fingerprints before its check. */
  readonly batch: Map<string, PendingPath>;
  readonly burstStartedAt?: number;
  readonly baseline: Map<string, Fingerprint>;
}

/** How long a burst must be still before its check and build start early (at most the quiet period). */
const earlyStartMs = 8;

interface ScannedEntry {
  readonly path: string;
  readonly directory: boolean;
}

interface VerifiedChange {
  readonly path: string;
  readonly display: string;
  readonly how: 'added' | 'removed' | 'changed';
  readonly at: number;
}

/** Builds of one context in this process, chained so two never overlap (several watchers, one context). */
const contextQueues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = contextQueues.get(key) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.then(() => {}, () => {});
  contextQueues.set(key, settled);
  void settled.then(() => {
    if (contextQueues.get(key) === settled) contextQueues.delete(key);
  });
  return next;
}

class WatchSession {
  private readonly contextDir: string;
  private readonly dockerfilePath: string;
  private readonly rules: WatchRules;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly clock: () => number;
  private readonly store: Store;
  /** What each watched path held when it was last looked at (absolute path keys). */
  private baseline = new Map<string, Fingerprint>();
  private pending = new Map<string, PendingPath>();
  private burstStartedAt?: number;
  private lastEventAt = 0;
  private timer?: NodeJS.Timeout;
  /** Verifying a burst or building: events wait. */
  private busy = false;
  private building = false;
  /** The first fingerprints are being taken. */
  private baselining = false;
  private queuedNotice = false;
  private stopping = false;
  private builds = 0;
  private previousImageId?: string;
  /** The burst being checked and built before its quiet period is over. */
  private early?: EarlyStart;
  private contextWatcher?: FSWatcher;
  private outsideWatcher?: FSWatcher;
  private work: Promise<void> = Promise.resolve();
  private resolveStopped!: () => void;

  constructor(
    private readonly options: WatchBuildOptions,
    private readonly onEvent: (event: WatchEvent) => void,
  ) {
    this.contextDir = resolve(options.contextDir);
    this.dockerfilePath = resolve(options.dockerfile ?? join(this.contextDir, 'Dockerfile'));
    const store = options.engine?.store ?? options.store;
    if (!store) throw new WatchContextError('watch: no engine or store given');
    this.store = store;
    const storeRoot = resolve(store.root);
    this.rules = new WatchRules({
      contextDir: this.contextDir,
      dockerfilePath: this.dockerfilePath,
      skipDirs: storeRoot.startsWith(this.contextDir + sep) ? [storeRoot] : [],
    });
    this.debounceMs = Math.max(0, options.debounceMs ?? defaultDebounceMs);
    this.maxWaitMs = options.maxWaitMs ?? Math.max(1000, this.debounceMs * 10);
    this.clock = options.clock ?? Date.now;
  }

  async run(): Promise<void> {
    const signal = this.options.signal;
    const stopped = new Promise<void>(resolve => (this.resolveStopped = resolve));
    if (signal?.aborted) {
      this.emit({type: 'watch-stopped', builds: 0});
      return;
    }
    const onAbort = () => this.stop();
    signal?.addEventListener('abort', onAbort, {once: true});
    let started = false;
    try {
      await this.rules.load();
      const scanned = [...(await this.startContextWatcher()), ...(await this.startOutsideWatcher())];
      started = true;
      this.emit({
        type: 'watching', contextDir: this.contextDir, dockerfile: this.dockerfilePath, ignoreFile: this.rules.ignoreFile,
        files: scanned.filter(entry => !entry.directory).length, debounceMs: this.debounceMs,
      });
      if (!this.stopping) {
        this.previousImageId = await this.taggedImageId();
        this.busy = true;
        // The first build does not wait for the baseline: until both are done every event is suspect (rebuilt
        // without the content check), so a change the baseline hashes after the build read it is not lost.
        this.baselining = true;
        const baseline = this.takeBaseline(scanned.map(entry => entry.path)).finally(() => (this.baselining = false));
        const first = this.rebuild({reason: 'watch started', changes: [], changedPaths: undefined, changeAt: this.clock(), noCache: this.options.noCache});
        this.work = Promise.allSettled([baseline, first])
          .then(([settled]) => {
            if (settled.status === 'rejected') this.emit({type: 'watch-error', error: (settled.reason as Error).message});
          })
          .finally(() => {
            this.busy = false;
            this.schedule();
          });
      }
      await stopped;
    } finally {
      this.stopping = true;
      clearTimeout(this.timer);
      signal?.removeEventListener('abort', onAbort);
      await this.closeWatchers();
      // The work in flight may have chained more work before it saw `stopping`.
      for (let previous: Promise<void> | undefined; previous !== this.work; ) {
        previous = this.work;
        await previous.catch(() => {});
      }
      if (started) this.emit({type: 'watch-stopped', builds: this.builds});
    }
  }

  private emit(event: WatchEvent): void {
    const early = this.early;
    if (early && !early.confirmed && event.type !== 'watch-error' && event.type !== 'watch-stopped') {
      if (!early.cancelled) early.held.push(event);
      return;
    }
    try {
      this.onEvent(event);
    } catch {
      // A consumer's bug must not stop the watcher.
    }
  }

  // ---- watchers -------------------------------------------------------------------------------------

  /** Start watching the context; resolves when the first scan is done, with what it found. */
  private startContextWatcher(): Promise<ScannedEntry[]> {
    return this.startWatcher([this.contextDir], {ignored: (path: string, stats?: Stats) => this.rules.isIgnoredPath(path, stats)}, watcher => {
      this.contextWatcher = watcher;
    });
  }

  /** The Dockerfile and ignore file outside the context: their folders, one level deep, only those names. */
  private async startOutsideWatcher(): Promise<ScannedEntry[]> {
    const files = [this.dockerfilePath, ...this.rules.ignoreCandidates].filter(path => this.rules.relativePath(path) === undefined);
    if (files.length === 0) return [];
    const dirs = [...new Set(files.map(file => dirname(file)))];
    const scanned = await this.startWatcher(dirs, {depth: 0, ignored: (path: string) => !dirs.includes(path) && !files.includes(path)}, watcher => {
      this.outsideWatcher = watcher;
    });
    return scanned.filter(entry => files.includes(entry.path));
  }

  private startWatcher(paths: string[], extra: {ignored: (path: string, stats?: Stats) => boolean; depth?: number}, keep: (watcher: FSWatcher) => void): Promise<ScannedEntry[]> {
    return new Promise((resolveScan, rejectScan) => {
      const scanned: ScannedEntry[] = [];
      let ready = false;
      const watcher = chokidarWatch(paths, {
        ...extra,
        ignoreInitial: false,
        followSymlinks: false,
        // Editor saves are handled by comparing content; chokidar's atomic mode would delay unlinks by 100 ms.
        atomic: false,
        alwaysStat: false,
        ignorePermissionErrors: true,
        persistent: true,
      });
      keep(watcher);
      watcher.on('all', (event, path) => {
        if (!ready && (event === 'add' || event === 'addDir')) {
          scanned.push({path, directory: event === 'addDir'});
          return;
        }
        this.onFsEvent(event as FsEventName, path);
      });
      watcher.on('raw', (rawEvent, name, details) => {
        if (ready) this.onRawEvent(rawEvent, name, (details as {watchedPath: string}).watchedPath);
      });
      watcher.on('error', error => {
        if (!ready) {
          const tooMany = (error as NodeJS.ErrnoException).code === 'ENOSPC' || (error as NodeJS.ErrnoException).code === 'EMFILE';
          rejectScan(new WatchContextError(`watch ${paths.join(', ')}: ${(error as Error).message}`, {
            cause: error,
            hint: tooMany ? 'exclude large folders in .dockerignore, or raise fs.inotify.max_user_watches' : undefined,
          }));
        }
        else this.emit({type: 'watch-error', error: (error as Error).message});
      });
      watcher.once('ready', () => {
        ready = true;
        resolveScan(scanned);
      });
    });
  }

  private async closeWatchers(): Promise<void> {
    const watchers = [this.contextWatcher, this.outsideWatcher];
    this.contextWatcher = this.outsideWatcher = undefined;
    await Promise.all(watchers.map(watcher => watcher?.close().catch(() => {})));
  }

  /** Fingerprint what the first scan found, and the control files wherever they are. */
  private async takeBaseline(scanned: readonly string[]): Promise<void> {
    const paths = [...new Set([...scanned, this.dockerfilePath, ...this.rules.ignoreCandidates])];
    await forEachLimited(paths, 16, async path => {
      // Unreadable is as good as absent: its first readable state counts as a change.
      const fingerprint = await fingerprintOf(path).catch(() => null);
      if (fingerprint) this.baseline.set(path, fingerprint);
    });
  }

  // ---- bursts ---------------------------------------------------------------------------------------

  /**
   * chokidar reports a change only when the mtime moved, so a `chmod +x` (which COPY preserves) would go
   * unseen: its raw events are taken as possible changes too, and the content check sorts them out.
   */
  private onRawEvent(rawEvent: string, name: string | null | undefined, watchedPath: string): void {
    if (rawEvent !== 'change') return;
    const known = this.baseline.get(watchedPath);
    const path = !name || (known && known.type !== 'dir') ? watchedPath : join(watchedPath, name);
    if (this.rules.isIgnoredPath(path)) return;
    this.onFsEvent('change', path, true);
  }

  private onFsEvent(event: FsEventName, path: string, raw = false, suspect = false): void {
    if (this.stopping) return;
    const now = this.clock();
    // The burst goes on: a build started early is cancelled and its batch comes back (see `flush`).
    const early = this.early;
    if (early && !early.confirmed && !early.cancelled && now < early.deadline) this.cancelEarly(early);
    const duringBuild = (this.building && !this.early?.cancelled) || this.baselining || suspect;
    const known = this.pending.get(path);
    if (known) {
      known.suspect ||= duringBuild;
      known.directoryEvent ||= event === 'addDir' || event === 'unlinkDir';
      known.rawOnly &&= raw;
    } else {
      this.pending.set(path, {
        firstAt: now, suspect: duringBuild, directoryEvent: event === 'addDir' || event === 'unlinkDir', rawOnly: raw,
      });
    }
    this.lastEventAt = now;
    this.burstStartedAt ??= now;
    if (this.busy) {
      if (this.building && !this.early?.cancelled && !this.queuedNotice) {
        this.queuedNotice = true;
        this.emit({type: 'rebuild-queued', paths: [this.display(path)]});
      }
      return;
    }
    this.schedule();
  }

  /**
   * Flush when the burst has been quiet for debounceMs, or has gone on for maxWaitMs; start early (see the
   * contract) once it has been still for `earlyStartMs`.
   */
  private schedule(): void {
    if (this.stopping || this.busy || this.pending.size === 0) return;
    clearTimeout(this.timer);
    const now = this.clock();
    const delay = Math.max(0, Math.min(this.quietUntil() - now, this.lastEventAt + earlyStartMs - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.busy || this.stopping) return;
      this.busy = true;
      this.work = this.flush().catch(error => this.emit({type: 'watch-error', error: (error as Error).message}));
    }, delay);
  }

  /** When the current burst's quiet period ends (or its longest wait). */
  private quietUntil(): number {
    return Math.min(this.lastEventAt + this.debounceMs, (this.burstStartedAt ?? this.lastEventAt) + this.maxWaitMs);
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    const burstStartedAt = this.burstStartedAt;
    const deadline = this.quietUntil();
    this.pending = new Map();
    this.burstStartedAt = undefined;
    const early: EarlyStart | undefined =
      this.clock() < deadline
        ? {deadline, controller: new AbortController(), cancelled: false, confirmed: false, held: [], batch, burstStartedAt, baseline: new Map(this.baseline)}
        : undefined;
    this.early = early;
    try {
      const {changes, ignoreRulesChanged} = await this.verify(batch);
      if (changes.length === 0 || this.stopping) {
        if (early) await this.confirm(early);
        return;
      }
      const reason = describeChanges(changes);
      this.emit({type: 'change-detected', paths: changes.map(change => change.display), reason});
      let changedPaths: string[] | undefined = [];
      // Restarting the watchers cannot be taken back: it waits for the quiet period.
      if (ignoreRulesChanged && early && !(await this.confirm(early))) return;
      if (ignoreRulesChanged) {
        // New rules: re-walk with them, and let the build re-check the whole context (stat, not read).
        await this.rules.load();
        await this.restartContextWatcher();
        changedPaths = undefined;
      } else {
        for (const change of changes) {
          const relative = this.rules.relativePath(change.path);
          if (relative !== undefined && relative !== '') changedPaths.push(relative);
        }
      }
      await this.rebuild({reason, changes, changedPaths, changeAt: Math.min(...changes.map(change => change.at)), early});
    } finally {
      if (early?.cancelled) this.restoreEarly(early);
      if (this.early === early) this.early = undefined;
      this.busy = false;
      this.schedule();
    }
  }

  /**
   * Wait for the end of an early start's quiet period: true when it ended without an event (the held events
   * are sent and whatever follows is ordinary), false when the burst went on (the start is cancelled).
   */
  private async confirm(early: EarlyStart): Promise<boolean> {
    if (early.confirmed) return true;
    if (!early.cancelled) {
      const wait = early.deadline - this.clock();
      if (wait > 0) {
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, wait);
          early.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    if (early.cancelled || this.stopping) return false;
    early.confirmed = true;
    for (const event of early.held.splice(0)) this.emit(event);
    return true;
  }

  private cancelEarly(early: EarlyStart): void {
    early.cancelled = true;
    early.held.length = 0;
    early.controller.abort();
    early.wake?.();
  }

  /** Put a cancelled early start's burst back, as if its check had never run. */
  private restoreEarly(early: EarlyStart): void {
    this.baseline = early.baseline;
    for (const [path, info] of early.batch) {
      const later = this.pending.get(path);
      if (!later) this.pending.set(path, info);
      else {
        this.pending.set(path, {
          firstAt: Math.min(info.firstAt, later.firstAt), suspect: info.suspect || later.suspect,
          directoryEvent: info.directoryEvent || later.directoryEvent, rawOnly: info.rawOnly && later.rawOnly,
        });
      }
    }
    if (early.burstStartedAt !== undefined) this.burstStartedAt = Math.min(early.burstStartedAt, this.burstStartedAt ?? early.burstStartedAt);
  }

  /** Which paths of a burst really changed; the others are reported as ignored. Updates the baseline. */
  private async verify(batch: Map<string, PendingPath>): Promise<{changes: VerifiedChange[]; ignoreRulesChanged: boolean}> {
    const changes: VerifiedChange[] = [];
    let ignoreRulesChanged = false;
    await forEachLimited([...batch], 16, async ([path, info]) => {
      const relative = this.rules.relativePath(path);
      const control = this.rules.isControlFile(path);
      const now = await fingerprintOf(path).catch(() => null);
      if (!control && relative !== undefined && this.rules.excludes(relative, now?.type === 'dir' || info.directoryEvent)) {
        this.forget(path);
        this.emit({type: 'change-ignored', path: this.display(path), why: 'excluded by .dockerignore'});
        return;
      }
      const before = this.baseline.get(path);
      if (!info.suspect && sameContent(before, now)) {
        if (info.rawOnly) return;
        this.emit({type: 'change-ignored', path: this.display(path), why: before || now ? 'content unchanged' : 'appeared and vanished'});
        return;
      }
      if (now) this.baseline.set(path, now);
      else this.forget(path);
      if (this.rules.isIgnoreFile(path)) ignoreRulesChanged = true;
      const at = now && now.mtimeMs <= info.firstAt && now.mtimeMs >= info.firstAt - 2000 ? now.mtimeMs : info.firstAt;
      changes.push({path, display: this.display(path), how: !before ? 'added' : !now ? 'removed' : 'changed', at});
    });
    changes.sort((a, b) => (a.display < b.display ? -1 : a.display > b.display ? 1 : 0));
    return {changes, ignoreRulesChanged};
  }

  /** Drop a path and, for a folder, everything below it. */
  private forget(path: string): void {
    this.baseline.delete(path);
    const prefix = path + sep;
    for (const key of [...this.baseline.keys()]) if (key.startsWith(prefix)) this.baseline.delete(key);
  }

  /** After the ignore rules changed: a fresh walk, so newly included folders are watched and known. */
  private async restartContextWatcher(): Promise<void> {
    const old = this.contextWatcher;
    const scanned = (await this.startContextWatcher()).map(entry => entry.path);
    await old?.close().catch(() => {});
    const seen = new Set(scanned);
    for (const key of [...this.baseline.keys()]) {
      if (!seen.has(key) && !this.rules.isControlFile(key) && this.rules.relativePath(key) !== undefined) this.baseline.delete(key);
    }
    const fresh = scanned.filter(path => !this.baseline.has(path));
    await forEachLimited(fresh, 16, async path => {
      const fingerprint = await fingerprintOf(path);
      if (fingerprint) this.baseline.set(path, fingerprint);
    });
  }

  // ---- builds ---------------------------------------------------------------------------------------

  private async rebuild(request: {
    reason: string; changes: readonly VerifiedChange[]; changedPaths: string[] | undefined; changeAt: number; noCache?: boolean; early?: EarlyStart;
  }): Promise<void> {
    const changedPaths = request.changes.map(change => change.display);
    this.building = true;
    this.queuedNotice = false;
    const began = this.clock();
    let cancelled = false;
    try {
      const result = await serialised(`${this.store.root}\0${this.contextDir}`, () => this.runBuild(request.changedPaths, request.noCache ?? false, request.early));
      const taggedAt = this.clock();
      const imageChanged = result.imageId !== this.previousImageId;
      this.emit({
        type: 'rebuilt', imageId: result.imageId, previousImageId: this.previousImageId, imageChanged, tags: result.tags,
        steps: result.steps.filter(step => !step.cached), reason: request.reason, changedPaths,
        latencyMs: Math.max(0, taggedAt - request.changeAt), buildMs: taggedAt - began,
      });
      const replaced = this.previousImageId;
      this.previousImageId = result.imageId;
      if (imageChanged && replaced && this.options.prune !== false) await this.pruneReplaced(replaced);
    } catch (error) {
      // A build that failed early reports only once the burst is over; a cancelled one, never.
      if (this.stopping || this.options.signal?.aborted || (request.early && !(await this.confirm(request.early)))) {
        cancelled = true;
        return;
      }
      const failure = error as Error & {code?: string; excerpt?: string; hint?: string; step?: StepRef; paths?: readonly string[]};
      if (failure.code === 'ERR_BUILD_SOURCE_CHANGED' && failure.paths) {
        // Saved while the COPY read it: not a failure to report. The save is (or will be) an event of its own;
        // the paths are queued as changed all the same, so that the next build comes whatever the watcher says.
        for (const path of failure.paths) this.onFsEvent('change', join(this.contextDir, path), true, true);
        return;
      }
      this.emit({
        type: 'rebuild-failed', error: failure.message, code: failure.code ?? 'ERR_BUILD', step: failure.step, excerpt: failure.excerpt,
        hint: failure.hint, keptImageId: this.previousImageId, reason: request.reason, changedPaths,
      });
    } finally {
      this.building = false;
      this.builds++;
      // While the user looks at the result: copies of the layers just written, for the next rebuild to write
      // its layers over (only the pages that differ are written then; see engine/layer/layer-file.ts). Not
      // after a cancelled build: the burst goes on, and its build comes at once.
      if (!cancelled) void makeSpareLayerFiles();
    }
  }

  private async runBuild(changedPaths: string[] | undefined, noCache: boolean, early?: EarlyStart): Promise<BuildResult> {
    const options = {
      contextDir: this.contextDir,
      dockerfile: this.dockerfilePath,
      tags: this.options.tags,
      buildArgs: this.options.buildArgs,
      target: this.options.target,
      noCache,
      labels: this.options.labels,
      network: this.options.network,
      changedPaths,
      deferCacheWrites: true,
    };
    const signals = [this.options.signal, early?.controller.signal].filter((signal): signal is AbortSignal => signal !== undefined);
    const hooks: BuildHooks = {
      signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      onEvent: event => this.emit(event),
      // An early build tags only if its burst is over; otherwise it is cancelled before the image is written.
      beforeTag: early && (async () => {
        if (!(await this.confirm(early))) throw new BuildCancelledError();
      }),
    };
    if (this.options.engine) return this.options.engine.build(options, hooks);
    const {build} = await import('../build/build.js');
    return build({...options, store: this.store}, hooks);
  }

  /** Remove a replaced image that is now dangling and has no children; a failure here is not the build's. */
  private async pruneReplaced(imageId: string): Promise<void> {
    try {
      const image = await this.store.resolveImage(imageId);
      if (image.tags.length > 0 || (await this.store.children(imageId)).length > 0) return;
      await this.store.removeImage(imageId);
      this.emit({type: 'image-pruned', imageId});
    } catch {
      // Already gone, or removed by someone else meanwhile.
    }
  }

  /** The image the first tag names now, if any. */
  private async taggedImageId(): Promise<string | undefined> {
    const tag = this.options.tags?.[0];
    if (!tag) return undefined;
    try {
      return (await this.store.resolveImage(tag)).id;
    } catch {
      return undefined;
    }
  }

  private display(path: string): string {
    return this.rules.relativePath(path) ?? path;
  }

  /** Ask the session to end: run() closes the watchers and waits for the build in flight. */
  private stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.timer);
    this.resolveStopped();
  }
}

/** `src/app.js changed`, `Dockerfile changed`, `3 files changed (a, b, c)`. */
export function describeChanges(changes: readonly {display: string; how: 'added' | 'removed' | 'changed'}[]): string {
  if (changes.length === 1) return `${changes[0].display} ${changes[0].how}`;
  const how = changes.every(change => change.how === changes[0].how) ? changes[0].how : 'changed';
  const shown = changes.slice(0, 3).map(change => change.display).join(', ');
  return `${changes.length} paths ${how} (${shown}${changes.length > 3 ? ', ...' : ''})`;
}
