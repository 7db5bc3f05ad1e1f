/**
 * Figures as the docker CLI prints them, so the workbench and `strata images` read the same: decimal sizes with
 * three significant digits ("7.05MB", "45.6kB") and human durations ("About an hour ago", "3 days ago").
 */

export {humanDuration, humanSize, shortId, timeAgo} from '../format.js';

/** A build step's duration: "0.4s", "12.3s", "2m05s". */
export function stepDuration(milliseconds: number): string {
  if (milliseconds < 60_000) return `${(milliseconds / 1000).toFixed(1)}s`;
  const minutes = Math.floor(milliseconds / 60_000);
  const seconds = Math.floor((milliseconds % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}

/** Cuts text to a width, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width === 1 ? '…' : text.slice(0, width - 1) + '…';
}

/** Pads or cuts to exactly `width` columns. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const cut = truncate(text, width);
  return align === 'left' ? cut.padEnd(width) : cut.padStart(width);
}

/** Splits text into lines of at most `width` columns, breaking at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  if (width <= 0) return [];
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let rest = paragraph;
    while (rest.length > width) {
      let cut = rest.lastIndexOf(' ', width);
      if (cut <= 0) cut = width;
      lines.push(rest.slice(0, cut));
      rest = rest.slice(cut).replace(/^ /, '');
    }
    lines.push(rest);
  }
  return lines;
}

/**
 * A Dockerfile instruction as history records it, with the shell wrapper removed: the legacy builder's
 * `/bin/sh -c #(nop) ENV X=1` and BuildKit's `RUN /bin/sh -c make # buildkit` read as `ENV X=1` and `RUN make`.
 * BuildKit's list of build args in front of a RUN (`RUN |1 V=2 /bin/sh -c ...`) stays: it says why a step differs.
 */
export function instructionText(createdBy: string | undefined): string {
  if (!createdBy) return '';
  return createdBy
    .replace(/^\/bin\/sh -c #\(nop\)\s*/, '')
    .replace(/^\/bin\/sh -c /, 'RUN ')
    .replace(/^RUN (\|\d+(?: \S+=\S*)* )?\/bin\/sh -c /, 'RUN $1')
    .replace(/\s+# buildkit$/, '')
    .trim();
}

/** An instruction without build-arg prefix, to match a history entry with the build step that made it. */
export function stepKey(instruction: string): string {
  return instructionText(instruction).replace(/^RUN \|\d+(?: \S+=\S*)* /, 'RUN ');
}
