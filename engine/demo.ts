/**
 * The demo that `npm start` opens: a store of its own, the offline base image made from what this machine has,
 * and the demo project under fixtures/demo built on it.
 */
import {existsSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {BuildHooks, BuildResult} from './build/build.js';
import type {Engine} from './facade.js';

export const demoBaseImage = 'strata-base:latest';
export const demoImage = 'demo:latest';

/** The package folder (the one with package.json), from source or from dist/. */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) throw new Error('find package root: no package.json above the engine');
    folder = parent;
  }
  return folder;
}

/** Where the demo keeps its store unless `--root` says otherwise. */
export function demoStoreRoot(): string {
  return join(packageRoot(), '.strata-demo');
}

export function demoContext(): string {
  return join(packageRoot(), 'fixtures', 'demo');
}

/** Makes sure the base image exists (importing it from the offline recipe), then builds the demo project. */
export async function prepareDemo(engine: Engine, hooks: BuildHooks & {onStatus?: (line: string) => void} = {}): Promise<BuildResult> {
  await ensureBaseImage(engine, hooks.onStatus);
  // The default network, as `strata build fixtures/demo` and the workbench's b and w use: they find every
  // step cached.
  return engine.build({contextDir: demoContext(), tags: [demoImage]}, hooks);
}

export async function ensureBaseImage(engine: Engine, onStatus?: (line: string) => void): Promise<void> {
  const existing = await engine.listImages({repository: demoBaseImage});
  if (existing.length > 0) return;
  onStatus?.(`making ${demoBaseImage} from this machine's busybox (or /bin/sh and core utilities)`);
  const {makeBaseRootfsTar} = await import('../fixtures/base/base-rootfs.js');
  const folder = await mkdtemp(join(tmpdir(), 'strata-base-'));
  try {
    const tar = join(folder, 'base.tar');
    await makeBaseRootfsTar(tar);
    await engine.importImage({
      source: tar,
      reference: demoBaseImage,
      message: 'offline base image (fixtures/base)',
      changes: ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["/bin/sh"]'],
    });
  } finally {
    await rm(folder, {recursive: true, force: true});
  }
}
