/**
 * COPY/ADD source wildcards with Go's `filepath.Match` rules: `*` is any run of non-`/` characters, `?` one
 * non-`/` character, `[a-z]` / `[^a-z]` a class, `\` escapes the next character. A malformed pattern
 * (unclosed class, trailing `\`) is an error, as Go's ErrBadPattern.
 */
import {InstructionError} from './errors.js';

/** True when `text` holds a wildcard character that filepath.Match would interpret. */
export function hasWildcards(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '*' || c === '?' || c === '[') return true;
    if (c === '\\') i++;
  }
  return false;
}

const compiled = new Map<string, RegExp>();

/** Compiles one path element pattern (no `/` handling needed beyond never matching it) into a RegExp. */
export function compilePathPattern(pattern: string): RegExp {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw badPattern(pattern);
      source += escapeRegExp(pattern[i]);
    } else if (c === '[') {
      i++;
      let negate = false;
      if (pattern[i] === '^') {
        negate = true;
        i++;
      }
      let body = '';
      let first = true;
      for (;;) {
        if (i >= pattern.length) throw badPattern(pattern);
        let ch = pattern[i];
        if (ch === ']' && !first) break;
        first = false;
        if (ch === '\\') {
          i++;
          if (i >= pattern.length) throw badPattern(pattern);
          ch = pattern[i];
        }
        body += escapeClassChar(ch);
        if (pattern[i + 1] === '-' && pattern[i + 2] !== undefined && pattern[i + 2] !== ']') {
          i += 2;
          let end = pattern[i];
          if (end === '\\') {
            i++;
            if (i >= pattern.length) throw badPattern(pattern);
            end = pattern[i];
          }
          if (end < ch) throw badPattern(pattern);
          body += '-' + escapeClassChar(end);
        }
        i++;
      }
      if (body === '') throw badPattern(pattern);
      source += negate ? `(?!/)[^${body}]` : `[${body}]`;
    } else source += escapeRegExp(c);
  }
  const regexp = new RegExp(source + '$', 's');
  compiled.set(pattern, regexp);
  return regexp;
}

/** Go filepath.Match: does the whole of `name` match `pattern`? */
export function matchPath(pattern: string, name: string): boolean {
  return compilePathPattern(pattern).test(name);
}

function badPattern(pattern: string): InstructionError {
  return new InstructionError(`syntax error in pattern: ${JSON.stringify(pattern)}`);
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? '\\' + c : c;
}

function escapeClassChar(c: string): string {
  return /[\\\]^-]/.test(c) ? '\\' + c : c;
}
