/**
 * A real engine over a temp store holding a few images built through the facade, for the component and
 * end-to-end tests. The images cover what the workbench marks: tags sharing an image, a dangling image, an
 * image other images are built on, a metadata-only step, and a file a later layer overwrites (waste).
 */
import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Engine} from '../../engine/index.js';

export interface WorkbenchStore {
  readonly engine: Engine;
  readonly root: string;
  readonly context: string;
  /** The scratch folder holding root and context, removed by cleanup. */
  readonly folder: string;
  cleanup(): Promise<void>;
}

export const WEB_DOCKERFILE = [
  'FROM scratch',
  'COPY app/ /app/',
  'ENV MODE=production',
  'COPY data-v1.bin /app/data.bin',
  'COPY data-v2.bin /app/data.bin',
  'LABEL org.example.role=web',
  '',
].join('\n');

async function writeContext(context: string, version: string): Promise<void> {
  await mkdir(join(context, 'app', 'lib'), {recursive: true});
  await writeFile(join(context, 'app', 'hello.txt'), `hello from ${version}\n`);
  await writeFile(join(context, 'app', 'config.json'), '{"port": 8080}\n');
  await writeFile(join(context, 'app', 'lib', 'util.js'), 'export const answer = 42;\n');
  await writeFile(join(context, 'app', 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 1, 2, 3]));
  await writeFile(join(context, 'data-v1.bin'), Buffer.alloc(5000, 1));
  await writeFile(join(context, 'data-v2.bin'), Buffer.alloc(7000, 2));
  await writeFile(join(context, 'Dockerfile'), WEB_DOCKERFILE);
  await writeFile(join(context, 'Dockerfile.child'), 'FROM web:latest\nCOPY app/hello.txt /child/hello.txt\n');
  await writeFile(join(context, 'Dockerfile.bad'), 'FROM scratch\nCOPY app/ /app/\nCOPPY data-v1.bin /data.bin\n');
  await writeFile(join(context, 'Dockerfile.api'), 'FROM scratch\nCOPY app/lib/ /srv/lib/\nCMD ["node", "/srv/lib/util.js"]\n');
}

/**
 * Images: `web:latest` (4 layers in 6 steps), its predecessor left dangling by a rebuild, `web-child:dev`
 * built on it, and `api:1.0` also tagged `api:latest`.
 */
export async function createWorkbenchStore(): Promise<WorkbenchStore> {
  const folder = await mkdtemp(join(tmpdir(), 'strata-workbench-'));
  const root = join(folder, 'store');
  const context = join(folder, 'context');
  await mkdir(context, {recursive: true});
  const engine = await Engine.open({root, env: {}});
  try {
    await writeContext(context, 'v0');
    await engine.build({contextDir: context, tags: ['web:latest']});
    await writeContext(context, 'v1');
    await engine.build({contextDir: context, tags: ['web:latest']});
    await engine.build({contextDir: context, dockerfile: join(context, 'Dockerfile.child'), tags: ['web-child:dev']});
    await engine.build({contextDir: context, dockerfile: join(context, 'Dockerfile.api'), tags: ['api:1.0']});
    await engine.tag('api:1.0', 'api:latest');
  } catch (error) {
    await engine.close();
    await rm(folder, {recursive: true, force: true});
    throw error;
  }
  return {
    engine,
    root,
    context,
    folder,
    async cleanup() {
      await engine.close();
      await rm(folder, {recursive: true, force: true});
    },
  };
}

/** Everything under a folder, for "nothing was written outside" checks. */
export async function listTree(folder: string): Promise<string[]> {
  const entries = await readdir(folder, {recursive: true});
  return entries.map(String).sort();
}

/** Polls until `check` passes (or throws its last failure after `timeoutMs`). */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}
