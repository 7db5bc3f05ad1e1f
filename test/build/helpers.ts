/**
 * A build test bench: a temp store holding the offline base image (`base:latest`), a temp context folder,
 * and helpers to build, collect events and look at the resulting root filesystem.
 */
import {chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile, lstat, readlink} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {build, type BuildOptions, type BuildResult} from '../../engine/build/build.js';
import type {BuildEvent} from '../../engine/build/events.js';
import {Snapshots} from '../../engine/snapshot/snapshots.js';
import {Store} from '../../engine/store/index.js';
import type {ImageConfig} from '../../engine/image/index.js';
import {baseImage} from '../helpers/base-image.js';

export interface Bench {
  readonly store: Store;
  readonly root: string;
  readonly context: string;
  readonly dir: string;
  write(path: string, content: string | Buffer, mode?: number): Promise<void>;
  build(options?: Partial<BuildOptions>): Promise<{result: BuildResult; events: BuildEvent[]}>;
  /** Build expecting failure: the error and the events. */
  fail(options?: Partial<BuildOptions>): Promise<{error: Error & {code?: string; excerpt?: string}; events: BuildEvent[]}>;
  config(imageId: string): Promise<ImageConfig>;
  /** The merged root filesystem of an image, as a host folder. */
  rootfs(imageId: string): Promise<string>;
}

export async function withBench(work: (bench: Bench) => Promise<void>, options: {base?: boolean} = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-build-'));
  const root = join(dir, 'store');
  const context = join(dir, 'context');
  await mkdir(context, {recursive: true});
  const store = await Store.open(root);
  if (options.base !== false) await baseImage(store);
  let merged = 0;
  const bench: Bench = {
    store,
    root,
    context,
    dir,
    async write(path, content, mode) {
      const target = join(context, path);
      await mkdir(dirname(target), {recursive: true});
      await writeFile(target, content);
      if (mode !== undefined) await chmod(target, mode);
    },
    async build(overrides = {}) {
      const events: BuildEvent[] = [];
      const result = await build({store, contextDir: context, ...overrides}, {onEvent: event => events.push(event)});
      return {result, events};
    },
    async fail(overrides = {}) {
      const events: BuildEvent[] = [];
      try {
        await build({store, contextDir: context, ...overrides}, {onEvent: event => events.push(event)});
      } catch (error) {
        return {error: error as Error & {code?: string; excerpt?: string}, events};
      }
      throw new Error('build succeeded but was expected to fail');
    },
    async config(imageId) {
      return (await store.resolveImage(imageId)).config;
    },
    async rootfs(imageId) {
      const image = await store.resolveImage(imageId);
      const target = join(dir, `rootfs-${merged++}`);
      const snapshots = new Snapshots({root, content: store.content});
      const lowers = await snapshots.ensure(image.config.rootfs.diff_ids, image.manifest.layers.map(layer => layer.digest));
      const {mergeStackInto} = await import('../../engine/snapshot/index.js');
      await mergeStackInto(lowers, target);
      return target;
    },
  };
  try {
    await work(bench);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}

export function stepsOf(events: readonly BuildEvent[]): {instruction: string; cached: boolean; reason?: string}[] {
  const out: {instruction: string; cached: boolean; reason?: string}[] = [];
  for (const event of events) {
    if (event.type === 'step-cached') out.push({instruction: event.instruction, cached: true});
    if (event.type === 'step-miss') out.push({instruction: event.instruction, cached: false, reason: event.reason});
  }
  return out;
}

export async function describePath(path: string): Promise<{type: string; mode: number; uid: number; gid: number; link?: string; content?: string}> {
  const stats = await lstat(path);
  const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
  return {
    type,
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    ...(type === 'symlink' ? {link: await readlink(path)} : {}),
    ...(type === 'file' ? {content: await readFile(path, 'utf8')} : {}),
  };
}

export async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const path = prefix ? `${prefix}/${name}` : name;
    out.push(path);
    const stats = await lstat(join(dir, path));
    if (stats.isDirectory()) out.push(...(await listTree(dir, path)));
  }
  return out;
}
