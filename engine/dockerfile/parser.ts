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
const DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
/** Go's unicode.IsSpace, which (unlike JavaScript's \s) leaves out U+FEFF. */
const SPACE_CLASS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_CHAR = new RegExp(`^[${SPACE_CLASS}]$`);
const LEADING_SPACE = new RegExp(`^[${SPACE_CLASS}]+`);
const TRAILING_SPACE = new RegExp(`[${SPACE_CLASS}]+$`);
const HEREDOC_WORD = /^(\d*)<<(-?)([^<]*)$/;
const LEADING_TABS = /^\t+/gm;

const LINE_PARSERS = new Map<string, (rest: string, escape: string) => ParsedArgs>(Object.entries({
  add: parseMaybeJsonToList,
  arg: parseNameOrNameValue,
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: (rest, escape) => parseNameValue(rest, 'ENV', escape),
  expose: parseWhitespaceDelimited,
  from: parseWhitespaceDelimited,
  healthcheck: parseHealthConfig,
  label: (rest, escape) => parseNameValue(rest, 'LABEL', escape),
  maintainer: parseString,
  onbuild: () => ({args: [], json: false}), // handled in nodeFromLine
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJsonToList,
  workdir: parseString,
}));

const HEREDOC_INSTRUCTIONS = new Set(['add', 'copy', 'run']);
const NO_COMMENTS: readonly string[] = Object.freeze([]);

interface ParsedArgs {
  args: string[];
  json: boolean;
}

/** A line-local parse failure; `parseAst` attaches the location. */
class LineError extends Error {}

/** Parse Dockerfile text into an AST. Throws DockerfileSyntaxError. */
export function parseAst(text: string, options: ParseOptions = {}): ParsedAst {
  const file = options.file ?? 'Dockerfile';
  const lines = splitLines(text);
  const lineEnd = (index: number): string => (index < lines.length - 1 || text.endsWith('\n') ? '\n' : '');
  const directives = new DirectiveReader();
  const children: InstructionNode[] = [];
  const warnings: ParseWarning[] = [];
  let comments: string[] = [];
  let index = 0;

  const fail = (message: string, line: number, endLine = line, cause?: unknown): never => {
    throw new DockerfileSyntaxError(message, {line, endLine, file}, cause ? {cause} : undefined);
  };
  const readDirective = (token: string, line: number): void => {
    try {
      directives.read(token, line);
    } catch (error) {
      fail((error as Error).message, line);
    }
  };

  while (index < lines.length) {
    let raw = lines[index];
    if (index === 0 && raw.startsWith('\ufeff')) raw = raw.slice(1);
    const firstIndex = index;
    index++;
    const trimmedRaw = trimLeadingSpace(trimNewline(raw));
    if (trimmedRaw.startsWith('#')) {
      const comment = trimmedRaw.slice(1).trim();
      if (comment !== '') comments.push(comment);
    }
    const token = trimmedRaw;
    readDirective(token, firstIndex + 1);
    const startLine = firstIndex + 1;
    let line = stripComment(token);
    let cut = continuationAt(line, directives.escapeChar);
    let ended = cut < 0;
    if (ended && line === '') continue;
    if (!ended) line = line.slice(0, cut);

    let emptyContinuation = false;
    while (!ended && index < lines.length) {
      const continuation = trimNewline(lines[index]);
      readDirective(continuation, index + 1);
      index++;
      if (trimLeadingSpace(continuation).startsWith('#')) continue;
      if (trimLeadingSpace(continuation) === '') {
        emptyContinuation = true;
        continue;
      }
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
        let content = '';
        let terminated = false;
        while (index < lines.length) {
          const bodyLine = lines[index];
          index++;
          let candidate = trimNewline(bodyLine);
          if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === heredoc.name) {
            terminated = true;
            break;
          }
          content += bodyLine + lineEnd(index - 1);
        }
        if (!terminated) fail(`unterminated heredoc ${heredoc.name}`, startLine, index);
        bodies.push({name: heredoc.name, fileDescriptor: heredoc.fileDescriptor, expand: heredoc.expand, chomp: heredoc.chomp, content});
      }
      endLine = index;
      node.heredocs = bodies;
      if (node.child && bodies.length > 0) node.child.heredocs = bodies;
    }

    node.startLine = startLine;
    node.endLine = endLine;
    node.sourceText = (endLine - firstIndex === 1 ? lines[firstIndex] : lines.slice(firstIndex, endLine).join('\n')) + lineEnd(endLine - 1);
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
  while (end > 0 && line[end - 1] === '\r') end--;
  return line.slice(0, end);
}

function trimLeadingSpace(line: string): string {
  return startsWithSpace(line) ? line.replace(LEADING_SPACE, '') : line;
}

function stripComment(line: string): string {
  return line.startsWith('#') ? '' : line;
}

