/**
 * Variable substitution and word splitting as BuildKit's Dockerfile shell lexer does them (not a shell: no
 * command substitution, globbing or arithmetic). Used by the builder for ADD COPY ENV EXPOSE FROM LABEL
 * STOPSIGNAL USER VOLUME WORKDIR, ARG defaults and flag values; RUN CMD ENTRYPOINT are left to the real shell.
 *
 * Rules, in short:
 * - `$V`, `${V}`; `${V:-w}` `${V-w}` `${V:+w}` `${V+w}` `${V:?m}` `${V?m}`; `${V#p}` `${V##p}` `${V%p}` `${V%%p}`
 *   (`?` and `*` globs), `${V/p/r}` `${V//p/r}`. `w` may nest further substitutions.
 * - Names are letters, digits and `_`; `$1`.. and the special parameters `$@ $* $# $? $- $$ $! $0` read as unset.
 * - Single quotes block everything; double quotes allow `$` and let the escape token escape `"`, `$` and itself.
 * - Outside quotes the escape token escapes any character; a trailing escape token is dropped.
 * - An unset variable is empty, a lone `$` stays `$`; `${}` is "bad substitution", an open `${` "missing '}'".
 * - Word splitting happens after substitution: spaces that come from a variable split words, quoted text and
 *   escaped characters never do.
 */
import {SubstitutionError} from './errors.js';

/** Variables visible to a substitution. A function returns undefined for an unset variable. */
export type ShellEnv =
  | ReadonlyMap<string, string>
  | Readonly<Record<string, string>>
  | ((name: string) => string | undefined);

export interface LexOptions {
  /** `\` (default) or `` ` ``, from the `# escape=` directive. */
  readonly escapeToken?: string;
  /** Keep quote characters in the output (used to find heredoc names). */
  readonly rawQuotes?: boolean;
  /** Keep escape tokens in the output. */
  readonly rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (used for heredoc bodies). */
  readonly skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of making them empty. */
  readonly skipUnsetEnv?: boolean;
}

export interface SubstitutionResult {
  /** The word after substitution and quote removal, inner spaces kept. */
  readonly result: string;
  /** The same, split into words. */
  readonly words: string[];
  /** Variable names that were looked up and found. */
  readonly matched: Set<string>;
  /** Variable names that were looked up and not set. */
  readonly unmatched: Set<string>;
}

/** Substitute variables in one word; quotes are removed, spaces kept. Throws SubstitutionError. */
export function processWord(word: string, env: ShellEnv, options: LexOptions = {}): string {
  return substitute(word, env, options).result;
}

/** Substitute variables and split the result into words (EXPOSE, heredoc detection). Throws SubstitutionError. */
export function processWords(word: string, env: ShellEnv, options: LexOptions = {}): string[] {
  return substitute(word, env, options).words;
}

/** Substitute and report which variables were used: what a cache key that depends on ARG values needs. */
export function substitute(word: string, env: ShellEnv, options: LexOptions = {}): SubstitutionResult {
  const lexer = new WordLexer(word, toLookup(env), options);
  try {
    const [result, words] = lexer.processStopOn(undefined, options.rawEscapes ?? false);
    return {result, words, matched: lexer.matched, unmatched: lexer.unmatched};
  } catch (error) {
    if (error instanceof SubstitutionError) {
      throw new SubstitutionError(`failed to process "${word}": ${error.message}`);
    }
    throw error;
  }
}

/** Expand a heredoc body for `COPY <<EOF` with an unquoted delimiter: variables only, quotes kept. */
export function expandHeredocBody(body: string, env: ShellEnv): string {
  return processWord(body, env, {skipProcessQuotes: true});
}

const EMPTY_ENV: ShellEnv = () => undefined;
export {EMPTY_ENV};

function toLookup(env: ShellEnv): (name: string) => string | undefined {
  if (typeof env === 'function') return env;
  if (env instanceof Map) return name => env.get(name);
  const record = env as Readonly<Record<string, string>>;
  return name => (Object.hasOwn(record, name) ? record[name] : undefined);
}

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;

