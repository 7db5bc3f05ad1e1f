/**
 * Build failures. Each has a fixed name and stable code; user-fixable ones are UserErrors and may carry the
 * Dockerfile excerpt that `strata build` prints under the message.
 */
import {StrataError, UserError} from '../errors.js';
import type {StepRef} from './events.js';

/** A mistake in the Dockerfile, the context or the flags that stops the build before or at a step. */
export class BuildError extends UserError {
  /** Dockerfile excerpt around the offending line, when known. */
  excerpt?: string;
  /** The step being run, when the error happened in one. */
  step?: StepRef;
  constructor(code: string, message: string, options?: {cause?: unknown; hint?: string; excerpt?: string}) {
    super(code, message, options);
    this.excerpt = options?.excerpt;
  }
}

/** `--target` names no stage. */
export class TargetNotFoundError extends BuildError {
  constructor(target: string, stages: readonly string[]) {
    super('ERR_BUILD_TARGET_NOT_FOUND', `target stage "${target}" could not be found`, {
      hint: stages.length ? `stages: ${stages.join(', ')}` : undefined,
    });
  }
}

/** A base image, `COPY --from` image or stage that does not exist. */
export class BaseImageNotFoundError extends BuildError {
  constructor(reference: string, options?: {cause?: unknown}) {
    super('ERR_BUILD_BASE_NOT_FOUND', `resolve image ${reference}: not found in the local store`, {
      ...options,
      hint: 'import or pull it first (strata import / strata load), or build it',
    });
  }
}

/** A COPY/ADD source that matches nothing, escapes nothing, or is excluded by .dockerignore. */
export class CopySourceError extends BuildError {
  constructor(message: string, options?: {hint?: string}) {
    super('ERR_BUILD_COPY_SOURCE', message, options);
  }
}

/** An instruction whose arguments make no sense (several sources without a dir destination, bad --chmod...). */
export class InstructionError extends BuildError {
  constructor(message: string, options?: {hint?: string; cause?: unknown}) {
    super('ERR_BUILD_INSTRUCTION', message, options);
  }
}

/**
 * Context files a COPY read were saved while it read them: its layer may not hold the bytes its cache key was
 * computed from, so it is neither recorded nor used. Building again settles it.
 */
export class SourceChangedError extends BuildError {
  readonly paths: readonly string[];
  constructor(paths: readonly string[]) {
    const more = paths.length > 1 ? ` (and ${paths.length - 1} more)` : '';
    super('ERR_BUILD_SOURCE_CHANGED', `${paths[0]} changed while it was being copied${more}`, {hint: 'build again once the files are saved'});
    this.paths = paths;
  }
}

/** A RUN command that exited non-zero. `tail` holds its last output lines. */
export class RunFailedError extends BuildError {
  readonly exitCode: number;
  readonly tail: readonly string[];
  constructor(command: string, exitCode: number, tail: readonly string[]) {
    super('ERR_BUILD_RUN_FAILED', `process "${command}" did not complete successfully: exit code: ${exitCode}`);
    this.exitCode = exitCode;
    this.tail = tail;
  }
}

/** ADD of a URL that could not be fetched. */
export class FetchError extends BuildError {
  constructor(url: string, reason: string, options?: {cause?: unknown}) {
    super('ERR_BUILD_FETCH', `fetch ${url}: ${reason}`, {
      ...options,
      hint: 'check the URL and the network (builds with --network none cannot fetch)',
    });
  }
}

/** The build was cancelled through its AbortSignal. */
export class BuildCancelledError extends StrataError {
  constructor() {
    super('ERR_BUILD_CANCELLED', 'build cancelled');
  }
}
