/**
 * Stage 1 of the Dockerfile front end: text -> AST, the way BuildKit's parser reads it.
 *
 * - Lines end at `\n`; trailing `\r`s are dropped. A BOM on the first line is ignored.
 * - Parser directives (`# syntax=`, `# escape=`, `# check=`) count only before anything else.
 * - `#` starts a comment only at the start of a (left-trimmed) line; comment lines inside a continued
 *   instruction are removed, blank ones are skipped with a warning.
 * - The escape token at the end of a line (trailing spaces allowed, but not an escaped escape token) continues
 *   the instruction; the logical line is the pieces concatenated.
 * - Keywords are case-insensitive; unknown ones parse (with no arguments) and are rejected by `instructions.ts`.
 * - `--flag` words right after the keyword are flags; `--` ends them.
 * - RUN/COPY/ADD (also under ONBUILD) in shell form may carry heredocs (`<<EOF`, `<<-EOF`, quoted names, several
 *   per line); their bodies follow the instruction's last line.
 *
 * Pure: no file system. Every failure is a DockerfileSyntaxError with a line range.
 */
import {DockerfileSyntaxError} from './errors.js';
import {processWords, EMPTY_ENV} from './shell-lexer.js';
import {SubstitutionError} from './errors.js';

/** A heredoc attached to an instruction. `content` includes the line ends; the terminator line is not in it. */
export interface Heredoc {
  /** The delimiter word with quotes removed (`EOF` for `<<"EOF"`). */
  readonly name: string;
  /** The `n` of `n<<EOF`; 0 when absent. */
  readonly fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the builder must not substitute in the body. */
  readonly expand: boolean;
  /** `<<-`: leading tabs are stripped from body lines (and the terminator may be tab-indented). */
  readonly chomp: boolean;
  readonly content: string;
}

/**
 * One instruction of the AST, BuildKit's `Node` without the linked list. `args` is what BuildKit keeps in the
 * `Next` chain: for ENV/LABEL it is `key, value, sep` triples (sep `=` or `""` for the legacy `KEY value` form), for
 * HEALTHCHECK `[type, ...cmd]`; for ONBUILD `args` is empty and `child` is the wrapped instruction.
 */
export interface InstructionNode {
  /** The keyword as written (`copy`, `COPY`...). */
  readonly keyword: string;
  /** The keyword lowercased. */
  readonly name: string;
  /** `--name[=value]` words before the arguments, as written. */
  readonly flags: readonly string[];
  readonly args: readonly string[];
  /** Arguments were a valid JSON string array (exec form). */
  readonly json: boolean;
  readonly child?: InstructionNode;
  readonly heredocs: readonly Heredoc[];
  /** The logical line (continuations joined, comments removed), as BuildKit's `Original`. */
  readonly original: string;
  /** The raw source lines from startLine to endLine, heredoc bodies included. */
  readonly sourceText: string;
  /** 1-based, inclusive. */
  readonly startLine: number;
  readonly endLine: number;
  /** Comment lines directly before the instruction, `#` and surrounding spaces removed. */
  readonly comments: readonly string[];
}

export interface ParserDirective {
  readonly name: 'syntax' | 'escape' | 'check';
  readonly value: string;
  readonly line: number;
}

export interface ParseWarning {
  /** Stable rule name, as BuildKit's checks name them where one exists. */
  readonly rule: string;
  readonly message: string;
  readonly line: number;
  readonly endLine: number;
}

export interface ParsedAst {
  readonly children: InstructionNode[];
  readonly directives: ParserDirective[];
  readonly escapeChar: '\\' | '`';
  readonly warnings: ParseWarning[];
}

export interface ParseOptions {
  /** Name used in error locations; default `Dockerfile`. */
  readonly file?: string;
}

const WHITESPACE_RUN = /[\t\v\f\r ]+/;

/** Go's unicode.IsSpace as a regex class body. */
const GO_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const LEADING_TABS = /^\t+/gm;
const LEADING_TAB_RUN = /^\t+/;
const QUOTE = /['"]/;

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);
const NO_COMMENTS: readonly string[] = Object.freeze([]);
const NO_FLAGS: readonly string[] = Object.freeze([]);
const NO_HEREDOCS: readonly Heredoc[] = Object.freeze([]);

/**
 * The 18 keywords by length and first letter (`add` and `arg` share one): a keyword written in upper or lower
 * case gets its lowercase name without a toLowerCase or a string hash per line.
 */
