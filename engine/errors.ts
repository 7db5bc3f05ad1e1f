/**
 * Typed engine errors. Each failure class has a fixed `name`, a stable `code` and an optional `cause`.
 *
 * `UserError` and its subclasses are mistakes the user can fix (unknown image, bad reference, broken archive,
 * bad Dockerfile): the CLI prints their message (and hint) as one line, without a stack. Anything else that
 * reaches the top is a bug and is shown with its stack.
 */
export class StrataError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A mistake the user can fix. `hint` says what to try next. */
export class UserError extends StrataError {
  readonly hint?: string;
  constructor(code: string, message: string, options?: { cause?: unknown; hint?: string }) {
    super(code, message, options);
    this.hint = options?.hint;
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
