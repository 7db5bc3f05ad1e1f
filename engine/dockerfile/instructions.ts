/**
 * Stage 2 of the Dockerfile front end: AST -> typed instructions grouped into stages.
 *
 * Contract for the builder:
 * - `Instruction` is a discriminated union on `kind`. Every instruction keeps `line`/`endLine` (1-based,
 *   inclusive, heredoc bodies included), `original` (the logical line, continuations joined), `sourceText` (the
 *   raw lines), `keyword` (as written), `flagWords` (raw `--flag` words) and `escapeChar`.
 * - Word values (paths, ENV/LABEL keys and values, ARG defaults, FROM image, USER, WORKDIR...) are RAW: quotes and
 *   variables are still in them, because ARG/ENV values are known only while building. Always pass an
 *   instruction through `expandInstruction(instr, env)` before using it, even with an empty env: that is also
 *   what removes the quotes (`ENV A="x y"` gives `x y`). RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK commands are never
 *   expanded (the shell in the container does it).
 * - Shell vs exec form: `form: 'exec'` with `args`, or `form: 'shell'` with `command`.
 * - Validation failures throw DockerfileSyntaxError naming the instruction, the line and the fault, with a
 *   "did you mean" for unknown instructions and flags. Warnings (lint) are returned, never printed.
 */
import {DockerfileSyntaxError} from './errors.js';
import {parseHeredocWord, chompHeredocContent} from './parser.js';
import type {Heredoc, InstructionNode, ParseWarning} from './parser.js';
import {closestMatch} from './suggest.js';

export type InstructionKind =
  | 'from'
  | 'run'
  | 'copy'
  | 'add'
  | 'env'
  | 'arg'
  | 'label'
  | 'expose'
  | 'volume'
  | 'user'
  | 'workdir'
  | 'cmd'
  | 'entrypoint'
  | 'shell'
  | 'healthcheck'
  | 'stopsignal'
  | 'onbuild'
  | 'maintainer';

export const INSTRUCTION_KEYWORDS: readonly string[] = [
  'FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'CMD', 'ENTRYPOINT',
  'SHELL', 'HEALTHCHECK', 'STOPSIGNAL', 'ONBUILD', 'MAINTAINER',
];

/** What every instruction carries. */
export interface InstructionBase {
  /** First line, 1-based. */
  readonly line: number;
  /** Last line, inclusive (the heredoc terminator when there is one). */
  readonly endLine: number;
  /** The logical line: continuation lines joined, comment lines removed (BuildKit's `Original`). */
  readonly original: string;
  /** The raw source lines from `line` to `endLine`, line ends included. */
  readonly sourceText: string;
  /** The keyword as written (`copy`, `COPY`). */
  readonly keyword: string;
  /** Raw `--flag[=value]` words as written, for dumps and messages; the parsed values are typed fields. */
  readonly flagWords: readonly string[];
  /** Comment lines right before the instruction. */
  readonly comments: readonly string[];
  /** The file's escape token; `expandInstruction` substitutes with it. */
  readonly escapeChar: '\\' | '`';
}

/** Exec form (JSON array, no shell) or shell form (a string run through SHELL). */
export type CommandForm = {readonly form: 'exec'; readonly args: readonly string[]} | {readonly form: 'shell'; readonly command: string};

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface ArgDeclaration {
  readonly key: string;
  /** Raw default, undefined for a bare `ARG NAME`. */
  readonly value?: string;
}

/** A heredoc body used as a COPY/ADD source: written to `path` (the heredoc name) in the build context. */
export interface HeredocSource {
  readonly path: string;
  /** The body with `<<-` tabs already removed. */
  readonly content: string;
  /** Substitute variables in the body (unquoted delimiter) with `expandHeredocBody`. */
  readonly expand: boolean;
}

/** One `RUN --mount=...` spec. Values are raw until `expandInstruction`. */
export interface RunMount {
  readonly type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  readonly target?: string;
  readonly source?: string;
  /** Stage name, stage index or image the mount reads from. */
  readonly from?: string;
  readonly readOnly?: boolean;
  readonly id?: string;
  readonly sharing?: 'shared' | 'private' | 'locked';
  readonly mode?: string;
  readonly uid?: string;
  readonly gid?: string;
  readonly required?: boolean;
  readonly size?: string;
  readonly env?: string;
  /** Every `key=value` field as written (keys lowercased), including the ones above. */
  readonly fields: Readonly<Record<string, string>>;
  /** The spec as written. */
  readonly raw: string;
}

export interface FromInstruction extends InstructionBase {
  readonly kind: 'from';
  /** Image reference or earlier stage name, raw (may use global ARGs). */
  readonly image: string;
  /** `AS name`, lowercased. */
  readonly as?: string;
  readonly platform?: string;
}

