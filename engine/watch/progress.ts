/**
 * Text renderings of watch events for `strata watch --progress plain|json`. Build events of each rebuild go
 * through the builder's printer (a fresh one per build, so step numbers restart at #1); the watcher's own
 * events get one line each:
 *
 *   watching 2000 files in /src/app (Dockerfile, .dockerignore); rebuilding 100 ms after the last change
 *   change: src/app.js changed
 *   ...build progress...
 *   rebuilt app:dev sha256:3f2a9c1b7d4e in 84 ms: 2 steps re-ran
 *     [2/3] COPY src/ /app/src/  (src/app.js changed)
 *     [3/3] RUN make  (previous step changed)
 *   rebuild failed, app:dev still names sha256:3f2a9c1b7d4e: fix it and save again
 */
import {createPrinter, stepTitle, type ProgressPrinter} from '../build/progress.js';
import type {WatchEvent} from './events.js';

export type WatchProgressMode = 'plain' | 'json';

export interface WatchPrinterOptions {
  readonly write: (text: string) => void;
  /** Milliseconds clock for RUN output offsets; default Date.now. */
  readonly now?: () => number;
}

export function createWatchPrinter(mode: WatchProgressMode, options: WatchPrinterOptions): (event: WatchEvent) => void {
  if (mode === 'json') return event => options.write(JSON.stringify(event) + '\n');
  const write = options.write;
  let build: ProgressPrinter | undefined;
  return event => {
    switch (event.type) {
      case 'watching': {
        const names = [basename(event.dockerfile), ...(event.ignoreFile ? [basename(event.ignoreFile)] : [])].join(', ');
        const files = `${event.files} file${event.files === 1 ? '' : 's'}`;
        write(`watching ${files} in ${event.contextDir} (${names}); rebuilding ${event.debounceMs} ms after the last change\n`);
        return;
      }
      case 'change-detected':
        write(`\nchange: ${event.reason}\n`);
        return;
      case 'change-ignored':
        write(`unchanged: ${event.path} (${event.why})\n`);
        return;
      case 'rebuild-queued':
        write(`queued: ${event.paths.join(', ')} changed during the build; one more build follows\n`);
        return;
      case 'rebuilt': {
        const name = event.tags[0] ? `${event.tags[0]} ` : '';
        const id = shortDigest(event.imageId);
        if (!event.imageChanged && event.steps.length === 0) {
          write(`up to date: ${name}${id} (no step re-ran)\n`);
          return;
        }
        const count = event.steps.length;
        let text = `rebuilt ${name}${id} in ${Math.round(event.latencyMs)} ms: ${count === 0 ? 'no step re-ran (config only)' : `${count} step${count === 1 ? '' : 's'} re-ran`}\n`;
        for (const step of event.steps) text += `  ${stepTitle(step)}  (${step.reason})\n`;
        write(text);
        return;
      }
      case 'image-pruned':
        write(`removed the replaced image ${shortDigest(event.imageId)}\n`);
        return;
      case 'rebuild-failed': {
        const kept = event.keptImageId ? shortDigest(event.keptImageId) : 'no image yet';
        write(`rebuild failed (${event.code}); keeping ${kept}: fix it and save again\n`);
        if (event.hint) write(`hint: ${event.hint}\n`);
        return;
      }
      case 'watch-error':
        write(`watch error: ${event.error}\n`);
        return;
      case 'watch-stopped':
        write(`stopped after ${event.builds} build${event.builds === 1 ? '' : 's'}\n`);
        return;
      default:
        if (event.type === 'build-started') build = createPrinter('plain', {write, now: options.now});
        (build ??= createPrinter('plain', {write, now: options.now}))(event);
    }
  };
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `sha256:` and the first 12 hex digits, as image lists show IDs. */
function shortDigest(id: string): string {
  return id.startsWith('sha256:') ? id.slice(0, 19) : id.slice(0, 12);
}
