/**
 * The workbench's watch mode: what the engine's watch events say about the session, folded into the state the
 * header's status line shows (the last rebuild: when, how long from the save to the tagged image, and why;
 * the files watched). A pure reducer; the build events of each rebuild go to the build log (build-log.ts).
 */
import type {WatchEvent} from '../../../engine/index.js';

export interface WatchRequest {
  readonly contextDir: string;
  readonly tags: readonly string[];
  readonly dockerfile?: string;
}

export interface LastRebuild {
  readonly at: Date;
  readonly ok: boolean;
  /** What started it: `watch started`, `src/app.js changed`... */
  readonly reason: string;
  /** From the save to the tagged image (successful rebuilds). */
  readonly latencyMs?: number;
  /** Steps that ran (missed the cache). */
  readonly rerun: number;
  readonly imageId?: string;
  readonly error?: string;
  /** A failed rebuild: the image the tags still name (none before a first good build). */
  readonly keptImageId?: string;
}

export interface WatchStatus {
  readonly request: WatchRequest;
  /** `starting` until the watcher has walked the context; `stopping` once asked to stop. */
  readonly phase: 'starting' | 'watching' | 'stopping';
  /** Files watched (those .dockerignore keeps). */
  readonly files?: number;
  readonly building: boolean;
  /** Rebuilds after the first build. */
  readonly rebuilds: number;
  readonly last?: LastRebuild;
  /** The watcher's own trouble since the last rebuild (a folder it could not watch, say). */
  readonly error?: string;
}

export function startWatchStatus(request: WatchRequest): WatchStatus {
  return {request, phase: 'starting', building: false, rebuilds: 0};
}

export function reduceWatchEvent(status: WatchStatus, event: WatchEvent, now: Date): WatchStatus {
  switch (event.type) {
    case 'watching':
      return {...status, phase: status.phase === 'stopping' ? 'stopping' : 'watching', files: event.files};
    case 'build-started':
      return {...status, building: true};
    case 'watch-error':
      return {...status, error: event.error};
    case 'rebuilt':
      return {
        ...status,
        building: false,
        error: undefined,
        rebuilds: status.last ? status.rebuilds + 1 : status.rebuilds,
        last: {at: now, ok: true, reason: event.reason, latencyMs: event.latencyMs, rerun: event.steps.length, imageId: event.imageId},
      };
    case 'rebuild-failed':
      return {
        ...status,
        building: false,
        rebuilds: status.last ? status.rebuilds + 1 : status.rebuilds,
        last: {at: now, ok: false, reason: event.reason, rerun: 0, error: event.error, keptImageId: event.keptImageId},
      };
    default:
      return status;
  }
}

/** `14:05:09`: when, in local time (a clock that ticks every half minute could not say "4 s ago" truly). */
function clock(at: Date): string {
  return [at.getHours(), at.getMinutes(), at.getSeconds()].map(part => String(part).padStart(2, '0')).join(':');
}

function milliseconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The status line, the news first (a narrow terminal cuts the end): `rebuilt 14:05:09 in 98 ms: src/app.js
 * changed · watching 2,002 files`, or what is going on (reading the context, a rebuild running, the last one
 * failing and which image the tags still name, the watcher's own trouble).
 */
export function watchStatusText(status: WatchStatus): {text: string; tone: 'info' | 'busy' | 'success' | 'error'} {
  if (status.phase === 'starting') return {text: `watch: reading ${status.request.contextDir}…`, tone: 'busy'};
  if (status.phase === 'stopping') return {text: 'watch: stopping…', tone: 'busy'};
  const files = `watching ${(status.files ?? 0).toLocaleString('en-US')} file${status.files === 1 ? '' : 's'}`;
  if (status.building) return {text: `rebuilding… · ${files}`, tone: 'busy'};
  if (status.error) return {text: `watch error: ${status.error} · ${files}`, tone: 'error'};
  const last = status.last;
  if (!last) return {text: files, tone: 'info'};
  if (!last.ok) {
    const kept = last.keptImageId ? `kept ${last.keptImageId.replace(/^sha256:/, '').slice(0, 12)}` : 'no image yet';
    return {text: `rebuild failed ${clock(last.at)}: ${last.reason} · ${kept} · ${files}`, tone: 'error'};
  }
  const took = last.latencyMs === undefined ? '' : ` in ${milliseconds(last.latencyMs)}`;
  const cached = last.rerun === 0 ? ' (every step cached)' : '';
  return {text: `rebuilt ${clock(last.at)}${took}: ${last.reason}${cached} · ${files}`, tone: 'success'};
}
