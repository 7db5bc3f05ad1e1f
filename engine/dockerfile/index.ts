/**
 * The Dockerfile front end: pure stages, no file system.
 *
 *   text --parseAst--> AST --buildInstructions--> stages of typed instructions --expandInstruction--> values
 *
 * `parseDockerfile` runs the first two; the builder calls `expandInstruction` per step with the ARG/ENV values
 * in scope. Errors are DockerfileSyntaxError (with file, line, endLine); `formatDockerfileExcerpt` renders them.
 */
import {parseAst} from './parser.js';
import type {InstructionNode, ParserDirective} from './parser.js';
import {buildInstructions} from './instructions.js';
import type {ArgInstruction, DockerfileWarning, Stage} from './instructions.js';

export interface ParsedDockerfile {
  /** The AST, one node per instruction, for dumps and tools that need the raw structure. */
  readonly ast: readonly InstructionNode[];
  readonly stages: readonly Stage[];
  /** ARGs before the first FROM. */
  readonly globalArgs: readonly ArgInstruction[];
  /** Lint findings, minus the rules skipped by a `# check=skip=...` directive. */
  readonly warnings: readonly DockerfileWarning[];
  readonly directives: readonly ParserDirective[];
  readonly escapeChar: '\\' | '`';
  /** `# check=error=true`: the warnings should fail the build. */
  readonly warningsAreErrors: boolean;
}

export interface ParseDockerfileOptions {
  /** Name used in error locations; default `Dockerfile`. */
  readonly file?: string;
}

/** Parse and validate a Dockerfile. Throws DockerfileSyntaxError at the first error. */
export function parseDockerfile(text: string, options: ParseDockerfileOptions = {}): ParsedDockerfile {
  const ast = parseAst(text, options);
  const result = buildInstructions(ast.children, {file: options.file, escapeChar: ast.escapeChar});
  const check = readCheckDirective(ast.directives);
  const warnings = [...ast.warnings, ...result.warnings]
    .filter(warning => !check.skipAll && !check.skip.has(warning.rule.toLowerCase()))
    .sort((a, b) => a.line - b.line);
  return {
    ast: ast.children,
    stages: result.stages,
    globalArgs: result.globalArgs,
    warnings,
    directives: ast.directives,
    escapeChar: ast.escapeChar,
    warningsAreErrors: check.error,
  };
}

/** `# check=skip=RuleA,RuleB;error=true` */
function readCheckDirective(directives: readonly ParserDirective[]): {skip: Set<string>; skipAll: boolean; error: boolean} {
  const skip = new Set<string>();
  let skipAll = false;
  let error = false;
  const directive = directives.find(d => d.name === 'check');
  if (directive) {
    for (const part of directive.value.split(';')) {
      const at = part.indexOf('=');
      const key = part.slice(0, at < 0 ? part.length : at).trim().toLowerCase();
      const value = at < 0 ? '' : part.slice(at + 1).trim();
      if (key === 'skip') {
        for (const rule of value.split(',')) {
          const name = rule.trim().toLowerCase();
          if (name === 'all') skipAll = true;
          else if (name) skip.add(name);
        }
      } else if (key === 'error') {
        error = value.toLowerCase() === 'true';
      }
    }
  }
  return {skip, skipAll, error};
}

export {parseAst, parseWords, parseHeredocWord, chompHeredocContent} from './parser.js';
export type {Heredoc, InstructionNode, ParserDirective, ParseWarning, ParsedAst, ParseOptions} from './parser.js';
export {buildInstructions, parseMount, parseGoDuration, INSTRUCTION_KEYWORDS} from './instructions.js';
export type * from './instructions.js';
export {expandInstruction} from './expand.js';
export type {ExpandOptions} from './expand.js';
export {processWord, processWords, substitute, expandHeredocBody} from './shell-lexer.js';
export type {ShellEnv, LexOptions, SubstitutionResult} from './shell-lexer.js';
export {DockerfileSyntaxError, SubstitutionError, DockerignoreError} from './errors.js';
export {dumpAst, dumpNode, goQuote} from './dump.js';
export {parseDockerignore} from './dockerignore.js';
export type {DockerignoreMatcher, DockerignorePattern, DockerignoreOptions} from './dockerignore.js';
export {formatDockerfileExcerpt} from './excerpt.js';
export type {ExcerptOptions} from './excerpt.js';
