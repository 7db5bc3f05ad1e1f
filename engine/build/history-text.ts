/**
 * The `created_by` strings of history entries, written as BuildKit's Dockerfile frontend writes them
 * (comment `buildkit.dockerfile.v0`). BuildKit formats several of them with Go's fmt verbs (`%q` for string
 * lists, `%v` for slices, `%+v` for the healthcheck struct), so those verbs are reproduced here.
 */

export const historyComment = 'buildkit.dockerfile.v0';

/** Go's strconv.Quote for a string. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (code < 0x20 || code === 0x7f) out += '\\x' + code.toString(16).padStart(2, '0');
    else if (code >= 0x80 && code < 0xa0) out += '\\u' + code.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export function goQuotedList(items: readonly string[]): string {
  return '[' + items.map(goQuote).join(' ') + ']';
}

/** Go's `%v` of a []string: `[a b]`. */
export function goList(items: readonly string[]): string {
  return '[' + items.join(' ') + ']';
}

/** Go's time.Duration.String() for a count of nanoseconds. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const negative = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    // Sub-second: the largest unit that keeps the integer part non-zero.
    const [unit, scale] = u < 1e3 ? ['ns', 1] : u < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = trimFraction(u / scale) + unit;
  } else {
    const hours = Math.floor(u / 3600e9);
    u -= hours * 3600e9;
    const minutes = Math.floor(u / 60e9);
    u -= minutes * 60e9;
    const seconds = trimFraction(u / 1e9);
    out = hours > 0 ? `${hours}h${minutes}m${seconds}s` : minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
  }
  return negative ? '-' + out : out;
}

function trimFraction(value: number): string {
  return Number(value.toFixed(9)).toString();
}

export interface HealthcheckValue {
  readonly Test: readonly string[];
  readonly Interval?: number;
  readonly Timeout?: number;
  readonly StartPeriod?: number;
  readonly StartInterval?: number;
  readonly Retries?: number;
}

/** `HEALTHCHECK {Test:[CMD-SHELL curl -f x] Interval:30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}`. */
export function healthcheckHistory(health: HealthcheckValue): string {
  return (
    `HEALTHCHECK {Test:${goList(health.Test)} Interval:${goDuration(health.Interval ?? 0)}` +
    ` Timeout:${goDuration(health.Timeout ?? 0)} StartPeriod:${goDuration(health.StartPeriod ?? 0)}` +
    ` StartInterval:${goDuration(health.StartInterval ?? 0)} Retries:${health.Retries ?? 0}}`
  );
}

/**
 * `RUN |2 A=1 B=2 /bin/sh -c make # buildkit`: the declared ARGs of the stage (with the value the step
 * sees) prefixed with their count, then the argv joined by spaces.
 */
export function runHistory(argv: readonly string[], declaredArgs: readonly {name: string; value: string}[]): string {
  const pairs: string[] = [];
  const seen = new Map<string, number>();
  for (const {name, value} of declaredArgs) {
    const index = seen.get(name);
    if (index === undefined) {
      seen.set(name, pairs.length);
      pairs.push(`${name}=${value}`);
    } else pairs[index] = `${name}=${value}`;
  }
  const prefix = pairs.length ? [`|${pairs.length}`, ...pairs] : [];
  return 'RUN ' + [...prefix, ...argv].join(' ') + ' # buildkit';
}

/** `COPY --chown=1:1 --chmod=644 a b /dst/ # buildkit` (sources and destination as written, after substitution). */
export function copyHistory(options: {
  add: boolean;
  chown?: string;
  chmod?: string;
  sources: readonly string[];
  heredocNames: readonly string[];
  dest: string;
}): string {
  let text = options.add ? 'ADD' : 'COPY';
  if (options.chown) text += ' --chown=' + options.chown;
  if (options.chmod) text += ' --chmod=' + options.chmod;
  for (const source of options.sources) text += ' ' + source;
  for (const name of options.heredocNames) text += ' <<' + name;
  return text + ' ' + options.dest + ' # buildkit';
}
