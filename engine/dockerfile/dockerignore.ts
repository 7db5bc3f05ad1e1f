/**
 * `.dockerignore` as the Docker engine reads and matches it (moby/patternmatcher rules).
 *
 * Reading: a BOM is dropped; a line with `#` in column 1 is a comment (checked before trimming, so `  #x` is the
 * pattern `#x`); lines are trimmed and blank ones skipped; a leading `!` marks an exception; the rest is cleaned
 * like Go's filepath.Clean (`.`, `..`, doubled and trailing `/` removed) and loses one leading `/`.
 * A lone `!` and a malformed glob such as `[` are errors.
 *
 * Matching: paths are relative to the context root with `/` separators. `*` and `?` never cross `/`, `[...]` is
 * a class, `\` escapes; a double star spans any number of folders (double-star-slash-x also matches `x` at the
 * root; `foo/` plus a double star is a prefix match). A pattern that matches a parent folder matches the path. The last matching rule wins.
 *
 * Walking: an excluded folder is skipped entirely unless an exception pattern, read as a literal string, starts
 * with `<dir>/` (so `!dir/keep` reaches into `dir`, but an exception starting with a double star does not). Callers that send a context must
 * still send the Dockerfile and `.dockerignore` themselves: pass them as `alwaysInclude`.
 */
import {DockerignoreError} from './errors.js';

export interface DockerignorePattern {
  /** The cleaned pattern, without the `!`. */
  readonly pattern: string;
  /** A `!` rule that re-includes what earlier rules excluded. */
  readonly exclusion: boolean;
  /** 1-based line in the file; 0 for patterns added by `alwaysInclude`. */
  readonly line: number;
}

export interface DockerignoreMatcher {
  readonly patterns: readonly DockerignorePattern[];
  /** Whether the path (or a folder above it) ends up excluded. A trailing `/` marks a folder. */
  matches(path: string): boolean;
  /** Whether an exception pattern could re-include something inside `dir` (the walk rule). */
  mayMatchInside(dir: string): boolean;
  /** The folder is excluded and no exception reaches into it: the walk can skip it without looking inside. */
  excludesDirEntirely(dir: string): boolean;
}

export interface DockerignoreOptions {
  /** Paths that are never excluded, as the CLI does for the Dockerfile and `.dockerignore`. */
  readonly alwaysInclude?: readonly string[];
}

/** Read `.dockerignore` text into a matcher. Throws DockerignoreError on a lone `!` or a malformed pattern. */
export function parseDockerignore(text: string, options: DockerignoreOptions = {}): DockerignoreMatcher {
  const rules: CompiledPattern[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    let raw = lines[index];
    if (index === 0 && raw.startsWith('\ufeff')) raw = raw.slice(1);
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.startsWith('#')) continue;
    let pattern = goTrimSpace(raw);
    if (pattern === '') continue;
    const exclusion = pattern.startsWith('!');
    if (exclusion) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    if (exclusion && pattern === '') throw new DockerignoreError(`illegal exclusion pattern "!" on line ${index + 1}`, index + 1);
    rules.push(compilePattern(pattern, exclusion, index + 1));
  }
  for (const path of options.alwaysInclude ?? []) rules.push(compilePattern(cleanPath(path), true, 0));
  return new Matcher(rules);
}

class Matcher implements DockerignoreMatcher {
  readonly patterns: readonly DockerignorePattern[];
  private readonly hasExclusions: boolean;

  constructor(private readonly rules: readonly CompiledPattern[]) {
    this.patterns = rules.map(({pattern, exclusion, line}) => ({pattern, exclusion, line}));
    this.hasExclusions = rules.some(rule => rule.exclusion);
  }

  matches(path: string): boolean {
    const parent = dirname(path);
    const parentDirs = parent === '.' ? [] : parent.split('/');
    let matched = false;
    for (const rule of this.rules) {
      // an include rule cannot change an excluded path, nor an exception an included one
      if (rule.exclusion !== matched) continue;
      let match = rule.test(path);
      for (let i = 0; !match && i < parentDirs.length; i++) match = rule.test(parentDirs.slice(0, i + 1).join('/'));
      if (match) matched = !rule.exclusion;
    }
    return matched;
  }

