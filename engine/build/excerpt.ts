/**
 * The Dockerfile excerpt printed under a build error, as BuildKit prints it:
 *
 *   Dockerfile:5
 *   --------------------
 *      3 |     FROM base
 *      4 |     COPY a /a
 *      5 | >>> RUN exit 3
 *   --------------------
 */
export function dockerfileExcerpt(text: string, file: string, start: number, end = start, context = 2): string {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const from = Math.max(1, start - context);
  const to = Math.min(lines.length, end + context);
  const width = String(to).length;
  let out = `${file}:${start === end ? start : `${start}-${end}`}\n--------------------\n`;
  for (let line = from; line <= to; line++) {
    const marker = line >= start && line <= end ? '>>>' : '   ';
    out += ` ${String(line).padStart(width + 2, ' ')} | ${marker} ${(lines[line - 1] ?? '').replace(/\r$/, '')}\n`;
  }
  return out + '--------------------\n';
}