export type RunInstruction = InstructionBase &
  CommandForm & {
    readonly kind: 'run';
    readonly mounts: readonly RunMount[];
    readonly network?: 'default' | 'none' | 'host';
    readonly security?: 'sandbox' | 'insecure';
    /** Heredocs named on the line (`RUN <<EOF`, `RUN cat <<A <<B`); bodies are for the shell, never substituted here. */
    readonly heredocs: readonly Heredoc[];
  };

interface CopyLike extends InstructionBase {
  /** Context (or stage, with `from`) paths, raw; heredoc sources are in `heredocSources`. */
  readonly sources: readonly string[];
  readonly heredocSources: readonly HeredocSource[];
  readonly dest: string;
  readonly chown?: string;
  readonly chmod?: string;
  readonly link: boolean;
  readonly exclude: readonly string[];
  /** The arguments were a JSON array. */
  readonly json: boolean;
  readonly heredocs: readonly Heredoc[];
}

export interface CopyInstruction extends CopyLike {
  readonly kind: 'copy';
  readonly from?: string;
  readonly parents: boolean;
}

export interface AddInstruction extends CopyLike {
  readonly kind: 'add';
  readonly keepGitDir: boolean;
  readonly checksum?: string;
  /** `--unpack`: undefined means the default (local archives unpacked, URLs not). */
  readonly unpack?: boolean;
}

export interface EnvInstruction extends InstructionBase {
  readonly kind: 'env';
  readonly pairs: readonly KeyValue[];
  /** Written as `ENV key value` (one pair, value is the rest of the line). */
  readonly legacyFormat: boolean;
}

export interface ArgInstruction extends InstructionBase {
  readonly kind: 'arg';
  readonly args: readonly ArgDeclaration[];
}

export interface LabelInstruction extends InstructionBase {
  readonly kind: 'label';
  readonly pairs: readonly KeyValue[];
  readonly legacyFormat: boolean;
}

export interface ExposeInstruction extends InstructionBase {
  readonly kind: 'expose';
  /** Raw words such as `80`, `53/udp`, `$PORT` (which may expand to several). */
  readonly ports: readonly string[];
}

export interface VolumeInstruction extends InstructionBase {
  readonly kind: 'volume';
  readonly paths: readonly string[];
  readonly json: boolean;
}

export interface UserInstruction extends InstructionBase {
  readonly kind: 'user';
  readonly user: string;
}

export interface WorkdirInstruction extends InstructionBase {
  readonly kind: 'workdir';
  readonly path: string;
}

export type CmdInstruction = InstructionBase & CommandForm & {readonly kind: 'cmd'};
export type EntrypointInstruction = InstructionBase & CommandForm & {readonly kind: 'entrypoint'};

export interface ShellInstruction extends InstructionBase {
  readonly kind: 'shell';
  /** Always exec form: `SHELL ["/bin/bash", "-c"]`. */
  readonly args: readonly string[];
}

export interface HealthcheckInstruction extends InstructionBase {
  readonly kind: 'healthcheck';
  /** As the image config stores it: `["NONE"]`, `["CMD", ...args]` or `["CMD-SHELL", command]`. */
  readonly test: readonly string[];
  /** Durations in nanoseconds, as the image config stores them; undefined when not given. */
  readonly interval?: number;
  readonly timeout?: number;
  readonly startPeriod?: number;
  readonly startInterval?: number;
  readonly retries?: number;
}

export interface StopsignalInstruction extends InstructionBase {
  readonly kind: 'stopsignal';
  readonly signal: string;
}

export interface MaintainerInstruction extends InstructionBase {
  readonly kind: 'maintainer';
  readonly maintainer: string;
}

