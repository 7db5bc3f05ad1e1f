/**
 * `strata dockerfile check`: read a Dockerfile and report what is wrong with it. The only module of the front
 * end that touches the file system; everything else is pure.
 */
import {readFile, stat} from 'node:fs/promises';
import path from 'node:path';
import {UserError} from '../errors.js';
import {DockerfileSyntaxError} from './errors.js';
import {parseAst} from './parser.js';
import {dumpAst} from './dump.js';
import {parseDockerfile} from './index.js';
import type {DockerfileWarning} from './instructions.js';

export interface DockerfileCheckResult {
  /** The file that was read. */
  readonly path: string;
  /** Its text, for rendering excerpts. */
  readonly text: string;
  /** Empty when the Dockerfile is valid; parsing stops at the first error, so there is at most one. */
  readonly errors: readonly DockerfileSyntaxError[];
  readonly warnings: readonly DockerfileWarning[];
  /** `# check=error=true`: the warnings fail the check too. */
  readonly warningsAreErrors: boolean;
  /** BuildKit's dump of the AST, whenever the text parsed (even if an instruction is invalid). */
  readonly dump?: string;
  readonly stageCount: number;
  readonly instructionCount: number;
}

/**
 * Check the Dockerfile at `target`: a file, or a folder holding `Dockerfile`. Syntax and validation problems are
 * returned (not thrown); a missing or unreadable file throws a UserError (ERR_DOCKERFILE_NOT_FOUND).
 */
export async function checkDockerfileFile(target: string): Promise<DockerfileCheckResult> {
  const file = await resolveDockerfile(target);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (error as Error).message;
    throw new UserError('ERR_DOCKERFILE_NOT_FOUND', `read ${file}: ${why}`, {cause: error});
  }
  return checkDockerfileText(text, file);
}

/** The pure part of the check, for callers that already hold the text. */
export function checkDockerfileText(text: string, file = 'Dockerfile'): DockerfileCheckResult {
  let dump: string | undefined;
  try {
    dump = dumpAst(parseAst(text, {file}).children);
    const parsed = parseDockerfile(text, {file});
    return {
      path: file,
      text,
      errors: [],
      warnings: parsed.warnings,
      warningsAreErrors: parsed.warningsAreErrors,
      dump,
      stageCount: parsed.stages.length,
      instructionCount: parsed.ast.length,
    };
  } catch (error) {
    if (!(error instanceof DockerfileSyntaxError)) throw error;
    return {path: file, text, errors: [error], warnings: [], warningsAreErrors: false, dump, stageCount: 0, instructionCount: 0};
  }
}

async function resolveDockerfile(target: string): Promise<string> {
  try {
    if ((await stat(target)).isDirectory()) return path.join(target, 'Dockerfile');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError('ERR_DOCKERFILE_NOT_FOUND', `read ${target}: ${code === 'ENOENT' ? 'no such file or directory' : (code ?? (error as Error).message)}`, {
      hint: 'pass the Dockerfile with -f FILE, or the folder that holds it',
      cause: error,
    });
  }
  return target;
}
