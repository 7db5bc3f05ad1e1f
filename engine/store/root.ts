/** Where the store lives: `--root`, else STRATA_ROOT, else $XDG_DATA_HOME/strata, else ~/.local/share/strata. */
import {isAbsolute, join, resolve} from 'node:path';

export interface StoreRootOptions {
  /** The `--root` flag, when given. */
  readonly flag?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The user's home folder. */
  readonly home: string;
  /** Base for relative paths (default: the process's working folder). */
  readonly cwd?: string;
}

export function resolveStoreRoot(options: StoreRootOptions): string {
  const base = options.cwd ?? process.cwd();
  if (options.flag) return resolve(base, options.flag);
  if (options.env.STRATA_ROOT) return resolve(base, options.env.STRATA_ROOT);
  // The XDG spec says relative XDG_DATA_HOME values are invalid and must be ignored.
  const xdg = options.env.XDG_DATA_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'strata');
  return join(options.home, '.local', 'share', 'strata');
}
