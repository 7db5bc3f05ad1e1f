import {existsSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

/** The repository root, found from this file's place (test/dockerfile/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared conformance data next to the repository, or undefined when this checkout has none. */
export function conformanceDir(...parts: string[]): string | undefined {
  const dir = path.resolve(repoRoot, '..', 'shared', 'conformance', ...parts);
  return existsSync(dir) ? dir : undefined;
}