export interface OnbuildInstruction extends InstructionBase {
  readonly kind: 'onbuild';
  /** The trigger as the image config stores it: the text after ONBUILD (plus heredoc bodies), unexpanded. */
  readonly expression: string;
  /** The trigger parsed, for validation and for a builder that runs it downstream. */
  readonly instruction: Instruction;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | ArgInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | HealthcheckInstruction
  | StopsignalInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

/** A build stage: its FROM and the instructions after it, up to the next FROM. */
export interface Stage {
  /** 0-based position; `COPY --from=0` refers to it. */
  readonly index: number;
  /** `AS` name, lowercased; undefined when unnamed. */
  readonly name?: string;
  readonly from: FromInstruction;
  /** The instructions after FROM (FROM itself excluded). */
  readonly instructions: readonly Instruction[];
}

export type DockerfileWarning = ParseWarning;

export interface InstructionsResult {
  readonly stages: Stage[];
  /** ARGs before the first FROM: usable in FROM lines, and in a stage that re-declares them. */
  readonly globalArgs: ArgInstruction[];
  readonly warnings: DockerfileWarning[];
}

interface Context {
  readonly file: string;
  readonly escapeChar: '\\' | '`';
}

/** Turn AST nodes into stages of typed instructions. Throws DockerfileSyntaxError on the first invalid one. */
export function buildInstructions(
  nodes: readonly InstructionNode[],
  options: {file?: string; escapeChar?: '\\' | '`'} = {},
): InstructionsResult {
  const context: Context = {file: options.file ?? 'Dockerfile', escapeChar: options.escapeChar ?? '\\'};
  const stages: {index: number; name?: string; from: FromInstruction; instructions: Instruction[]}[] = [];
  const globalArgs: ArgInstruction[] = [];
  const warnings: DockerfileWarning[] = [];
  const stageNames = new Map<string, number>();
  for (const node of nodes) {
    const instruction = toInstruction(node, context, warnings);
    if (instruction.kind === 'from') {
      if (instruction.as !== undefined) {
        const previous = stageNames.get(instruction.as);
        if (previous !== undefined) {
          throw locatedError(node, context, `duplicate stage name "${instruction.as}" (first used on line ${previous})`);
        }
        stageNames.set(instruction.as, instruction.line);
      }
      stages.push({index: stages.length, name: instruction.as, from: instruction, instructions: []});
      continue;
    }
    const current = stages.at(-1);
    if (!current) {
      if (instruction.kind === 'arg') {
        globalArgs.push(instruction);
        continue;
      }
      throw locatedError(node, context, `${node.keyword.toUpperCase()} cannot come before the first FROM; only ARG can`, 'start the file with FROM <image>');
    }
    current.instructions.push(instruction);
  }
  for (const stage of stages) lintStage(stage, warnings);
  return {stages, globalArgs, warnings};
}

function locatedError(node: InstructionNode, context: Context, detail: string, hint?: string): DockerfileSyntaxError {
  return new DockerfileSyntaxError(detail, {line: node.startLine, endLine: node.endLine, file: context.file}, hint ? {hint} : undefined);
}

/** A validation failure inside one instruction; converted to a located DockerfileSyntaxError. */
class InstructionError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

function toInstruction(node: InstructionNode, context: Context, warnings: DockerfileWarning[]): Instruction {
  try {
    return parseInstruction(node, context, warnings);
  } catch (error) {
    if (error instanceof InstructionError) {
      const keyword = node.keyword.toUpperCase();
      const named = error.message.includes(keyword) || error.message.includes(node.keyword);
      const detail = named ? error.message : `${keyword}: ${error.message}`;
      throw locatedError(node, context, detail, error.hint);
    }
    throw error;
  }
}

type FlagType = 'bool' | 'string' | 'strings';

/**
 * Parsed `--flag` values, validated in the order written: bool flags as booleans, every other value as a string
 * (a repeatable flag has one entry per use). Instructions have few flags, so the values sit in small arrays
 * searched by name; and since an instruction reads its flags before the next one is parsed, one instance and
 * its arrays are reused (`readFlags`) instead of allocating three objects per instruction with flags.
 */
class Flags {
  private readonly names: string[] = [];
  private readonly values: (string | boolean)[] = [];
  private count = 0;

