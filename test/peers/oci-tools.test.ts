import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {lstat, mkdir, readdir, readFile, readlink, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {applyLayer} from '../../engine/layer/index.js';
import {strata, tempRoot} from '../helpers/cli.js';
import {makeTar} from '../layer/helpers.js';

const run = promisify(execFile);

async function which(tool: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${tool}`]);
    return true;
  } catch {
    return false;
  }
}

/** path -> type, mode, owner, content digest or link target: what a user sees in a root filesystem. */
async function describeTree(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  async function walk(path: string, rel: string) {
    for (const name of (await readdir(path)).sort()) {
      const full = join(path, name);
      const relPath = rel ? `${rel}/${name}` : name;
      const stats = await lstat(full);
      const owner = `${stats.uid}:${stats.gid} ${(stats.mode & 0o7777).toString(8)}`;
      if (stats.isSymbolicLink()) result[relPath] = `symlink ${owner} -> ${await readlink(full)}`;
      else if (stats.isDirectory()) {
        result[relPath] = `dir ${owner}`;
        await walk(full, relPath);
      } else if (stats.isFile()) {
        const digest = createHash('sha256').update(await readFile(full)).digest('hex').slice(0, 16);
        result[relPath] = `file ${owner} ${stats.size} ${digest} links=${stats.nlink}`;
      } else result[relPath] = `other ${owner}`;
    }
  }
  await walk(dir, '');
  return result;
}

const richRootfs = () =>
  makeTar([
    {name: 'bin/', type: 'dir', mode: 0o755},
    {name: 'bin/tool', content: 'binary\u0000data', mode: 0o4755},
    {name: 'bin/alias', type: 'symlink', linkname: 'tool'},
    {name: 'bin/hard', type: 'link', linkname: 'bin/tool'},
    {name: 'etc/', type: 'dir', mode: 0o755},
    {name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n'},
    {name: 'etc/abs-link', type: 'symlink', linkname: '/etc/passwd'},
    {name: 'home/', type: 'dir', mode: 0o755},
    {name: 'home/app/', type: 'dir', mode: 0o700, uid: 1000, gid: 1000},
    {name: 'home/app/notes.txt', content: 'mine\n', mode: 0o600, uid: 1000, gid: 1000},
    {name: 'tmp/', type: 'dir', mode: 0o1777},
    {name: 'empty/', type: 'dir', mode: 0o711},
    {name: `deep/${'long-folder-name/'.repeat(8)}file-with-a-long-name.txt`, content: 'pax\n'},
  ]);

describe('the store is an OCI layout that skopeo and umoci read', {concurrency: false}, () => {
  let sandbox: Awaited<ReturnType<typeof tempRoot>>;
  let tools: {skopeo: boolean; umoci: boolean};

  before(async () => {
    sandbox = await tempRoot('strata-peers-');
    tools = {skopeo: await which('skopeo'), umoci: await which('umoci')};
    await writeFile(join(sandbox.base, 'rootfs.tar'), await richRootfs());
    const imported = await strata(sandbox.root, ['import', join(sandbox.base, 'rootfs.tar'), 'peer/rich:1.0']);
    assert.equal(imported.code, 0, imported.stderr);
  });
  after(() => sandbox.cleanup());

  test('skopeo inspect reads an imported image by its familiar name', async t => {
    if (!tools.skopeo) return t.skip('skopeo is not installed (.ci/run installs it)');
    const {stdout} = await run('skopeo', ['inspect', `oci:${sandbox.root}:peer/rich:1.0`]);
    const inspected = JSON.parse(stdout);
    const ours = JSON.parse((await strata(sandbox.root, ['inspect', 'peer/rich:1.0'])).stdout)[0];
    assert.equal(inspected.Os, 'linux');
    assert.deepEqual(inspected.Layers, ours.RootFS.Layers, 'skopeo sees the same layer digests');
    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${sandbox.root}:peer/rich:1.0`])).stdout);
    assert.deepEqual(config.rootfs.diff_ids, ours.RootFS.Layers);
  });

  test('umoci unpack gives the same tree as the engine’s own apply', async t => {
    if (!tools.umoci) return t.skip('umoci is not installed (.ci/run installs it)');
    if (process.getuid?.() !== 0) return t.skip('owners in the comparison need root');
    const bundle = join(sandbox.base, 'bundle');
    await run('umoci', ['unpack', '--image', `${sandbox.root}:peer/rich:1.0`, bundle]);
    const ours = join(sandbox.base, 'ours');
    await mkdir(ours);
    await applyLayer(createReadStream(join(sandbox.base, 'rootfs.tar')), ours);
    const theirs = await describeTree(join(bundle, 'rootfs'));
    const mine = await describeTree(ours);
    assert.ok(Object.keys(mine).length >= 14, 'the tree is not empty');
    assert.deepEqual(mine, theirs);
    const fsck = await strata(sandbox.root, ['fsck']);
    assert.equal(fsck.code, 0, fsck.stdout);
  });
});
