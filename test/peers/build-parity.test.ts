/**
 * Build parity with Docker: every case under fixtures/build-cases is built by a real dockerd (BuildKit,
 * --network none) and by strata, from the same base tar imported as `base:latest` into both. Both images are
 * unpacked with umoci (Docker's through `docker save` and `skopeo copy docker-archive: oci:`, strata's straight
 * from its store, which is an OCI layout) and compared: the root filesystems (paths, types, modes, owners,
 * contents, link targets; not times) and the config fields users see.
 */
import {describe, test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import {readdirSync} from 'node:fs';
import {cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {promisify} from 'node:util';
import {build} from '../../engine/build/build.js';
import {Store} from '../../engine/store/index.js';
import {baseImage, baseRootfsTar} from '../helpers/base-image.js';
import {startDocker, type DockerDaemon} from '../helpers/docker.js';

const run = promisify(execFile);
const casesDir = resolve(import.meta.dirname, '..', '..', 'fixtures', 'build-cases');
const configFields = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck', 'Shell', 'OnBuild'];

async function which(tool: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${tool}`]).then(() => true, () => false);
}

interface FileFacts {
  /** The first bytes of small files, for messages only (not compared). */
  preview?: string;
  type: string;
  mode: string;
  owner: string;
  content?: string;
  link?: string;
}

/** Every path under `root` with the facts the comparison uses (no times). */
async function describeTree(root: string): Promise<Map<string, FileFacts>> {
  const facts = new Map<string, FileFacts>();
  const walk = async (rel: string) => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const stats = await lstat(join(root, path));
      const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : stats.isCharacterDevice() ? 'char' : stats.isFIFO() ? 'fifo' : 'other';
      const fact: FileFacts = {type, mode: (stats.mode & 0o7777).toString(8), owner: `${stats.uid}:${stats.gid}`};
      if (type === 'file') {
        const bytes = await readFile(join(root, path));
        fact.content = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
        if (bytes.length <= 200) facts.set(`${path}\0preview`, {type: 'preview', mode: '', owner: '', preview: bytes.toString('utf8')});
      }
      if (type === 'symlink') {
        fact.link = await readlink(join(root, path));
        fact.mode = '-';
      }
      facts.set(path, fact);
      if (type === 'dir') await walk(path);
    }
  };
  await walk('');
  return facts;
}

function treeDifferences(docker: Map<string, FileFacts>, strata: Map<string, FileFacts>): string[] {
  const differences: string[] = [];
  const preview = (facts: Map<string, FileFacts>, path: string) => {
    const text = facts.get(`${path}\0preview`)?.preview;
    return text === undefined ? '' : ` ${JSON.stringify(text)}`;
  };
  for (const [path, expected] of docker) {
    if (path.endsWith('\0preview')) continue;
    const actual = strata.get(path);
    if (!actual) differences.push(`missing in strata: ${path} (${JSON.stringify(expected)})`);
    else if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      differences.push(`${path}: docker ${JSON.stringify(expected)}${preview(docker, path)} strata ${JSON.stringify(actual)}${preview(strata, path)}`);
    }
  }
  for (const path of strata.keys()) if (!docker.has(path) && !path.endsWith('\0preview')) differences.push(`only in strata: ${path} (${JSON.stringify(strata.get(path))})`);
  return differences;
}

/** Config fields with empty values dropped (docker shows null where strata omits). */
function normalizedConfig(config: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of configFields) {
    const value = config?.[field];
    if (value === null || value === undefined || value === '') continue;
    if (Array.isArray(value) && value.length === 0) continue;
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0) continue;
    out[field] = value;
  }
  return out;
}

describe('build parity with docker build (BuildKit)', {concurrency: false, timeout: 1_800_000}, () => {
  let skip: string | undefined;
  let daemon: DockerDaemon | undefined;
  let work: string;
  let store: Store;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'strata-parity-'));
    for (const tool of ['umoci', 'skopeo']) {
      if (!(await which(tool))) skip = `${tool} is not installed (.ci/run installs it)`;
    }
    if (skip) return;
    const started = await startDocker();
    if ('skip' in started) {
      skip = started.skip;
      return;
    }
    daemon = started;
    const tar = await baseRootfsTar();
    await daemon.loadBaseIntoDocker(tar.path, 'base:latest');
    store = await Store.open(join(work, 'store'));
    await baseImage(store);
  });

  after(async () => {
    await daemon?.stop();
    await rm(work, {recursive: true, force: true});
  });

  // STRATA_PARITY_CASES=a,b narrows the run while working on a case.
  const only = process.env.STRATA_PARITY_CASES?.split(',').filter(Boolean);
  const cases = readdirSync(casesDir, {withFileTypes: true})
    .filter(entry => entry.isDirectory() && (!only || only.includes(entry.name)))
    .map(entry => entry.name)
    .sort();

  for (const name of cases) {
    test(`${name}: same root filesystem and config as docker build`, async t => {
      if (skip) return t.skip(skip);
      const notes = await readFile(join(casesDir, name, 'notes.md'), 'utf8').catch(() => '');
      const context = join(work, 'cases', name);
      await mkdir(join(work, 'cases'), {recursive: true});
      await cp(join(casesDir, name), context, {recursive: true, verbatimSymlinks: true});
      if (/prepare:/.test(notes)) await prepareArchives(context);
      const tag = `parity-${name}:latest`;

      if (await lstat(join(context, 'parent.Dockerfile')).then(() => true, () => false)) {
        const parentFile = join(context, 'parent.Dockerfile');
        const parent = await daemon!.docker(['build', '--network', 'none', '-f', parentFile, '-t', 'onbuild-parent:latest', context]);
        assert.equal(parent.code, 0, parent.stderr);
        await build({store, contextDir: context, dockerfile: parentFile, tags: ['onbuild-parent:latest'], network: 'none'});
      }
      const dockerBuild = await daemon!.docker(['build', '--network', 'none', '-t', tag, context]);
      if (dockerBuild.code !== 0) {
        if (/requires: heredocs/.test(notes)) return t.skip(`this docker's builder rejects heredocs: ${dockerBuild.stderr.trim().split('\n').at(-1)}`);
        assert.fail(`docker build failed:\n${dockerBuild.stderr}`);
      }
      const result = await build({store, contextDir: context, tags: [tag], network: 'none'});

      const dockerTar = join(work, `${name}-docker.tar`);
      const saved = await daemon!.docker(['save', '-o', dockerTar, tag]);
      assert.equal(saved.code, 0, saved.stderr);
      await run('skopeo', ['copy', '--quiet', `docker-archive:${dockerTar}`, `oci:${join(work, `${name}-docker-oci`)}:img`]);
      const dockerBundle = join(work, `${name}-docker-bundle`);
      const strataBundle = join(work, `${name}-strata-bundle`);
      await run('umoci', ['unpack', '--image', `${join(work, `${name}-docker-oci`)}:img`, dockerBundle]);
      await run('umoci', ['unpack', '--image', `${store.root}:${tag}`, strataBundle]);

      const differences = treeDifferences(await describeTree(join(dockerBundle, 'rootfs')), await describeTree(join(strataBundle, 'rootfs')));
      assert.deepEqual(differences, [], `root filesystems differ:\n${differences.slice(0, 40).join('\n')}`);

      const inspected = await daemon!.docker(['image', 'inspect', tag]);
      const dockerConfig = (JSON.parse(inspected.stdout) as {Config: Record<string, unknown>}[])[0].Config;
      const strataConfig = (await store.resolveImage(result.imageId)).config.config as Record<string, unknown>;
      assert.deepEqual(normalizedConfig(strataConfig), normalizedConfig(dockerConfig));
    });
  }
});

/** `archive.tar.gz` and `plain.tar` from `archive-src/`, owned by 0:0, as notes.md of add-archive says. */
async function prepareArchives(context: string): Promise<void> {
  const options = ['--numeric-owner', '--owner=0', '--group=0', '--mtime=2024-01-01', '-C', join(context, 'archive-src'), 'pkg'];
  await run('tar', ['-cf', join(context, 'plain.tar'), ...options]);
  await run('sh', ['-c', `tar -cf - ${options.map(option => `'${option}'`).join(' ')} | gzip -n > '${join(context, 'archive.tar.gz')}'`]);
}