  mayMatchInside(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const prefix = stripTrailingSlashes(dir) + '/';
    return this.rules.some(rule => rule.exclusion && (rule.pattern + '/').startsWith(prefix));
  }

  excludesDirEntirely(dir: string): boolean {
    return this.matches(dir) && !this.mayMatchInside(dir);
  }
}

interface CompiledPattern extends DockerignorePattern {
  test(path: string): boolean;
}

function stripTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}

/** Go's filepath.Dir for `/`-separated paths. */
function dirname(path: string): string {
  const slash = path.lastIndexOf('/');
  return cleanPath(slash < 0 ? '' : path.slice(0, slash + 1));
}

/** Go's filepath.Clean for `/`-separated paths. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

const SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, 'g');

function goTrimSpace(text: string): string {
  return text.replace(TRIM, '');
}

const REGEX_ESCAPED = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

function escapeLiteral(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? '\\' + ch : ch;
}

/**
 * Compile one cleaned pattern. Patterns without wildcards compare as strings; `**` at the start or end becomes a
 * suffix or prefix test; everything else becomes an anchored regular expression that also matches below itself.
 */
function compilePattern(pattern: string, exclusion: boolean, line: number): CompiledPattern {
  checkGlobSyntax(pattern, line);
  const chars = Array.from(pattern);
  let source = '^';
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0, token = 0; i < chars.length; i++, token++) {
    const ch = chars[i];
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++; // `**/` reads as `**`
        if (i + 1 >= chars.length) {
          if (kind === 'exact') kind = 'prefix';
          else {
            source += '.*';
            kind = 'regexp';
          }
        } else {
          source += '(.*/)?';
          kind = 'regexp';
        }
        if (token === 0) kind = 'suffix';
      } else {
        source += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      kind = 'regexp';
    } else if (REGEX_ESCAPED.has(ch)) {
      source += '\\' + ch;
    } else if (ch === '\\') {
      if (i + 1 < chars.length) {
        source += escapeLiteral(chars[++i]);
        kind = 'regexp';
      } else {
        source += '\\\\';
      }
    } else if (ch === '[' || ch === ']') {
      source += ch;
      kind = 'regexp';
    } else {
      source += ch;
    }
  }
  let test: (path: string) => boolean;
  switch (kind) {
    case 'exact':
      test = path => path === pattern;
      break;
    case 'prefix': {
      const prefix = pattern.slice(0, -2);
      test = path => path.startsWith(prefix);
      break;
    }
    case 'suffix': {
      const suffix = pattern.slice(2);
      test = path => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
      break;
    }
    case 'regexp': {
      let regex: RegExp;
      try {
        regex = new RegExp(source + '(/.*)?$', 'u');
      } catch (error) {
        throw new DockerignoreError(`invalid pattern ${JSON.stringify(pattern)} on line ${line}: syntax error in pattern`, line);
      }
      test = path => regex.test(path);
      break;
    }
  }
  return {pattern, exclusion, line, test};
}

/** The syntax check of Go's filepath.Match: classes must close, ranges be ordered, `\` not end the pattern. */
function checkGlobSyntax(pattern: string, line: number): void {
  const bad = (): never => {
    throw new DockerignoreError(`invalid pattern ${JSON.stringify(pattern)} on line ${line}: syntax error in pattern`, line);
  };
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '\\') {
      if (i + 1 >= chars.length) bad();
      i++;
    } else if (ch === '[') {
      i++;
      if (chars[i] === '^') i++;
      let ranges = 0;
      for (;;) {
        if (i >= chars.length) bad();
        if (chars[i] === ']' && ranges > 0) break;
        const readChar = (): string => {
          let c = chars[i];
          if (c === undefined || c === '-' || c === ']') bad();
          if (c === '\\') {
            i++;
            c = chars[i];
            if (c === undefined) bad();
          }
          i++;
          return c;
        };
        const lo = readChar();
        if (chars[i] === '-') {
          i++;
          const hi = readChar();
          if ((lo.codePointAt(0) ?? 0) > (hi.codePointAt(0) ?? 0)) bad();
        }
        ranges++;
      }
    }
  }
}
