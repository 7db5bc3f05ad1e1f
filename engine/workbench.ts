/**
 * Engine-side helpers for the workbench: the things it needs from the file system, which source/ may not touch.
 * No ink or react here.
 */
import {readFile} from 'node:fs/promises';
import {homedir} from 'node:os';
import {join} from 'node:path';

/** `keys` maps a scope (`global`, `images`, `layers`, `files`, `waste`, `build`, `inspect`) to action -> key(s). */
export interface WorkbenchConfig {
  readonly keys?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

export interface WorkbenchConfigResult {
  /** Where the config is looked for, whether or not it exists (shown in the help overlay). */
  readonly path: string;
  readonly config: WorkbenchConfig;
  /** Why the file could not be used; the workbench then starts with the default keys and says so. */
  readonly error?: string;
}

/** `$XDG_CONFIG_HOME/strata/config.json`, else `$HOME/.config/strata/config.json`. */
export function workbenchConfigPath(env: Readonly<Record<string, string | undefined>>): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'strata', 'config.json');
}

/**
 * Reads the workbench config. A missing file is the empty config; unreadable JSON or a wrong shape is reported
 * in `error` rather than thrown, because a broken config must not keep the workbench from opening.
 */
export async function readWorkbenchConfig(env: Readonly<Record<string, string | undefined>>): Promise<WorkbenchConfigResult> {
  const path = workbenchConfigPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {path, config: {}};
    return {path, config: {}, error: `read config ${path}: ${(error as Error).message}`};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return {path, config: {}, error: `read config ${path}: ${(error as Error).message}`};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return {path, config: {}, error: `read config ${path}: expected a JSON object`};
  }
  const keys = (parsed as {keys?: unknown}).keys;
  if (keys === undefined) return {path, config: {}};
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    return {path, config: {}, error: `read config ${path}: "keys" must be an object of scopes`};
  }
  const clean: Record<string, Record<string, string | string[]>> = {};
  const problems: string[] = [];
  for (const [scope, actions] of Object.entries(keys as Record<string, unknown>)) {
    if (typeof actions !== 'object' || actions === null || Array.isArray(actions)) {
      problems.push(`"keys.${scope}" must be an object of actions`);
      continue;
    }
    clean[scope] = {};
    for (const [action, value] of Object.entries(actions as Record<string, unknown>)) {
      if (typeof value === 'string' || (Array.isArray(value) && value.every(item => typeof item === 'string'))) {
        clean[scope][action] = value as string | string[];
      } else {
        problems.push(`"keys.${scope}.${action}" must be a key or a list of keys`);
      }
    }
  }
  return {path, config: {keys: clean}, error: problems.length > 0 ? `read config ${path}: ${problems.join('; ')}` : undefined};
}