/** Go's unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  switch (ch) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case '\u0085':
    case '\u00a0':
    case '\u1680':
    case '\u2028':
    case '\u2029':
    case '\u202f':
    case '\u205f':
    case '\u3000':
      return true;
    default: {
      const code = ch.codePointAt(0) ?? 0;
      return code >= 0x2000 && code <= 0x200a;
    }
  }
}

function isSpecialParam(ch: string): boolean {
  return '@*#?-$!0'.includes(ch) && ch.length === 1;
}

/** Collects words: unquoted spaces (including those substituted in) end a word. */
class WordCollector {
  private word = '';
  private inWord = false;
  private readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length > 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }

  addString(text: string): void {
    for (const ch of text) this.addChar(ch);
  }

  addRawString(text: string): void {
    this.word += text;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class WordLexer {
  private readonly chars: string[];
  private pos = 0;
  private rawEscapes: boolean;
  private readonly escapeToken: string;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    source: string,
    private readonly lookup: (name: string) => string | undefined,
    private readonly options: LexOptions,
  ) {
    this.chars = Array.from(source);
    this.escapeToken = options.escapeToken ?? '\\';
    this.rawEscapes = options.rawEscapes ?? false;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    const ch = this.chars[this.pos];
    if (ch !== undefined) this.pos++;
    return ch;
  }

  private getEnv(name: string): string | undefined {
    const value = this.lookup(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }

  /** Read until `stop` (consumed) or the end; a missing `stop` is an error. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): [string, string[]] {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new WordCollector();
      const quotes = !this.options.skipProcessQuotes;
      for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
        if (stop !== undefined && ch === stop) {
          this.pos++;
          return [result, words.finish()];
        }
        if (ch === '$') {
          const text = this.processDollar();
          result += text;
          words.addString(text);
          continue;
        }
        if (quotes && (ch === "'" || ch === '"')) {
          const text = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += text;
          words.addRawString(text);
          continue;
        }
        this.pos++;
        if (ch === this.escapeToken) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += ch;
          }
          const escaped = this.next();
          if (escaped === undefined) break;
          words.addRawChar(escaped);
          result += escaped;
        } else {
          words.addChar(ch);
          result += ch;
        }
      }
      if (stop !== undefined) {
        throw new SubstitutionError(`unexpected end of statement while looking for matching ${stop}`);
      }
      return [result, words.finish()];
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    const raw = this.options.rawQuotes ?? false;
    let result = raw ? "'" : '';
    this.pos++;
    for (;;) {
      const ch = this.next();
      if (ch === undefined) {
        throw new SubstitutionError('unexpected end of statement while looking for matching single-quote');
      }
      if (ch === "'") return raw ? result + ch : result;
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    const raw = this.options.rawQuotes ?? false;
    let result = raw ? '"' : '';
    this.pos++;
    for (;;) {
      const peeked = this.peek();
      if (peeked === undefined) {
        throw new SubstitutionError('unexpected end of statement while looking for matching double-quote');
      }
      if (peeked === '"') {
        this.pos++;
        return raw ? result + '"' : result;
      }
      if (peeked === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.next() as string;
      if (ch === this.escapeToken) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === undefined) continue; // a trailing escape is dropped; the missing quote is reported next
        if (after === '"' || after === '$' || after === this.escapeToken) ch = this.next() as string;
      }
      result += ch;
    }
  }

  private processName(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && DIGIT.test(ch)) {
        while (this.peek() !== undefined && DIGIT.test(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === '' && isSpecialParam(ch)) {
        this.pos++;
        return ch;
      }
      if (!LETTER.test(ch) && !DIGIT.test(ch) && ch !== '_') break;
      this.pos++;
      name += ch;
    }
    return name;
  }

  private processDollar(): string {
    this.pos++; // the '$'
    const skipUnset = this.options.skipUnsetEnv ?? false;
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && skipUnset) return '$' + name;
      return value ?? '';
    }
    this.pos++; // the '{'
    const first = this.peek();
    if (first === undefined) throw new SubstitutionError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new SubstitutionError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === undefined) throw new SubstitutionError("syntax error: missing '}'");
    let modifier = ch;
    if (ch === '}') {
      const value = this.getEnv(name);
      if (value === undefined && skipUnset) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === '/') return this.processReplace(name);
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      if (ch === undefined) throw new SubstitutionError("syntax error: missing '}'");
      modifier += ch;
    } else if (!'+-?#%'.includes(ch)) {
      throw new SubstitutionError(`unsupported modifier (${modifier}) in substitution`);
    }
    let word: string;
    try {
      [word] = this.processStopOn('}', ch === '#' || ch === '%');
    } catch (error) {
      if (error instanceof SubstitutionError && this.peek() === undefined) {
        throw new SubstitutionError("syntax error: missing '}'");
      }
      throw error;
    }
    const value = this.getEnv(name);
    if (value === undefined && skipUnset) return `\${${name}${modifier}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return unset ? word : (value as string);
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) throw new SubstitutionError(`${name}: ${word || 'is not allowed to be unset'}`);
        if (unset) throw new SubstitutionError(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case '#':
      case '%': {
        // one `#`/`%` removes the shortest match, two the longest
        const greedy = word.startsWith(ch);
        const pattern = greedy ? word.slice(1) : word;
        return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
      }
      default:
        throw new SubstitutionError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  private processReplace(name: string): string {
    const replaceAll = this.peek() === '/';
    if (replaceAll) this.pos++;
    let pattern: string;
    let replacement: string;
    try {
      [pattern] = this.processStopOn('/', true);
    } catch (error) {
      if (error instanceof SubstitutionError && this.peek() === undefined) {
        throw new SubstitutionError("syntax error: missing '/' in ${}");
      }
      throw error;
    }
    try {
      [replacement] = this.processStopOn('}', true);
    } catch (error) {
      if (error instanceof SubstitutionError && this.peek() === undefined) {
        throw new SubstitutionError("syntax error: missing '}'");
      }
      throw error;
    }
    const value = this.getEnv(name);
    if (value === undefined && this.options.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
    const regex = shellPatternToRegex(pattern, true, false, replaceAll);
    const text = value ?? '';
    if (replaceAll) return text.replace(regex, () => replacement);
    const match = regex.exec(text);
    if (!match) return text;
    return text.slice(0, match.index) + replacement + text.slice(match.index + match[0].length);
  }
}

const REGEX_SPECIAL = new Set(['[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$']);

/**
 * A `${V#p}`-style glob as a regular expression: `?` one character, `*` any run (shortest unless greedy),
 * `\` escapes `*`, `?` and `\`, and is dropped before `}` and `/` (which it only protected from the lexer).
 */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '*') {
      out += greedy ? '[^\\n]*' : '[^\\n]*?';
    } else if (ch === '?') {
      out += '[^\\n]';
    } else if (ch === '\\') {
      const following = chars[i + 1];
      if (following === '}' || following === '/') continue;
      if (following !== '*' && following !== '?' && following !== '\\') {
        throw new SubstitutionError(
          `invalid pattern (${pattern}) in substitution: invalid escape '\\${following ?? ''}'`,
        );
      }
      out += '\\' + following;
      i++;
    } else if (REGEX_SPECIAL.has(ch)) {
      out += '\\' + ch;
    } else {
      out += ch;
    }
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = shellPatternToRegex(pattern, greedy, true).exec(value);
  return match ? value.slice(match[0].length) : value;
}

/** Reverse a glob keeping `\x` pairs together, so a suffix search becomes a prefix search. */
function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '\\' && i !== chars.length - 1) {
      out.unshift('\\' + chars[i + 1]);
      i += 2;
    } else {
      out.unshift(chars[i]);
      i++;
    }
  }
  return out.join('');
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const reversed = Array.from(value).reverse().join('');
  const trimmed = trimPrefix(reversePattern(pattern), reversed, greedy);
  return Array.from(trimmed).reverse().join('');
}
