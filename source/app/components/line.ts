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

const FOREGROUND: Record<string, number> = {
  black: 30, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, white: 37, gray: 90, grey: 90,
  redBright: 91, greenBright: 92, yellowBright: 93, blueBright: 94, magentaBright: 95, cyanBright: 96, whiteBright: 97,
};

/**
 * The line as one string with SGR colour codes (or plain, when the terminal has no colours). A panel drawn as a
 * single text of such lines costs Ink one node to lay out and measure, instead of one per coloured segment,
 * which is what keeps a key press well under a frame.
 */
export function lineToString(line: Line, colors: boolean): string {
  let out = '';
  for (const segment of line) {
    if (!colors) {
      out += segment.text;
      continue;
    }
    const codes: number[] = [];
    if (segment.bold) codes.push(1);
    if (segment.dim) codes.push(2);
    if (segment.inverse) codes.push(7);
    if (segment.color && FOREGROUND[segment.color]) codes.push(FOREGROUND[segment.color]);
    if (segment.backgroundColor && FOREGROUND[segment.backgroundColor]) codes.push(FOREGROUND[segment.backgroundColor] + 10);
    out += codes.length > 0 ? `\u001B[${codes.join(';')}m${segment.text}\u001B[0m` : segment.text;
  }
  return out;
}
