import {UserError} from '../errors.js';

/**
 * A Dockerfile that cannot be parsed, validated or expanded. It always names the file and the line range of the
 * offending instruction (1-based, inclusive), so callers can show a code excerpt with `formatDockerfileExcerpt`.
 *
 * `detail` is the bare description ("COPY requires at least two arguments"); `message` prefixes it with the
 * location ("Dockerfile:3: ...") so that a caller that only prints the message still says where.
 */
export class DockerfileSyntaxError extends UserError {
  readonly line: number;
  readonly endLine: number;
  readonly file: string;
  readonly detail: string;
  constructor(
    detail: string,
    location: {line: number; endLine?: number; file?: string},
    options?: {hint?: string; cause?: unknown},
  ) {
    const file = location.file ?? 'Dockerfile';
    super('ERR_DOCKERFILE_SYNTAX', `${file}:${location.line}: ${detail}`, options);
    this.line = location.line;
    this.endLine = Math.max(location.endLine ?? location.line, location.line);
    this.file = file;
    this.detail = detail;
  }
}

/**
 * Variable substitution failed (`${}`, `${V:?msg}`, missing `}`...). Thrown by the shell lexer, which knows no
 * line numbers; `expandInstruction` turns it into a `DockerfileSyntaxError` at the instruction's location.
 */
export class SubstitutionError extends UserError {
  constructor(message: string) {
    super('ERR_DOCKERFILE_SUBSTITUTION', message);
  }
}

/** A `.dockerignore` that cannot be used: a lone `!` or a malformed pattern such as `[`. */
export class DockerignoreError extends UserError {
  readonly line: number;
  constructor(message: string, line: number) {
    super('ERR_DOCKERIGNORE', message);
    this.line = line;
  }
}