const KEYWORDS_BY_SHAPE = new Map<number, string[]>();
for (const name of ['from', 'run', 'copy', 'add', 'env', 'arg', 'label', 'expose', 'volume', 'user', 'workdir', 'cmd', 'entrypoint', 'shell', 'healthcheck', 'stopsignal', 'onbuild', 'maintainer']) {
  const shape = keywordShape(name.length, name.charCodeAt(0));
  const list = KEYWORDS_BY_SHAPE.get(shape) ?? [];
  list.push(name);
  KEYWORDS_BY_SHAPE.set(shape, list);
}

function keywordShape(length: number, firstCode: number): number {
  return length * 256 + (firstCode | 0x20); // | 0x20 lowercases an ASCII letter
}

/**
 * Set by `keywordName`: the shared constant equal to the keyword when it is one of the 18 in upper or lower
 * case, else ''. Nodes keep the constant, so later comparisons with it are pointer comparisons.
 */
let sharedKeyword = '';

/** The keyword lowercased. */
function keywordName(keyword: string, firstCode: number): string {
  sharedKeyword = '';
  const candidates = KEYWORDS_BY_SHAPE.get(keywordShape(keyword.length, firstCode));
  if (candidates !== undefined) {
    for (let i = 0; i < candidates.length; i++) {
      const name = candidates[i];
      const upper = KEYWORD_UPPER[name];
      if (keyword === upper) sharedKeyword = upper;
      else if (keyword === name) sharedKeyword = name;
      else continue;
      return name;
    }
  }
  return keyword.toLowerCase();
}

const KEYWORD_UPPER: Readonly<Record<string, string>> = {
  from: 'FROM', run: 'RUN', copy: 'COPY', add: 'ADD', env: 'ENV', arg: 'ARG', label: 'LABEL', expose: 'EXPOSE',
  volume: 'VOLUME', user: 'USER', workdir: 'WORKDIR', cmd: 'CMD', entrypoint: 'ENTRYPOINT', shell: 'SHELL',
  healthcheck: 'HEALTHCHECK', stopsignal: 'STOPSIGNAL', onbuild: 'ONBUILD', maintainer: 'MAINTAINER',
};

/**
 * Words are gathered in one reused array and copied out at their exact length: an array grown by `push` from
 * `[]` reserves 17 slots, most of them never used, and this runs for almost every line.
 */
const gathered: string[] = [];
let gatheredLength = 0;

function gather(word: string): void {
  gathered[gatheredLength++] = word;
}

/** The words gathered since `from` (a `gatheredLength` taken before), as a new array; the slots are cleared. */
function takeGathered(from: number): string[] {
  const words = gathered.slice(from, gatheredLength);
  for (let i = from; i < gatheredLength; i++) gathered[i] = ''; // keep no slice of the text alive
  gatheredLength = from;
  return words;
}

/** A line-local parse failure; `parseAst` attaches the location. */
class LineError extends Error {}

/**
 * Parse Dockerfile text into an AST. Throws DockerfileSyntaxError.
 *
 * This runs on every rebuild, so it is written to allocate little: the text is split once, instruction
 * source text and heredoc bodies are slices of the input, and words and flags are slices of the line.
 */
