/**
 * A Dockerfile error shown as code, the way BuildKit prints failed steps and Ink's ErrorOverview shows a
 * stack frame: the location, a few numbered lines around it, the offending lines marked with `>>>`.
 *
 *   Dockerfile:3
 *   --------------------
 *      1 |     FROM alpine
 *      2 |
 *      3 | >>> CPOY a b
 *   --------------------
 *   error: unknown instruction CPOY; did you mean COPY?
 */

export interface ExcerptOptions {
  /** File name in the heading; default `Dockerfile`. */
  readonly file?: string;
  /** Lines shown before and after the marked range; default 2. */
  readonly context?: number;
  /** Word before the message; default `error`. */
  readonly severity?: string;
  /** Most marked lines shown before the middle of a long range is elided; default 8. */
  readonly maxMarked?: number;
}

const RULE = '--------------------';

/**
 * Render lines `startLine..endLine` (1-based, inclusive) of `text` with context, followed by `message` when it is
 * not empty. Lines outside the file are clamped, so a location past the end still renders.
 */
export function formatDockerfileExcerpt(
  text: string,
  startLine: number,
  endLine: number,
  message: string,
  options: ExcerptOptions = {},
): string {
  const file = options.file ?? 'Dockerfile';
  const context = options.context ?? 2;
  const maxMarked = Math.max(2, options.maxMarked ?? 8);
  const lines = text.replace(/^\ufeff/, '').split('\n').map(line => line.replace(/\r$/, ''));
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const last = Math.max(lines.length, 1);
  const start = Math.min(Math.max(startLine, 1), last);
  const end = Math.min(Math.max(endLine, start), last);
  const heading = `${file}:${start === end ? start : `${start}-${end}`}`;

  const shown: (number | 'gap')[] = [];
  for (let n = Math.max(1, start - context); n < start; n++) shown.push(n);
  if (end - start + 1 > maxMarked) {
    const head = maxMarked - 2;
    for (let n = start; n < start + head; n++) shown.push(n);
    shown.push('gap');
    for (let n = end - 1; n <= end; n++) shown.push(n);
  } else {
    for (let n = start; n <= end; n++) shown.push(n);
  }
  for (let n = end + 1; n <= Math.min(last, end + context); n++) shown.push(n);

  const width = Math.max(4, String(Math.min(last, end + context)).length);
  const out = [heading, RULE];
  for (const entry of shown) {
    if (entry === 'gap') {
      out.push(`${' '.repeat(width)} | ...`);
      continue;
    }
    const marker = entry >= start && entry <= end ? '>>>' : '   ';
    const code = (lines[entry - 1] ?? '').replace(/\t/g, '    ');
    out.push(`${String(entry).padStart(width)} | ${marker} ${code}`.trimEnd());
  }
  out.push(RULE);
  if (message) out.push(`${options.severity ?? 'error'}: ${message}`);
  return out.join('\n');
}
