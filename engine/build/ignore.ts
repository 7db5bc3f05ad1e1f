/**
 * .dockerignore for the builder: `<Dockerfile>.dockerignore` next to the Dockerfile when it exists (BuildKit
 * prefers it), else `<context>/.dockerignore`, turned into the ContextFilter the context reader applies.
 *
 * Rules (moby/patternmatcher): `#` in column 1 is a comment; lines are trimmed, `!` marks an exception, paths
 * are cleaned and a leading `/` dropped; `*` and `?` never match `/`, `**` matches any number of directories;
 * a pattern also matches every path below a directory it matches; the last matching rule wins. An excluded
 * directory is entered only when an exception pattern, read literally, starts with `<dir>/`.
 */
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {DockerignoreError} from '../dockerfile/errors.js';
import type {ContextFilter} from './context.js';
import {includeEverything} from './context.js';

interface Rule {
  readonly pattern: string;
  readonly exclusion: boolean;
  readonly regexp: RegExp;
}

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
  const rules = parseIgnore(text);
  if (rules.length === 0) return includeEverything;
  const cache = new Map<string, boolean>();
  const excludes = (path: string): boolean => {
    const known = cache.get(path);
    if (known !== undefined) return known;
    let excluded = false;
    const parents = parentChain(path);
    for (const rule of rules) {
      if (rule.regexp.test(path) || parents.some(parent => rule.regexp.test(parent))) excluded = !rule.exclusion;
    }
    cache.set(path, excluded);
    return excluded;
  };
  const exceptions = rules.filter(rule => rule.exclusion).map(rule => rule.pattern);
  return {
    excludes,
    mayIncludeBelow: dir => exceptions.some(pattern => (pattern + '/').startsWith(dir + '/')),
  };
}

function parentChain(path: string): string[] {
  const parents: string[] = [];
  let slash = path.lastIndexOf('/');
  while (slash > 0) {
    path = path.slice(0, slash);
    parents.push(path);
    slash = path.lastIndexOf('/');
  }
  return parents;
}

export function parseIgnore(text: string): Rule[] {
  const rules: Rule[] = [];
  const lines = text.replace(/^\ufeff/, '').split('\n');
  lines.forEach((raw, index) => {
    if (raw.startsWith('#')) return;
    let line = raw.trim();
    if (line === '') return;
    let exclusion = false;
    if (line.startsWith('!')) {
      exclusion = true;
      line = line.slice(1).trim();
      if (line === '') throw new DockerignoreError('illegal exclusion pattern: "!"', index + 1);
    }
    let pattern = cleanPattern(line);
    if (pattern.startsWith('/')) pattern = pattern.slice(1);
    if (pattern === '.' || pattern === '') return;
    rules.push({pattern, exclusion, regexp: compileIgnorePattern(pattern, index + 1)});
  });
  return rules;
}

function cleanPattern(pattern: string): string {
  const absolute = pattern.startsWith('/');
  const parts: string[] = [];
  for (const part of pattern.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!absolute) parts.push('..');
      continue;
    }
    parts.push(part);
  }
  const joined = parts.join('/');
  return absolute ? '/' + joined : joined || '.';
}

function compileIgnorePattern(pattern: string, line: number): RegExp {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // `**/` may match nothing; `**` elsewhere any run of characters.
        if (pattern[i + 1] === '/') {
          i++;
          source += '(?:.*/)?';
        } else source += '.*';
      } else source += '[^/]*';
    } else if (c === '?') source += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw new DockerignoreError(`syntax error in pattern: ${pattern}`, line);
      source += pattern[i].replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) throw new DockerignoreError(`syntax error in pattern: ${pattern}`, line);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = '^' + body.slice(1);
      source += `[${body.replace(/\\/g, '\\\\').replace(/\//g, '')}]`;
      i = end;
    } else source += c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  try {
    return new RegExp(source + '$', 's');
  } catch (error) {
    throw new DockerignoreError(`syntax error in pattern: ${pattern}: ${(error as Error).message}`, line);
  }
}