export function parseAst(text: string, options: ParseOptions = {}): ParsedAst {
  const file = options.file ?? 'Dockerfile';
  const lines = splitLines(text);
  const directives = new DirectiveReader();
  const children: InstructionNode[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  let index = 0;
  // Where lines[index] starts in `text`: source text and heredoc bodies (line ends included) are slices of it.
  let offset = 0;

  const fail = (message: string, line: number, endLine = line, cause?: unknown): never => {
    throw new DockerfileSyntaxError(message, {line, endLine, file}, cause ? {cause} : undefined);
  };
  const readDirective = (token: string, line: number): void => {
    if (directives.done) return;
    try {
      directives.read(token, line);
    } catch (error) {
      fail((error as Error).message, line);
    }
  };

  while (index < lines.length) {
    let raw = lines[index];
    const firstOffset = offset;
    offset += raw.length + 1;
    if (index === 0 && raw.startsWith('\ufeff')) raw = raw.slice(1);
    const firstIndex = index;
    index++;
    if (raw.length === 0) {
      readDirective(raw, index); // a blank line ends the directives
      continue;
    }
    // each character is read once where possible: on this path charCodeAt is a large part of the cost
    let token = trimNewline(raw);
    let first = token.charCodeAt(0);
    if (isSpaceCode(first)) {
      token = trimLeadingSpace(token);
      first = token.charCodeAt(0);
    }
    if (first === 0x23 /* # */) {
      const comment = token.slice(1).trim();
      if (comment !== '') comments.push(comment);
    }
    readDirective(token, firstIndex + 1);
    const startLine = firstIndex + 1;
    let line = first === 0x23 ? '' : token;
    let cut = continuationAt(line, directives.escapeChar);
    let ended = cut < 0;
    if (ended && line === '') continue;
    if (!ended) line = line.slice(0, cut);

    let emptyContinuation = false;
    while (!ended && index < lines.length) {
      const continuation = trimNewline(lines[index]);
      readDirective(continuation, index + 1);
      offset += lines[index].length + 1;
      index++;
      const first = firstNonSpace(continuation, 0, continuation.length);
      if (first === continuation.length) {
        emptyContinuation = true;
        continue;
      }
      if (continuation.charCodeAt(first) === 0x23 /* # */) continue;
      cut = continuationAt(continuation, directives.escapeChar);
      ended = cut < 0;
      line += ended ? continuation : continuation.slice(0, cut);
    }
    let endLine = index;
    if (emptyContinuation) {
      warnings.push({
        rule: 'NoEmptyContinuation',
        message: 'empty continuation line; empty continuation lines will become errors in a future release',
        line: startLine,
        endLine,
      });
    }

    let node: MutableNode;
    try {
      node = nodeFromLine(line, directives.escapeChar, comments.length > 0 ? comments : NO_COMMENTS);
    } catch (error) {
      if (error instanceof LineError) fail(error.message, startLine, endLine);
      throw error;
    }

    if (canContainHeredoc(node)) {
      let heredocs: HeredocHeader[];
      try {
        heredocs = heredocsFromLine(line);
      } catch (error) {
        if (error instanceof LineError || error instanceof SubstitutionError) fail(error.message, startLine, endLine);
        throw error;
      }
      const bodies: Heredoc[] = [];
      for (const heredoc of heredocs) {
        const bodyStart = offset;
        let bodyEnd = offset;
        let terminated = false;
        while (index < lines.length) {
          const bodyLine = lines[index];
          let candidate = trimNewline(bodyLine);
          bodyEnd = offset;
          offset += bodyLine.length + 1;
          index++;
          if (heredoc.chomp && candidate.charCodeAt(0) === 0x09) candidate = candidate.replace(LEADING_TAB_RUN, '');
          if (candidate === heredoc.name) {
            terminated = true;
            break;
          }
        }
        if (!terminated) fail(`unterminated heredoc ${heredoc.name}`, startLine, index);
        // the body lines with their line ends, the terminator line left out
        const content = text.slice(bodyStart, bodyEnd);
        bodies.push({name: heredoc.name, fileDescriptor: heredoc.fileDescriptor, expand: heredoc.expand, chomp: heredoc.chomp, content});
      }
      endLine = index;
      node.heredocs = bodies;
      if (node.child && bodies.length > 0) node.child.heredocs = bodies;
    }

    node.startLine = startLine;
    node.endLine = endLine;
    // the raw lines with their line ends (the last line of a text without a final newline has none)
    node.sourceText = text.slice(firstOffset, offset);
    if (node.child) {
      node.child.startLine = startLine;
      node.child.endLine = endLine;
      node.child.sourceText = node.sourceText;
    }
    children.push(node);
    if (comments.length > 0) comments = [];
  }

  if (children.length === 0) fail('file with no instructions', Math.max(lines.length, 1));

  return {children, directives: directives.found, escapeChar: directives.escapeChar, warnings};
}

type MutableNode = {-readonly [K in Exclude<keyof InstructionNode, 'child'>]: InstructionNode[K]} & {child?: MutableNode};

/** Split at `\n` (line ends are added back for heredoc bodies and source text, which keep them). */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Drop trailing `\r`s (a `\n` never remains: lines are split on it). */
function trimNewline(line: string): string {
  if (line.length === 0 || line.charCodeAt(line.length - 1) !== 0x0d) return line;
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 0x0d) end--;
  return line.slice(0, end);
}

function trimLeadingSpace(line: string): string {
  const start = firstNonSpace(line, 0, line.length);
  return start === 0 ? line : line.slice(start);
}