  /** Replace the values with those of `words`; throws InstructionError for an unknown, repeated or bad flag. */
  read(words: readonly string[], spec: FlagSpec): this {
    this.count = 0;
    const names = this.names;
    const values = this.values;
    for (let i = 0; i < words.length; i++) {
      const word = words[i];
      if (!word.startsWith('--')) throw new InstructionError(`flag should start with --: ${word}`);
      const at = word.indexOf('=', 2);
      const name = at < 0 ? word.slice(2) : word.slice(2, at);
      const value = at < 0 ? undefined : word.slice(at + 1);
      const type = spec.get(name);
      if (!type) {
        const guess = closestMatch(name, [...spec.keys()]);
        throw new InstructionError(`unknown flag --${name}${guess ? `; did you mean --${guess}?` : ''}`);
      }
      if (type !== 'strings' && indexOfName(names, this.count, name) >= 0) throw new InstructionError(`duplicate flag specified: --${name}`);
      let parsed: string | boolean;
      if (type === 'bool') {
        if (value === '') throw new InstructionError(`missing a value on flag --${name}`);
        const lower = (value ?? 'true').toLowerCase();
        if (lower !== 'true' && lower !== 'false') {
          throw new InstructionError(`expecting boolean value for flag --${name}, not: ${value}`);
        }
        parsed = lower === 'true';
      } else {
        if (value === undefined) throw new InstructionError(`missing a value on flag --${name}`, `write --${name}=<value>`);
        parsed = value;
      }
      names[this.count] = name;
      values[this.count] = parsed;
      this.count++;
    }
    return this;
  }
  string(name: string): string | undefined {
    const at = indexOfName(this.names, this.count, name);
    return at < 0 ? undefined : (this.values[at] as string);
  }
  bool(name: string): boolean | undefined {
    const at = indexOfName(this.names, this.count, name);
    return at < 0 ? undefined : (this.values[at] as boolean);
  }
  /** Every value of a repeatable flag, in the order written. */
  strings(name: string): readonly string[] {
    let found = 0;
    for (let i = 0; i < this.count; i++) if (this.names[i] === name) found++;
    if (found === 0) return NO_STRINGS;
    const list = new Array<string>(found);
    for (let i = 0, at = 0; i < this.count; i++) if (this.names[i] === name) list[at++] = this.values[i] as string;
    return list;
  }
}

const SHARED_FLAGS = new Flags();

/** Parse an instruction's flags into the shared Flags; read them before parsing another instruction. */
function readFlags(words: readonly string[], spec: FlagSpec): Flags {
  return SHARED_FLAGS.read(words, spec);
}

function indexOfName(names: readonly string[], before: number, name: string): number {
  for (let i = 0; i < before; i++) if (names[i] === name) return i;
  return -1;
}

/** Instructions that take no flags: any flag is an error ("unknown flag", with a guess). */
function rejectFlags(node: InstructionNode): void {
  if (node.flags.length > 0) readFlags(node.flags, NO_FLAGS);
}

/** Upper-case keyword by lower-case name, without allocating a string per instruction. */
const KEYWORD_OF: Readonly<Record<string, string>> = Object.fromEntries(
  ['FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK', 'STOPSIGNAL', 'ONBUILD', 'MAINTAINER'].map(k => [k.toLowerCase(), k]),
);

function isUpperCase(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x61 && code <= 0x7a) return false;
  }
  return true;
}

const NO_STRINGS: readonly string[] = Object.freeze([]);
const NO_MOUNTS: readonly RunMount[] = Object.freeze([]);

