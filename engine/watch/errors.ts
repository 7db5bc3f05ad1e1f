/**
 * Watch-mode errors (kept apart from watch.ts so they can be exported without loading chokidar).
 */
import {UserError} from '../errors.js';

/** Watching could not start. */
export class WatchContextError extends UserError {
  constructor(message: string, options?: {cause?: unknown; hint?: string}) {
    super('ERR_WATCH_CONTEXT', message, options);
  }
}
