/**
 * A screen line as coloured segments. Panels build lines (pure, cheap); `LineView` draws one. Cutting and
 * padding happen here, so that every row of a panel is exactly as wide as the panel and nothing wraps.
 */
export interface Segment {
  readonly text: string;
  readonly color?: string;
  readonly backgroundColor?: string;
  readonly bold?: boolean;
  readonly dim?: boolean;
  readonly inverse?: boolean;
}

export type Line = readonly Segment[];

export function plain(text: string, style: Omit<Segment, 'text'> = {}): Line {
  return [{text, ...style}];
}

export function lineWidth(line: Line): number {
  let width = 0;
  for (const segment of line) width += segment.text.length;
  return width;
}

/** Cuts the line to `width` columns (ending in an ellipsis when cut) and pads it with spaces to exactly `width`. */
export function fitLine(line: Line, width: number): Line {
  const total = lineWidth(line);
  if (total === width) return line;
  if (total < width) {
    const last = line[line.length - 1];
    const pad = ' '.repeat(width - total);
    // Padding takes the style of the last segment so a highlighted row stays highlighted to the edge.
    if (last && (last.inverse || last.backgroundColor)) return [...line, {...last, text: pad}];
    return [...line, {text: pad}];
  }
  const out: Segment[] = [];
  let left = width;
  for (const segment of line) {
    if (left <= 0) break;
    if (segment.text.length <= left) {
      out.push(segment);
      left -= segment.text.length;
    } else {
      out.push({...segment, text: left > 1 ? segment.text.slice(0, left - 1) + '…' : '…'});
      left = 0;
    }
  }
  return out;
}

/** Marks a whole line as the selected row. */
export function highlight(line: Line, focused: boolean, colors: {text: string; background: string}): Line {
  return line.map(segment => focused
    ? {...segment, color: colors.text, backgroundColor: colors.background, dim: false}
    : {...segment, inverse: true});
}