/**
 * Where a line-continuation escape token starts, or -1 when the instruction ends on this line. The token counts
 * when it is the last character before optional spaces/tabs and is not itself escaped (BuildKit's
 * `([^E])E[ \t]*$|^E[ \t]*$`, written as a scan because it runs on every line).
 */
function continuationAt(line: string, escapeChar: string): number {
  // (no read outside the string: one such read makes V8 compile every charCodeAt here with a bounds check)
  let end = line.length - 1;
  if (end < 0) return -1;
  let code = line.charCodeAt(end);
  while (code === 0x20 || code === 0x09) {
    if (end === 0) return -1;
    code = line.charCodeAt(--end);
  }
  const escape = escapeChar.charCodeAt(0);
  if (code !== escape) return -1;
  if (end > 0 && line.charCodeAt(end - 1) === escape) return -1;
  return end;
}

class DirectiveReader {
  escapeChar: '\\' | '`' = '\\';
  readonly found: ParserDirective[] = [];
  /** Directives are only read before anything else; after that `read` is never called again. */
  done = false;
  private readonly seen = new Set<string>();

  read(line: string, lineNumber: number): void {
    if (this.done) return;
    const match = DIRECTIVE.exec(line);
    if (!match) {
      this.done = true;
      return;
    }
    const name = match[1].toLowerCase();
    if (name !== 'syntax' && name !== 'escape' && name !== 'check') {
      this.done = true;
      return;
    }
    if (this.seen.has(name)) throw new Error(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    const value = match[2];
    if (name === 'escape') {
      if (value !== '`' && value !== '\\') throw new Error(`invalid escape token '${value}' does not match \` or \\`);
      this.escapeChar = value;
    }
    this.found.push({name, value, line: lineNumber});
  }
}

/**
 * Build the node for one logical line: keyword, leading `--flag` words, then the arguments as the keyword's
 * BuildKit line parser splits them. Go's strings.TrimSpace is applied to the line first; the keyword ends at
 * the first `[\t\v\f\r ]`.
 */
function nodeFromLine(line: string, escapeChar: string, comments: readonly string[]): MutableNode {
  let end = line.length;
  while (end > 0 && isSpaceCode(line.charCodeAt(end - 1))) end--;
  let at = 0;
  let code = line.charCodeAt(0);
  while (at < end && isSpaceCode(code)) code = line.charCodeAt(++at);
  const start = at;
  const firstCode = code;
  while (at < end && !isSeparator(code)) code = line.charCodeAt(++at);
  const written = start === 0 && at === line.length ? line : line.slice(start, at);
  const name = keywordName(written, firstCode);
  const keyword = sharedKeyword || written;
  let flags: readonly string[] = NO_FLAGS;
  let rest: string;
  if (at === end) {
    rest = '';
  } else {
    while (at < end && isSeparator(code)) code = line.charCodeAt(++at);
    if (code !== 0x2d /* - */ && !isSpaceCode(code)) {
      rest = line.slice(at, end); // no flags
    } else {
      const from = gatheredLength;
      const restStart = extractFlags(line, at, end);
      if (gatheredLength > from) flags = takeGathered(from);
      rest = restStart === end ? '' : line.slice(firstNonSpace(line, restStart, end), end);
    }
  }

  let args: string[];
  let json = false;
  let child: MutableNode | undefined;
  switch (name) {
    case 'cmd':
    case 'entrypoint':
    case 'run':
    case 'shell': {
      // parseMaybeJson
      const parsed = rest === '' ? undefined : parseJson(rest);
      if (parsed) json = true;
      args = parsed ?? (rest === '' ? [] : [rest]);
      break;
    }
    case 'add':
    case 'copy':
    case 'volume': {
      // parseMaybeJsonToList
      const parsed = parseJson(rest);
      if (parsed) json = true;
      args = parsed ?? splitWhitespaceDelimited(rest);
      break;
    }
    case 'expose':
    case 'from':
      args = splitWhitespaceDelimited(rest);
      break;
    case 'maintainer':
    case 'stopsignal':
    case 'user':
    case 'workdir':
      args = rest === '' ? [] : [rest];
      break;
    case 'arg':
      args = parseWords(rest, escapeChar);
      break;
    case 'env':
      args = parseNameValue(rest, 'ENV', escapeChar);
      break;
    case 'label':
      args = parseNameValue(rest, 'LABEL', escapeChar);
      break;
    case 'healthcheck':
      args = parseHealthConfig(rest);
      json = healthcheckJson;
      break;
    case 'onbuild':
      args = [];
      if (rest !== '') child = nodeFromLine(rest, escapeChar, []);
      break;
    default:
      args = [];
  }
  return {
    keyword,
    name,
    flags,
    args,
    json,
    child,
    heredocs: NO_HEREDOCS,
    original: line,
    sourceText: '',
    startLine: 0,
    endLine: 0,
    comments,
  };
}

/**
 * Take the `--flag` words off the front of `line[pos, end)` (which starts and ends with no space), gathering
 * them, and return where the rest starts. Quotes and `\` inside a flag word are resolved (`--chown="a b"`); the first
 * word that does not start with `--` ends the flags, and so does a bare `--` (the rest then starts after it).
 */
function extractFlags(line: string, pos: number, end: number): number {
  while (pos < end) {
    pos = firstNonSpace(line, pos, end);
    if (pos >= end) break;
    if (line.charCodeAt(pos) !== 0x2d || pos + 1 >= end || line.charCodeAt(pos + 1) !== 0x2d) return pos;
    // fast path: a flag without quotes or escapes is just the text up to the next space
    PLAIN_RUN.lastIndex = pos;
    PLAIN_RUN.test(line);
    const stop = PLAIN_RUN.lastIndex;
    if (stop >= end || isSpaceCode(line.charCodeAt(stop))) {
      const plainDashes = stop - pos === 2;
      const start = pos;
      pos = stop;
      if (plainDashes) {
        if (pos < end) return pos;
        continue;
      }
      gather(line.slice(start, stop));
      continue;
    }
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < end; pos++) {
      let ch = line[pos];
      if (quote) {
        if (ch === quote) {
          quote = '';
          continue;
        }
        if (ch === '\\') {
          if (pos + 1 === end) {
            quote = '';
            continue;
          }
          ch = line[++pos];
        }
        word += ch;
        continue;
      }
      if (isSpaceCode(line.charCodeAt(pos))) break;
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === end) continue;
        ch = line[++pos];
      }
      word += ch;
    }
    if (word === '--' && pos < end) return pos;
    if (word !== '--' && (blankOk || word.length > 0)) gather(word);
  }
  return end;
}

