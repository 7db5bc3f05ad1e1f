/**
 * .dockerignore for the builder: `<Dockerfile>.dockerignore` next to the Dockerfile when it exists (BuildKit
 * prefers it), else `<context>/.dockerignore`, turned into the ContextFilter the context reader applies. The
 * matching itself is the Dockerfile front end's (moby/patternmatcher rules and the walk rule).
 */
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {parseDockerignore} from '../dockerfile/index.js';
import type {ContextFilter} from './context.js';
import {includeEverything} from './context.js';

export async function loadContextFilter(contextDir: string, dockerfilePath: string): Promise<ContextFilter> {
  for (const candidate of [`${dockerfilePath}.dockerignore`, join(contextDir, '.dockerignore')]) {
    let text: string;
    try {
      text = await readFile(candidate, 'utf8');
    } catch {
      continue;
    }
    return contextFilterFrom(text);
  }
  return includeEverything;
}

export function contextFilterFrom(text: string): ContextFilter {
  const matcher = parseDockerignore(text);
  if (matcher.patterns.length === 0) return includeEverything;
  const cache = new Map<string, boolean>();
  return {
    excludes(path) {
      let excluded = cache.get(path);
      if (excluded === undefined) cache.set(path, (excluded = matcher.matches(path)));
      return excluded;
    },
    mayIncludeBelow: dir => matcher.mayMatchInside(dir),
  };
}
