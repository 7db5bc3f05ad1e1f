/**
 * What the watcher looks at: the context folder minus what `.dockerignore` excludes, plus the Dockerfile and
 * the ignore file wherever they live. The ignore file is found as the builder finds it
 * (`<Dockerfile>.dockerignore` first, then `<context>/.dockerignore`) and matched with the Dockerfile front
 * end's matcher, so the watcher and the build agree on what is in the context.
 *
 * Contract:
 * - `isIgnoredPath(abs, stats)` is chokidar's `ignored` function: true means the path is neither reported nor,
 *   for a folder, walked. A folder is skipped only when no exception pattern can re-include something below
 *   it (the walk rule), so `node_modules` with `!node_modules/keep` is still walked.
 * - The Dockerfile and both ignore-file candidates are never ignored, even when `.dockerignore` excludes them
 *   from the context: an edit to either re-plans the build.
 * - Editor temporary files (vim swap and `4913` probes, `~` backups, emacs `.#` locks, JetBrains safe-write
 *   files, Sublime temporaries) never trigger a rebuild, as docker compose watch does; a later rebuild still
 *   copies them if the context includes them.
 */
import {readFile} from 'node:fs/promises';
import type {Stats} from 'node:fs';
import {join, relative, sep} from 'node:path';
import {parseDockerignore, type DockerignoreMatcher} from '../dockerfile/index.js';

export interface WatchRulesOptions {
  readonly contextDir: string;
  readonly dockerfilePath: string;
  /** Folders never watched (the store root when it lies inside the context). */
  readonly skipDirs?: readonly string[];
}

export interface LoadedIgnoreRules {
  readonly matcher?: DockerignoreMatcher;
  /** The file the rules came from. */
  readonly file?: string;
  /** Set when the file exists but cannot be read as rules; the previous rules stay in force. */
  readonly error?: Error;
}

const editorTemporary = /(^|\/)(\.[^/]*\.sw[a-px]|4913|[^/]*~|\.#[^/]*|[^/]*___jb_(tmp|old)___|\.[^/]*\.subl[^/]*\.tmp|#[^/]*#)$/;

/** True for the names editors write while saving and remove again. */
export function isEditorTemporary(relativePath: string): boolean {
  return editorTemporary.test(relativePath);
}

export class WatchRules {
  readonly contextDir: string;
  readonly dockerfilePath: string;
  /** The two places an ignore file may be, in the order the builder looks. */
  readonly ignoreCandidates: readonly string[];
  private matcher?: DockerignoreMatcher;
  private activeIgnoreFile?: string;
  private readonly skipDirs: readonly string[];

  constructor(options: WatchRulesOptions) {
    this.contextDir = options.contextDir;
    this.dockerfilePath = options.dockerfilePath;
    this.ignoreCandidates = [`${options.dockerfilePath}.dockerignore`, join(options.contextDir, '.dockerignore')];
    this.skipDirs = options.skipDirs ?? [];
  }

  get ignoreFile(): string | undefined {
    return this.activeIgnoreFile;
  }

  /** (Re-)read the ignore file. A broken file keeps the rules in force and says why. */
  async load(): Promise<LoadedIgnoreRules> {
    for (const candidate of this.ignoreCandidates) {
      let text: string;
      try {
        text = await readFile(candidate, 'utf8');
      } catch {
        continue;
      }
      try {
        const matcher = parseDockerignore(text);
        this.matcher = matcher.patterns.length > 0 ? matcher : undefined;
        this.activeIgnoreFile = candidate;
        return {matcher: this.matcher, file: candidate};
      } catch (error) {
        return {matcher: this.matcher, file: this.activeIgnoreFile, error: error as Error};
      }
    }
    this.matcher = undefined;
    this.activeIgnoreFile = undefined;
    return {};
  }

  /** The files the watcher must see whatever the rules say. */
  isControlFile(absolutePath: string): boolean {
    return absolutePath === this.dockerfilePath || this.ignoreCandidates.includes(absolutePath);
  }

  private holdsControlFile(absoluteDir: string): boolean {
    const prefix = absoluteDir + sep;
    return this.dockerfilePath.startsWith(prefix) || this.ignoreCandidates.some(candidate => candidate.startsWith(prefix));
  }

  isIgnoreFile(absolutePath: string): boolean {
    return this.ignoreCandidates.includes(absolutePath);
  }

  /** Context-relative, `/`-separated path, or undefined when `absolutePath` is outside the context. */
  relativePath(absolutePath: string): string | undefined {
    if (absolutePath === this.contextDir) return '';
    const path = relative(this.contextDir, absolutePath);
    if (path === '' || path.startsWith('..') || path.startsWith(sep + sep)) return undefined;
    return sep === '/' ? path : path.split(sep).join('/');
  }

  /** chokidar's `ignored`: see the contract above. `stats` is absent when chokidar has not stat'ed yet. */
  isIgnoredPath(absolutePath: string, stats?: Stats): boolean {
    if (this.isControlFile(absolutePath)) return false;
    const path = this.relativePath(absolutePath);
    if (path === undefined) return true;
    if (path === '') return false;
    for (const skip of this.skipDirs) if (absolutePath === skip || absolutePath.startsWith(skip + sep)) return true;
    if (isEditorTemporary(path)) return true;
    const matcher = this.matcher;
    if (!matcher) return false;
    // A folder the context excludes is still walked when the Dockerfile or ignore file lives in it.
    if (this.holdsControlFile(absolutePath)) return false;
    if (stats?.isDirectory()) return matcher.excludesDirEntirely(path);
    if (stats) return matcher.matches(path);
    // Type unknown: skip only what is excluded as a whole; anything else is checked again on its events.
    return matcher.excludesDirEntirely(path);
  }

  /** For an event that got through: is the path outside the context as the build sees it? */
  excludes(relativePath: string, isDirectory: boolean): boolean {
    const matcher = this.matcher;
    if (!matcher || relativePath === '') return false;
    return isDirectory ? matcher.excludesDirEntirely(relativePath) : matcher.matches(relativePath);
  }
}