/** Characters up to a space, quote or `\` (its `lastIndex` after a test is where that run ends). */
const PLAIN_RUN = new RegExp(`[^${GO_SPACE}"'\\\\]*`, 'y');

/** Go's unicode.IsSpace (which, unlike JavaScript's \s, leaves out U+FEFF), on a UTF-16 code unit. */
function isSpaceCode(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0x85) return false;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** The first index in [from, end) that is not a space, or `end`. */
function firstNonSpace(text: string, from: number, end: number): number {
  while (from < end && isSpaceCode(text.charCodeAt(from))) from++;
  return from;
}

/** The `[\t\v\f\r ]` class BuildKit splits keywords and word lists on. */
function isSeparator(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0b || code === 0x0c || code === 0x0d;
}

/** BuildKit's `[\t\v\f\r ]+` split; an empty string gives no words. (The native split beats a scan in JavaScript.) */
function splitWhitespaceDelimited(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE_RUN);
}

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** Exec form: a JSON array of strings. Returns undefined when the text is not JSON (shell form then). */
function parseJson(rest: string): string[] | undefined {
  const start = firstNonSpace(rest, 0, rest.length);
  if (rest.charCodeAt(start) !== 0x5b /* [ */) return undefined;
  const simple = parseSimpleJsonStrings(rest, start);
  if (simple) return simple;
  let value: unknown;
  try {
    value = JSON.parse(start === 0 ? rest : rest.slice(start));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') throw new LineError(NOT_STRING_ARRAY);
  return value as string[];
}

/**
 * The common exec form, read without JSON.parse: `[`, `"..."` strings without escapes or control characters
 * separated by commas, `]`, JSON whitespace around.
 */
const SIMPLE_JSON_STRINGS = /^\[[ \t\n\r]*(?:"[^"\\\x00-\x1f]*"[ \t\n\r]*(?:,[ \t\n\r]*"[^"\\\x00-\x1f]*"[ \t\n\r]*)*)?\][ \t\n\r]*$/;

