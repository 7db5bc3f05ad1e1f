/**
 * Text renderings of build events, for `--progress plain|json|quiet` (strata build and strata watch).
 * A printer is a function of events to lines; it keeps only the little state it needs (step start times)
 * and writes through the function it is given, so it can be tested with exact lines.
 *
 * Plain output follows BuildKit's plain progress:
 *
 *   #3 [2/4] COPY src/ /app/src/
 *   #3 CACHED
 *
 *   #4 [3/4] RUN make
 *   #4 0.104 compiling
 *   #4 DONE 1.2s
 *
 * and adds one line BuildKit cannot give: `#4 cache miss: src/app.js changed`.
 */
import type {BuildEvent, StepRef} from './events.js';

export type ProgressMode = 'plain' | 'json' | 'quiet';

export interface ProgressPrinter {
  (event: BuildEvent): void;
}

export interface PrinterOptions {
  /** Where lines go (each call is one or more whole lines ending in `\n`). */
  readonly write: (text: string) => void;
  /** Milliseconds clock, for output line offsets; default Date.now. */
  readonly now?: () => number;
}

/** `[2/4] COPY ...` or `[builder 2/4] COPY ...`, with the index padded as BuildKit pads it. */
export function stepTitle(step: StepRef): string {
  const width = String(step.total).length;
  const position = `${String(step.index).padStart(width, ' ')}/${step.total}`;
  return `[${step.stage ? step.stage + ' ' : ''}${position}] ${step.instruction}`;
}

export function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(1) + 's';
}

export function createPlainPrinter(options: PrinterOptions): ProgressPrinter {
  const now = options.now ?? Date.now;
  const started = new Map<number, number>();
  const outputTail = new Map<number, string[]>();
  let lastVertex = 0;
  return event => {
    const write = options.write;
    switch (event.type) {
      case 'build-started':
        return;
      case 'step-started':
        started.set(event.vertex, now());
        lastVertex = Math.max(lastVertex, event.vertex);
        write(`#${event.vertex} ${stepTitle(event)}\n`);
        return;
      case 'step-cached':
        write(`#${event.vertex} CACHED\n\n`);
        return;
      case 'step-miss':
        write(`#${event.vertex} cache miss: ${event.reason}\n`);
        return;
      case 'step-output': {
        const offset = ((now() - (started.get(event.vertex) ?? now())) / 1000).toFixed(3);
        write(`#${event.vertex} ${offset} ${event.line}\n`);
        const tail = outputTail.get(event.vertex) ?? [];
        tail.push(`${offset} ${event.line}`);
        if (tail.length > 10) tail.shift();
        outputTail.set(event.vertex, tail);
        return;
      }
      case 'layer-committed':
        return;
      case 'step-done':
        if (!event.cached) write(`#${event.vertex} DONE ${formatSeconds(event.durationMs)}\n\n`);
        return;
      case 'build-done': {
        const vertex = lastVertex + 1;
        let text = `#${vertex} exporting to image\n#${vertex} exporting layers done\n`;
        text += `#${vertex} writing image ${event.imageId} done\n`;
        for (const tag of event.tags) text += `#${vertex} naming to ${tag} done\n`;
        text += `#${vertex} DONE 0.0s\n`;
        write(text);
        return;
      }
      case 'build-failed': {
        let text = '';
        if (event.step) {
          text += `#${event.step.vertex} ERROR: ${event.error}\n`;
          text += '------\n';
          text += ` > ${stepTitle(event.step)}:\n`;
          for (const line of outputTail.get(event.step.vertex) ?? []) text += line + '\n';
          text += '------\n';
        }
        if (event.excerpt) text += event.excerpt.endsWith('\n') ? event.excerpt : event.excerpt + '\n';
        text += `ERROR: failed to solve: ${event.error}\n`;
        write(text);
        return;
      }
    }
  };
}

/** One JSON object per event and line. */
export function createJsonPrinter(options: PrinterOptions): ProgressPrinter {
  return event => options.write(JSON.stringify(event) + '\n');
}

/** Prints nothing while building; the command prints the image ID at the end. */
export function createQuietPrinter(): ProgressPrinter {
  return () => {};
}

export function createPrinter(mode: ProgressMode, options: PrinterOptions): ProgressPrinter {
  if (mode === 'json') return createJsonPrinter(options);
  if (mode === 'quiet') return createQuietPrinter();
  return createPlainPrinter(options);
}