/**
 * Where a line-continuation escape token starts, or -1 when the instruction ends on this line. The token counts
 * when it is the last character before optional spaces/tabs and is not itself escaped (BuildKit's
 * `([^E])E[ \t]*$|^E[ \t]*$`, written as a scan because it runs on every line).
 */
function continuationAt(line: string, escapeChar: string): number {
  let end = line.length - 1;
  while (end >= 0 && (line[end] === ' ' || line[end] === '\t')) end--;
  if (end < 0 || line[end] !== escapeChar) return -1;
  if (end > 0 && line[end - 1] === escapeChar) return -1;
  return end;
}

class DirectiveReader {
  escapeChar: '\\' | '`' = '\\';
  readonly found: ParserDirective[] = [];
  private done = false;
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

function nodeFromLine(line: string, escapeChar: string, comments: readonly string[]): MutableNode {
  const [keyword, flags, rest] = splitCommand(line);
  const name = keyword.toLowerCase();
  let parsed: ParsedArgs = {args: [], json: false};
  let child: MutableNode | undefined;
  if (name === 'onbuild') {
    if (rest !== '') child = nodeFromLine(rest, escapeChar, []);
  } else {
    const lineParser = LINE_PARSERS.get(name);
    if (lineParser) parsed = lineParser(rest, escapeChar);
  }
  return {
    keyword,
    name,
    flags,
    args: parsed.args,
    json: parsed.json,
    child,
    heredocs: [],
    original: line,
    sourceText: '',
    startLine: 0,
    endLine: 0,
    comments,
  };
}

/** Split a logical line into keyword, leading `--flags` and the rest. */
function splitCommand(line: string): [string, string[], string] {
  const trimmed = trimSpace(line);
  let at = 0;
  while (at < trimmed.length && !isSeparator(trimmed.charCodeAt(at))) at++;
  if (at === trimmed.length) return [trimmed, [], ''];
  const keyword = trimmed.slice(0, at);
  while (at < trimmed.length && isSeparator(trimmed.charCodeAt(at))) at++;
  const [rest, flags] = extractFlags(trimmed.slice(at));
  return [keyword, flags, trimSpace(rest)];
}

/**
 * Take the `--flag` words off the front of the arguments. Quotes and `\` inside a flag word are resolved
 * (`--chown="a b"`); the first word that does not start with `--` ends the flags, and so does a bare `--`.
 */
function extractFlags(line: string): [string, string[]] {
  const words: string[] = [];
  let pos = 0;
  while (pos < line.length) {
    while (pos < line.length && isSpaceChar(line[pos])) pos++;
    if (pos >= line.length) break;
    if (line[pos] !== '-' || line[pos + 1] !== '-') return [line.slice(pos), words];
    // fast path: a flag without quotes or escapes is just the text up to the next space
    let end = pos;
    while (end < line.length && !isSpaceChar(line[end]) && line[end] !== '"' && line[end] !== "'" && line[end] !== '\\') end++;
    if (end === line.length || isSpaceChar(line[end])) {
      const plain = line.slice(pos, end);
      pos = end;
      if (plain === '--') {
        if (pos < line.length) return [line.slice(pos), words];
        continue;
      }
      words.push(plain);
      continue;
    }
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < line.length; pos++) {
      let ch = line[pos];
      if (quote) {
        if (ch === quote) {
          quote = '';
          continue;
        }
        if (ch === '\\') {
          if (pos + 1 === line.length) {
            quote = '';
            continue;
          }
          ch = line[++pos];
        }
        word += ch;
        continue;
      }
      if (isSpaceChar(ch)) break;
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === line.length) continue;
        ch = line[++pos];
      }
      word += ch;
    }
    if (word === '--' && pos < line.length) return [line.slice(pos), words];
    if (word !== '--' && (blankOk || word.length > 0)) words.push(word);
  }
  return ['', words];
}

function isSpaceChar(ch: string): boolean {
  const code = ch.charCodeAt(0);
  if (code === 0x20 || (code >= 0x09 && code <= 0x0d)) return true;
  return code > 0x7f && SPACE_CHAR.test(ch);
}

/** Whether the string starts or ends with a space character (the common case is no: skip the regex). */
function startsWithSpace(text: string): boolean {
  return text.length > 0 && isSpaceChar(text[0]);
}

/** The `[\t\v\f\r ]` class BuildKit splits keywords and word lists on. */
function isSeparator(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0b || code === 0x0c || code === 0x0d;
}

/** Go's strings.TrimSpace. */
function trimSpace(text: string): string {
  const start = startsWithSpace(text) ? text.replace(LEADING_SPACE, '') : text;
  return start.length > 0 && isSpaceChar(start[start.length - 1]) ? start.replace(TRAILING_SPACE, '') : start;
}

function parseString(rest: string): ParsedArgs {
  return {args: rest === '' ? [] : [rest], json: false};
}