/**
 * `text` from `open` as a SIMPLE_JSON_STRINGS array, its strings sliced from the text; undefined when it is
 * not that simple (JSON.parse then decides).
 */
function parseSimpleJsonStrings(text: string, open: number): string[] | undefined {
  const array = open === 0 ? text : text.slice(open);
  if (!SIMPLE_JSON_STRINGS.test(array)) return undefined;
  // no escapes: every string is the text between a quote and the next one
  const from = gatheredLength;
  for (let at = array.indexOf('"'); at >= 0; ) {
    const close = array.indexOf('"', at + 1);
    gather(array.slice(at + 1, close));
    at = array.indexOf('"', close + 1);
  }
  return takeGathered(from);
}

/** Set by `parseHealthConfig`: whether the command was exec form (avoids an object per HEALTHCHECK). */
let healthcheckJson = false;

/** HEALTHCHECK: `[type, ...command]`, the command split as CMD's; `healthcheckJson` tells the form. */
function parseHealthConfig(rest: string): string[] {
  healthcheckJson = false;
  let sep = 0;
  while (sep < rest.length && !isSpaceCode(rest.charCodeAt(sep))) sep++;
  if (sep === 0) return [];
  const next = firstNonSpace(rest, sep, rest.length);
  const command = next === rest.length ? '' : rest.slice(next);
  const type = rest.slice(0, sep);
  if (command === '') return [type];
  const parsed = parseJson(command);
  if (!parsed) return [type, command];
  healthcheckJson = true;
  const args = new Array<string>(parsed.length + 1);
  args[0] = type;
  for (let i = 0; i < parsed.length; i++) args[i + 1] = parsed[i];
  return args;
}

/**
 * One word of `parseWords` for an escape token `E`: runs of plain characters, `E` with the character after it,
 * '...' (no escapes inside) and "..." (`E` escapes inside); an unterminated quote runs to the end.
 */
function wordPattern(escape: string): RegExp {
  const e = escape === '\\' ? '\\\\' : escape;
  return new RegExp(`(?:[^${GO_SPACE}"'${e}]+|${e}[\\s\\S]|'[^']*'?|"(?:[^"${e}]+|${e}[\\s\\S])*"?)+`, 'g');
}
const WORDS_BACKSLASH = wordPattern('\\');
const WORDS_BACKTICK = wordPattern('`');

/**
 * Split into words keeping quotes and escapes (they are removed later, at substitution). Quotes group spaces;
 * the escape token keeps the next character in the word, even a quote; inside single quotes it is literal.
 * An escape token at the very end is dropped.
 */
export function parseWords(rest: string, escape: string): string[] {
  const pattern = escape === '\\' ? WORDS_BACKSLASH : escape === '`' ? WORDS_BACKTICK : undefined;
  // one native match does the common case; a trailing escape token (dropped) takes the scan
  if (pattern === undefined || rest.endsWith(escape)) return scanWords(rest, escape);
  return rest.match(pattern) ?? [];
}

/** `parseWords` as a scan over the text, for the rare cases the pattern does not cover. */
function scanWords(rest: string, escape: string): string[] {
  // Words keep their quotes and escapes, so each one is a slice of `rest`; only an escape token at the very
  // end is dropped. Code units are enough: quotes, escapes and spaces never occur inside surrogate pairs.
  const from = gatheredLength;
  const escapeCode = escape.length === 1 ? escape.charCodeAt(0) : -1;
  const length = rest.length;
  let start = -1;
  let end = length;
  let quote = 0;
  let blankOk = false;
  for (let i = 0; i < length; i++) {
    const code = rest.charCodeAt(i);
    if (start < 0) {
      if (isSpaceCode(code)) continue;
      start = i;
    }
    if (quote === 0) {
      if (isSpaceCode(code)) {
        gather(rest.slice(start, i));
        start = -1;
        blankOk = false;
      } else if (code === 0x27 || code === 0x22) {
        quote = code;
        blankOk = true;
      } else if (code === escapeCode) {
        if (i + 1 === length) end = i;
        else i++;
      }
      continue;
    }
    if (code === quote) {
      quote = 0;
    } else if (code === escapeCode && quote !== 0x27) {
      if (i + 1 === length) end = i;
      else i++;
    }
  }
  if (start >= 0 && (blankOk || end > start)) gather(start === 0 && end === length ? rest : rest.slice(start, end));
  return takeGathered(from);
}