type FlagSpec = ReadonlyMap<string, FlagType>;
const flagSpec = (types: Record<string, FlagType>): FlagSpec => new Map(Object.entries(types));
const NO_FLAGS = flagSpec({});
const FROM_FLAGS = flagSpec({platform: 'string'});
const RUN_FLAGS = flagSpec({mount: 'strings', network: 'string', security: 'string'});
const COPY_FLAGS = flagSpec({chown: 'string', from: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings'});
const ADD_FLAGS = flagSpec({chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool', exclude: 'strings'});
const HEALTHCHECK_FLAGS = flagSpec({interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string'});

function pushWarning(node: InstructionNode, warnings: DockerfileWarning[], rule: string, message: string): void {
  warnings.push({rule, message, line: node.startLine, endLine: node.endLine});
}


/** The shell form's command: the line after the flags (one argument, unless it came from HEALTHCHECK's split). */
function shellCommand(node: InstructionNode): string {
  return node.args.length === 1 ? node.args[0] : node.args.join(' ');
}

function exactlyOne(node: InstructionNode, keyword: string): string {
  if (node.args.length !== 1) throw new InstructionError(`${keyword} requires exactly one argument`);
  return node.args[0];
}

function atLeastOne(node: InstructionNode, keyword: string): void {
  if (node.args.length === 0) throw new InstructionError(`${keyword} requires at least one argument`);
}

/** ENV/LABEL pairs from the parser's key/value/separator triples. */
function keyValues(node: InstructionNode, keyword: string): KeyValue[] {
  const pairs = new Array<KeyValue>(Math.ceil(node.args.length / 3));
  for (let i = 0, pair = 0; i < node.args.length; i += 3, pair++) {
    if (node.args[i] === '') throw new InstructionError(`${keyword} names can not be blank`);
    pairs[pair] = {key: node.args[i], value: node.args[i + 1] ?? ''};
  }
  return pairs;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/*
 * Each instruction object is built as one literal with every field, kind-specific fields first and then the
 * common ones in InstructionBase order: one allocation and one shape per kind (adding the common fields
 * afterwards grew every object's property store several times).
 */

function parseInstruction(node: InstructionNode, context: Context, warnings: DockerfileWarning[]): Instruction {
  if (node.keyword !== node.name && node.keyword !== KEYWORD_OF[node.name] && !isUpperCase(node.keyword)) {
    pushWarning(node, warnings, 'ConsistentInstructionCasing', `instruction ${node.keyword} should be written all upper case (${node.keyword.toUpperCase()})`);
  }
  const escapeChar = context.escapeChar;
  switch (node.name) {
    case 'from': {
      const flags = readFlags(node.flags, FROM_FLAGS);
      const args = node.args;
      let as: string | undefined;
      if (args.length === 3 && args[1].toLowerCase() === 'as') {
        as = args[2].toLowerCase();
        if (!STAGE_NAME.test(as)) {
          throw new InstructionError(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
        }
        if (args[2] !== as) pushWarning(node, warnings, 'StageNameCasing', `stage name '${args[2]}' should be lowercase`);
        const fromUpper = node.keyword === node.keyword.toUpperCase();
        if (fromUpper !== (args[1] === args[1].toUpperCase())) {
          pushWarning(node, warnings, 'FromAsCasing', `'${args[1]}' and '${node.keyword}' keywords' casing do not match`);
        }
        if (as === 'scratch' || as === 'context') pushWarning(node, warnings, 'ReservedStageName', `'${as}' is reserved and should not be used as a stage name`);
      } else if (args.length !== 1) {
        throw new InstructionError('FROM requires either one or three arguments', 'write FROM <image> [AS <name>]');
      }
      return {
        kind: 'from', image: args[0], as, platform: flags.string('platform'),
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    }
    case 'run': {
      const flags = readFlags(node.flags, RUN_FLAGS);
      if (node.args.length === 0 && !node.json) throw new InstructionError('RUN requires at least one argument');
      const network = flags.string('network');
      if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
        throw new InstructionError(`unsupported network mode ${JSON.stringify(network)}; use default, none or host`);
      }
      const security = flags.string('security');
      if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
        throw new InstructionError(`unsupported security mode ${JSON.stringify(security)}; use sandbox or insecure`);
      }
      const mountSpecs = flags.strings('mount');
      const mounts = mountSpecs.length > 0 ? mountSpecs.map(parseMount) : NO_MOUNTS;
      if (node.json) {
        return {
          kind: 'run', mounts, network, security, heredocs: node.heredocs,
          line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
          keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
          form: 'exec', args: node.args,
        };
      }
      return {
        kind: 'run', mounts, network, security, heredocs: node.heredocs,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
        form: 'shell', command: shellCommand(node),
      };
    }
    case 'copy':
    case 'add': {
      const keyword = KEYWORD_OF[node.name];
      if (node.args.length < 2) {
        throw new InstructionError(`${keyword} requires at least two arguments`, `write ${keyword} <source>... <destination>`);
      }
      const isCopy = node.name === 'copy';
      const flags = readFlags(node.flags, isCopy ? COPY_FLAGS : ADD_FLAGS);
      const last = node.args.length - 1;
      const dest = node.args[last];
      if (!node.json && dest.includes('<<') && heredocWord(dest)) throw new InstructionError(`${keyword} cannot accept a heredoc as a destination`);
      let sources: string[];
      const heredocSources: HeredocSource[] = [];
      if (node.json || !anyIncludes(node.args, last, '<<')) {
        sources = node.args.slice(0, last); // no source can be a heredoc
      } else {
        sources = [];
        for (let i = 0; i < last; i++) {
          const source = node.args[i];
          const header = heredocWord(source);
          if (!header) {
            sources.push(source);
            continue;
          }
          const body = node.heredocs.find(heredoc => heredoc.name === header.name)?.content ?? '';
          heredocSources.push({path: header.name, content: header.chomp ? chompHeredocContent(body) : body, expand: header.expand});
        }
      }
      if (sources.length + heredocSources.length > 1 && !dest.includes('$') && !dest.endsWith('/') && dest !== '.') {
        throw new InstructionError(
          `when using ${keyword} with more than one source file, the destination must be a directory and end with a /`,
          `write ${dest}/`,
        );
      }
      const chown = flags.string('chown');
      const chmod = flags.string('chmod');
      const link = flags.bool('link') ?? false;
      const exclude = flags.strings('exclude');
      if (isCopy) {
        return {
          kind: 'copy', sources, heredocSources, dest, chown, chmod, link, exclude, json: node.json, heredocs: node.heredocs,
          from: flags.string('from'), parents: flags.bool('parents') ?? false,
          line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
          keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
        };
      }
      return {
        kind: 'add', sources, heredocSources, dest, chown, chmod, link, exclude, json: node.json, heredocs: node.heredocs,
        keepGitDir: flags.bool('keep-git-dir') ?? false, checksum: flags.string('checksum'), unpack: flags.bool('unpack'),
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    }
    case 'env':
    case 'label': {
      rejectFlags(node);
      const keyword = KEYWORD_OF[node.name];
      atLeastOne(node, keyword);
      const pairs = keyValues(node, keyword);
      const legacyFormat = node.args[2] === '';
      if (legacyFormat) {
        pushWarning(node, warnings, 'LegacyKeyValueFormat', `"${keyword} key=value" should be used instead of legacy "${keyword} key value" format`);
      }
      return {
        kind: node.name, pairs, legacyFormat,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      } as EnvInstruction | LabelInstruction;
    }
    case 'arg': {
      rejectFlags(node);
      atLeastOne(node, 'ARG');
      const args = new Array<ArgDeclaration>(node.args.length);
      for (let i = 0; i < node.args.length; i++) {
        const word = node.args[i];
        const at = word.indexOf('=');
        if (at === 0) throw new InstructionError('ARG names can not be blank');
        args[i] = at < 0 ? {key: word} : {key: word.slice(0, at), value: word.slice(at + 1)};
      }
      return {
        kind: 'arg', args,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    }
    case 'expose':
      rejectFlags(node);
      atLeastOne(node, 'EXPOSE');
      return {
        kind: 'expose', ports: node.args,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    case 'volume':
      rejectFlags(node);
      atLeastOne(node, 'VOLUME');
      if (node.args.some(path => path.trim() === '')) throw new InstructionError('VOLUME specified can not be an empty string');
      return {
        kind: 'volume', paths: node.args, json: node.json,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    case 'user':
      rejectFlags(node);
      return {
        kind: 'user', user: exactlyOne(node, 'USER'),
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    case 'workdir':
      rejectFlags(node);
      return {
        kind: 'workdir', path: exactlyOne(node, 'WORKDIR'),
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    case 'stopsignal':
      rejectFlags(node);
      return {
        kind: 'stopsignal', signal: exactlyOne(node, 'STOPSIGNAL'),
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    case 'maintainer':
      rejectFlags(node);
      pushWarning(node, warnings, 'MaintainerDeprecated', 'MAINTAINER instruction is deprecated in favor of using LABEL');
      return {
        kind: 'maintainer', maintainer: exactlyOne(node, 'MAINTAINER'),
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    case 'cmd':
    case 'entrypoint': {
      rejectFlags(node);
      const kind = node.name;
      if (node.json) {
        return {
          kind,
          line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
          keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
          form: 'exec', args: node.args,
        } as CmdInstruction | EntrypointInstruction;
      }
      const command = shellCommand(node);
      const keyword = KEYWORD_OF[kind];
      if (command.trimStart().startsWith('[')) {
        pushWarning(node, warnings, 'JSONArgsInvalid', `${keyword} looks like a JSON array but is not valid JSON, so it runs as a shell command; use double quotes in ["executable", "arg"]`);
      } else if (command !== '') {
        pushWarning(node, warnings, 'JSONArgsRecommended', `JSON arguments recommended for ${keyword} to prevent unintended behavior related to OS signals`);
      }
      return {
        kind,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
        form: 'shell', command,
      } as CmdInstruction | EntrypointInstruction;
    }
    case 'shell':
      rejectFlags(node);
      if (!node.json) throw new InstructionError('SHELL requires the arguments to be in JSON form', 'write SHELL ["/bin/bash", "-c"]');
      if (node.args.length === 0) throw new InstructionError('SHELL requires at least one argument');
      return {
        kind: 'shell', args: node.args,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    case 'healthcheck':
      return parseHealthcheck(node, context);
    case 'onbuild': {
      rejectFlags(node);
      if (!node.child) throw new InstructionError('ONBUILD requires at least one argument');
      const trigger = node.child.keyword.toUpperCase();
      if (trigger === 'ONBUILD') throw new InstructionError('chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger === 'MAINTAINER' || trigger === 'FROM') throw new InstructionError(`${trigger} isn't allowed as an ONBUILD trigger`);
      const instruction = parseInstruction(node.child, context, warnings);
      let expression = node.original.replace(ONBUILD_PREFIX, '');
      for (const heredoc of node.heredocs) expression += '\n' + heredoc.content + heredoc.name;
      return {
        kind: 'onbuild', expression, instruction,
        line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
        keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
      };
    }
    default: {
      const guess = closestMatch(node.keyword, INSTRUCTION_KEYWORDS, true);
      throw new InstructionError(
        `unknown instruction ${node.keyword}${guess ? `; did you mean ${guess}?` : ''}`,
        guess ? undefined : `valid instructions: ${INSTRUCTION_KEYWORDS.join(', ')}`,
      );
    }
  }
}

const ONBUILD_PREFIX = /^\s*ONBUILD\s*/i;

function anyIncludes(words: readonly string[], before: number, text: string): boolean {
  for (let i = 0; i < before; i++) if (words[i].includes(text)) return true;
  return false;
}

/** A heredoc word such as `<<EOF`, or undefined; a word that does not lex is simply not a heredoc here. */
function heredocWord(word: string): ReturnType<typeof parseHeredocWord> {
  if (!word.includes('<<')) return undefined;
  try {
    return parseHeredocWord(word);
  } catch {
    return undefined;
  }
}

const MINIMUM_DURATION_NS = 1_000_000; // 1ms

function parseHealthcheck(node: InstructionNode, context: Context): HealthcheckInstruction {
  const args = node.args;
  if (args.length === 0) throw new InstructionError('HEALTHCHECK requires at least one argument', 'write HEALTHCHECK CMD <command> or HEALTHCHECK NONE');
  const type = args[0].toUpperCase();
  const escapeChar = context.escapeChar;
  if (type === 'NONE') {
    rejectFlags(node);
    if (args.length !== 1) throw new InstructionError('HEALTHCHECK NONE takes no arguments');
    return {
      kind: 'healthcheck', test: ['NONE'],
      line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
      keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
    };
  }
  const flags = readFlags(node.flags, HEALTHCHECK_FLAGS);
  if (type !== 'CMD') throw new InstructionError(`unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  if (args.length === 1) throw new InstructionError('missing command after HEALTHCHECK CMD');
  let test: string[];
  if (node.json) {
    test = args.slice(); // ['CMD', ...args after the type]
    test[0] = 'CMD';
  } else {
    test = ['CMD-SHELL', args.length === 2 ? args[1] : args.slice(1).join(' ')];
  }
  let retries: number | undefined;
  const retriesText = flags.string('retries');
  if (retriesText !== undefined && retriesText !== '') {
    if (!INTEGER.test(retriesText)) throw new InstructionError(`invalid --retries value ${JSON.stringify(retriesText)}`);
    retries = Number.parseInt(retriesText, 10);
    if (retries < 0) throw new InstructionError(`--retries cannot be negative (${retries})`);
  }
  return {
    kind: 'healthcheck',
    test,
    interval: durationFlag(flags, 'interval'),
    timeout: durationFlag(flags, 'timeout'),
    startPeriod: durationFlag(flags, 'start-period'),
    startInterval: durationFlag(flags, 'start-interval'),
    retries,
    line: node.startLine, endLine: node.endLine, original: node.original, sourceText: node.sourceText,
    keyword: node.keyword, flagWords: node.flags, comments: node.comments, escapeChar,
  };
}

const INTEGER = /^[+-]?\d+$/;

function durationFlag(flags: Flags, name: string): number | undefined {
  const text = flags.string(name);
  if (text === undefined || text === '') return undefined;
  const value = parseGoDuration(text);
  if (value === undefined) throw new InstructionError(`invalid duration ${JSON.stringify(text)} for --${name}`, 'use a duration such as 30s, 1m30s or 500ms');
  if (value !== 0 && value < MINIMUM_DURATION_NS) throw new InstructionError(`--${name} cannot be less than 1ms`);
  return value;
}

const DURATION_UNITS: Record<string, number> = {ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9};

const SIMPLE_DURATION = /^\d{1,15}(?:ns|us|µs|μs|ms|s|m|h)$/;
const DURATION_PART = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;

/** Go's time.ParseDuration, in nanoseconds; undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  if (SIMPLE_DURATION.test(text)) {
    // the usual `30s`: whole digits (few enough to add up exactly) and one unit
    let digits = 0;
    let value = 0;
    for (let code = text.charCodeAt(0); code >= 0x30 && code <= 0x39; code = text.charCodeAt(++digits)) value = value * 10 + (code - 0x30);
    return Math.round(0 + value * DURATION_UNITS[text.slice(digits)]);
  }
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const match = DURATION_PART.exec(rest);
    if (!match || (match[1] === '' && (match[2] ?? '') === '')) return undefined;
    const value = match[2] === undefined ? Number(match[1]) : Number(`${match[1] || '0'}.${match[2]}0`);
    total += value * DURATION_UNITS[match[3]];
    rest = rest.slice(match[0].length);
  }
  return sign * Math.round(total);
}

const MOUNT_TYPES = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
const MOUNT_KEYS = new Set([
  'type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'readonly', 'ro', 'readwrite', 'rw', 'id',
  'sharing', 'mode', 'uid', 'gid', 'required', 'size', 'env', 'relabel',
]);

/** Split a CSV line as Go's encoding/csv does for one record (quotes group, `""` is a quote). */
function splitCsv(text: string): string[] {
  if (!text.includes('"')) return text.split(','); // no quotes: fields are the text between commas
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  if (quoted) throw new InstructionError(`unterminated quote in --mount=${text}`);
  fields.push(field);
  return fields;
}

function parseBoolField(key: string, value: string | undefined, raw: string): boolean {
  if (value === undefined || value === '' || value.toLowerCase() === 'true' || value === '1') return true;
  if (value.toLowerCase() === 'false' || value === '0') return false;
  throw new InstructionError(`invalid value for ${key}: ${value} in --mount=${raw}`);
}

type MutableMount = {-readonly [K in keyof RunMount]?: RunMount[K]};

/** Parse one `--mount` spec; values stay raw (unexpanded). */
export function parseMount(raw: string): RunMount {
  const fields: Record<string, string> = {};
  const mount: MutableMount = {type: 'bind'};
  if (raw.includes('"')) {
    for (const field of splitCsv(raw)) readMountField(field, raw, mount, fields);
  } else {
    // no quotes: the fields are the text between commas
    for (let start = 0; ; ) {
      const comma = raw.indexOf(',', start);
      readMountField(comma < 0 ? (start === 0 ? raw : raw.slice(start)) : raw.slice(start, comma), raw, mount, fields);
      if (comma < 0) break;
      start = comma + 1;
    }
  }
  if (mount.target === undefined && mount.type !== 'secret' && mount.type !== 'ssh') {
    throw new InstructionError(`mount requires a target: --mount=${raw}`, 'add target=<path>');
  }
  const result = mount as {-readonly [K in keyof RunMount]: RunMount[K]};
  result.fields = fields;
  result.raw = raw;
  return result;
}

/** One `key[=value]` field of a mount spec: checked, set on `mount`, recorded in `fields`. */
function readMountField(field: string, raw: string, mount: MutableMount, fields: Record<string, string>): void {
  if (field === '') return;
  const at = field.indexOf('=');
  const key = (at < 0 ? field : field.slice(0, at)).toLowerCase();
  const value = at < 0 ? undefined : field.slice(at + 1);
  switch (key) {
    case 'type':
      if (value === undefined || !MOUNT_TYPES.has(value.toLowerCase())) {
        throw new InstructionError(`unsupported mount type ${JSON.stringify(value ?? '')}; use bind, cache, tmpfs, secret or ssh`);
      }
      mount.type = value.toLowerCase() as RunMount['type'];
      break;
    case 'target':
    case 'dst':
    case 'destination':
      mount.target = value ?? '';
      break;
    case 'source':
    case 'src':
      mount.source = value ?? '';
      break;
    case 'readonly':
    case 'ro':
      mount.readOnly = parseBoolField(key, value, raw);
      break;
    case 'readwrite':
    case 'rw':
      mount.readOnly = !parseBoolField(key, value, raw);
      break;
    case 'sharing':
      if (value !== 'shared' && value !== 'private' && value !== 'locked') {
        throw new InstructionError(`unsupported sharing value ${JSON.stringify(value ?? '')}; use shared, private or locked`);
      }
      mount.sharing = value;
      break;
    case 'required':
      mount.required = parseBoolField(key, value, raw);
      break;
    case 'from':
    case 'id':
    case 'mode':
    case 'uid':
    case 'gid':
    case 'size':
    case 'env':
      mount[key] = value ?? '';
      break;
    case 'relabel':
      break;
    default: {
      const guess = closestMatch(key, [...MOUNT_KEYS]);
      throw new InstructionError(`unexpected key '${key}' in --mount=${raw}${guess ? `; did you mean ${guess}?` : ''}`);
    }
  }
  fields[key] = value ?? '';
}

/** Stage-level lint: repeated CMD/ENTRYPOINT/HEALTHCHECK, relative WORKDIR without an absolute one before. */
function lintStage(stage: {instructions: Instruction[]}, warnings: DockerfileWarning[]): void {
  let cmds = 0;
  let entrypoints = 0;
  let healthchecks = 0;
  let hasAbsoluteWorkdir = false;
  for (const instruction of stage.instructions) {
    const kind = instruction.kind;
    if (kind === 'cmd' || kind === 'entrypoint' || kind === 'healthcheck') {
      const count = kind === 'cmd' ? ++cmds : kind === 'entrypoint' ? ++entrypoints : ++healthchecks;
      if (count > 1) {
        const keyword = KEYWORD_OF[kind];
        warnings.push({
          rule: 'MultipleInstructionsDisallowed',
          message: `multiple ${keyword} instructions should not be used in the same stage because only the last one will be used`,
          line: instruction.line,
          endLine: instruction.endLine,
        });
      }
    }
    if (kind === 'workdir') {
      const path = instruction.path.replace(SURROUNDING_QUOTE, '');
      // `/x`, `$DIR` (unknown until build time) and Windows `C:\x` count as absolute
      if (ABSOLUTE_WORKDIR.test(path)) hasAbsoluteWorkdir = true;
      else if (!hasAbsoluteWorkdir) {
        warnings.push({
          rule: 'WorkdirRelativePath',
          message: `relative workdir ${JSON.stringify(instruction.path)} can have unexpected results if the base image changes`,
          line: instruction.line,
          endLine: instruction.endLine,
        });
      }
    }
  }
}

const SURROUNDING_QUOTE = /^["']|["']$/g;
const ABSOLUTE_WORKDIR = /^([/\\$]|[a-zA-Z]:[/\\])/;