function parseWhitespaceDelimited(rest: string): ParsedArgs {
  if (rest === '') return {args: [], json: false};
  return {args: rest.split(WHITESPACE_RUN), json: false};
}

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** Exec form: a JSON array of strings. Returns undefined when the text is not JSON (shell form then). */
function parseJson(rest: string): ParsedArgs | undefined {
  const text = trimLeadingSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every(item => typeof item === 'string')) throw new LineError(NOT_STRING_ARRAY);
  return {args: value as string[], json: true};
}

function parseMaybeJson(rest: string): ParsedArgs {
  if (rest === '') return {args: [], json: false};
  return parseJson(rest) ?? {args: [rest], json: false};
}

function parseMaybeJsonToList(rest: string): ParsedArgs {
  return parseJson(rest) ?? parseWhitespaceDelimited(rest);
}

function parseHealthConfig(rest: string, escape: string): ParsedArgs {
  let sep = 0;
  while (sep < rest.length && !isSpaceChar(rest[sep])) sep++;
  let next = sep;
  while (next < rest.length && isSpaceChar(rest[next])) next++;
  if (sep === 0) return {args: [], json: false};
  const command = parseMaybeJson(rest.slice(next));
  void escape;
  return {args: [rest.slice(0, sep), ...command.args], json: command.json};
}

/**
 * Split into words keeping quotes and escapes (they are removed later, at substitution). Quotes group spaces;
 * the escape token keeps the next character in the word, even a quote; inside single quotes it is literal.
 */
export function parseWords(rest: string, escape: string): string[] {
  // Words keep their quotes and escapes, so each one is a slice of `rest`; only an escape token at the very
  // end is dropped. Code units are enough: quotes, escapes and ASCII spaces never occur inside surrogate pairs.
  const words: string[] = [];
  const length = rest.length;
  let start = -1;
  let end = length;
  let quote = '';
  let blankOk = false;
  for (let i = 0; i < length; i++) {
    const ch = rest[i];
    if (start < 0) {
      if (isSpaceChar(ch)) continue;
      start = i;
    }
    if (!quote) {
      if (isSpaceChar(ch)) {
        words.push(rest.slice(start, i));
        start = -1;
        blankOk = false;
      } else if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      } else if (ch === escape) {
        if (i + 1 === length) end = i;
        else i++;
      }
      continue;
    }
    if (ch === quote) {
      quote = '';
    } else if (ch === escape && quote !== "'") {
      if (i + 1 === length) end = i;
      else i++;
    }
  }
  if (start >= 0 && (blankOk || end > start)) words.push(rest.slice(start, end));
  return words;
}

/** ENV and LABEL: `KEY value` (legacy, sep "") or `k=v k2=v2` (sep "="), as key/value/sep triples. */
function parseNameValue(rest: string, keyword: string, escape: string): ParsedArgs {
  const words = parseWords(rest, escape);
  if (words.length === 0) return {args: [], json: false};
  if (!words[0].includes('=')) {
    const match = WHITESPACE_RUN.exec(rest);
    if (!match) throw new LineError(`${keyword} must have two arguments`);
    return {args: [rest.slice(0, match.index), rest.slice(match.index + match[0].length), ''], json: false};
  }
  const args: string[] = [];
  for (const word of words) {
    const at = word.indexOf('=');
    if (at < 0) {
      throw new LineError(`syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    }
    args.push(word.slice(0, at), word.slice(at + 1), '=');
  }
  return {args, json: false};
}

function parseNameOrNameValue(rest: string, escape: string): ParsedArgs {
  return {args: parseWords(rest, escape), json: false};
}

function canContainHeredoc(node: MutableNode): boolean {
  const target = node.name === 'onbuild' && node.child ? node.child : node;
  return HEREDOC_INSTRUCTIONS.has(target.name) && !target.json && node.original.includes('<<');
}

type HeredocHeader = Omit<Heredoc, 'content'>;

/** Find the heredoc words of a line (`<<EOF`, `<<-"EOF"`, `2<<X`) in order. */
function heredocsFromLine(line: string): HeredocHeader[] {
  let words: string[];
  try {
    words = processWords(line, EMPTY_ENV, {rawQuotes: true, rawEscapes: true, skipUnsetEnv: true});
  } catch {
    return [];
  }
  const found: HeredocHeader[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) found.push(heredoc);
  }
  return found;
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
  const words = processWords(rest, EMPTY_ENV, {skipUnsetEnv: true});
  if (words.length !== 1) return undefined;
  const rawWords = processWords(rest, EMPTY_ENV, {skipUnsetEnv: true, rawQuotes: true});
  if (rawWords.length !== 1) throw new LineError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quoteCount = (text: string) => text.split(/['"]/).length - 1;
  return {
    name: words[0],
    fileDescriptor: match[1] === '' ? 0 : Number.parseInt(match[1], 10),
    expand: quoteCount(words[0]) === quoteCount(rawWords[0]),
    chomp: match[2] === '-',
  };
}

/** `<<-` bodies lose the leading tabs of every line. */
export function chompHeredocContent(content: string): string {
  return content.replace(LEADING_TABS, '');
}