/** ENV and LABEL: `KEY value` (legacy, sep "") or `k=v k2=v2` (sep "="), as key/value/sep triples. */
function parseNameValue(rest: string, keyword: string, escape: string): string[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) return words;
  if (!words[0].includes('=')) {
    const match = WHITESPACE_RUN.exec(rest);
    if (!match) throw new LineError(`${keyword} must have two arguments`);
    return [rest.slice(0, match.index), rest.slice(match.index + match[0].length), ''];
  }
  const args = new Array<string>(words.length * 3);
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    const at = word.indexOf('=');
    if (at < 0) {
      throw new LineError(`syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    }
    args[3 * i] = word.slice(0, at);
    args[3 * i + 1] = word.slice(at + 1);
    args[3 * i + 2] = '=';
  }
  return args;
}

function canContainHeredoc(node: MutableNode): boolean {
  const target = node.name === 'onbuild' && node.child ? node.child : node;
  return HEREDOC_INSTRUCTIONS.has(target.name) && !target.json && node.original.includes('<<');
}

type HeredocHeader = Omit<Heredoc, 'content'>;

/**
 * Whether the shell lexer (default `\` escape, no variables) would only split `text` at spaces: no `$`, quotes
 * or `\`. Then the words are plain slices and the lexer is not needed.
 */
function lexesAsPlainWords(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x24 /* $ */ || code === 0x22 || code === 0x27 || code === 0x5c) return false;
  }
  return true;
}

/** A non-empty word the lexer gives back unchanged: no spaces, `$`, quotes or `\`. */
function isPlainWord(text: string): boolean {
  if (text.length === 0 || !lexesAsPlainWords(text)) return false;
  for (let i = 0; i < text.length; i++) if (isSpaceCode(text.charCodeAt(i))) return false;
  return true;
}

/** Split at Go spaces, dropping empty words: what the lexer gives for text that `lexesAsPlainWords`. */
function splitAtSpaces(text: string): string[] {
  const from = gatheredLength;
  const length = text.length;
  let at = firstNonSpace(text, 0, length);
  while (at < length) {
    let stop = at + 1;
    while (stop < length && !isSpaceCode(text.charCodeAt(stop))) stop++;
    gather(text.slice(at, stop));
    at = firstNonSpace(text, stop, length);
  }
  return takeGathered(from);
}

/** Find the heredoc words of a line (`<<EOF`, `<<-"EOF"`, `2<<X`) in order. */
function heredocsFromLine(line: string): HeredocHeader[] {
  let words: string[];
  if (lexesAsPlainWords(line)) {
    words = splitAtSpaces(line);
  } else {
    try {
      words = processWords(line, EMPTY_ENV, {rawQuotes: true, rawEscapes: true, skipUnsetEnv: true});
    } catch {
      return [];
    }
  }
  const found: HeredocHeader[] = [];
  for (const word of words) {
    if (!word.includes('<<')) continue;
    const heredoc = parseHeredocWord(word);
    if (heredoc) found.push(heredoc);
  }
  return found;
}

function quoteCount(text: string): number {
  return text.split(QUOTE).length - 1;
}

/**
 * Read one heredoc word such as `<<-"EOF"`, or undefined when the word is not one. The body is expanded only
 * when no part of the name is quoted.
 */
export function parseHeredocWord(word: string): HeredocHeader | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (!match) return undefined;
  const rest = match[3];
  if (rest === '') return undefined;
  const fileDescriptor = match[1] === '' ? 0 : Number.parseInt(match[1], 10);
  const chomp = match[2] === '-';
  if (isPlainWord(rest)) {
    // no quotes, escapes or variables: the name is the word itself, and the body is expanded
    return {name: rest, fileDescriptor, expand: true, chomp};
  }
  const words = processWords(rest, EMPTY_ENV, {skipUnsetEnv: true});
  if (words.length !== 1) return undefined;
  const rawWords = processWords(rest, EMPTY_ENV, {skipUnsetEnv: true, rawQuotes: true});
  if (rawWords.length !== 1) throw new LineError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  return {
    name: words[0],
    fileDescriptor,
    expand: quoteCount(words[0]) === quoteCount(rawWords[0]),
    chomp,
  };
}

/** `<<-` bodies lose the leading tabs of every line. */
export function chompHeredocContent(content: string): string {
  return content.replace(LEADING_TABS, '');
}
