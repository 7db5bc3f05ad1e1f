/**
 * Watch-mode errors, and the check of a context to watch (kept apart from watch.ts so they can be exported
 * without loading chokidar).
 */
import {realpath, stat} from 'node:fs/promises';
import {resolve} from 'node:path';
import {UserError} from '../errors.js';

/** Watching could not start. */
export class WatchContextError extends UserError {
  constructor(message: string, options?: {cause?: unknown; hint?: string}) {
    super('ERR_WATCH_CONTEXT', message, options);
  }
}

const contextHint = 'give the build context folder as the last argument';

/**
 * The real path of a context to watch (symlinks resolved: chokidar reports real paths); WatchContextError when
 * it is missing or not a folder. For callers that want to say so before anything starts (`strata ui --watch`).
 */
export async function watchableContext(contextDir: string): Promise<string> {
  const path = resolve(contextDir);
  let real: string;
  try {
    real = await realpath(path);
  } catch (error) {
    throw new WatchContextError(`watch ${path}: no such folder`, {cause: error, hint: contextHint});
  }
  if (!(await stat(real)).isDirectory()) throw new WatchContextError(`watch ${path}: not a folder`, {hint: contextHint});
  return real;
}
