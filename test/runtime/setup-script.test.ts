/**
 * The RUN setup script on its own (engine/runtime/setup-script.ts), in a mount and UTS namespace of its own:
 * what it tells its caller on fd 3 when the overlay rootfs does not mount, or another mount fails.
 */
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setupScript} from '../../engine/runtime/setup-script.js';

const isRoot = process.getuid?.() === 0;
const hasUnshare = spawnSync('unshare', ['--version']).status === 0;

describe('the RUN setup script', {skip: !isRoot ? 'mounting needs root' : !hasUnshare ? 'no unshare here' : false}, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'strata-setup-'));
  });
  after(async () => {
    await rm(dir, {recursive: true, force: true});
  });

  async function run(name: string, fstab: (paths: Record<string, string>) => string, argv: string[]) {
    const base = join(dir, name);
    const paths = {files: join(base, 'files'), layers: join(base, 'layers'), root: join(base, 'root'), upper: join(base, 'upper'), work: join(base, 'work')};
    for (const path of Object.values(paths)) await mkdir(path, {recursive: true});
    await mkdir(join(paths.layers, 's', 'proc'), {recursive: true});
    await writeFile(join(paths.files, 'fstab'), fstab(paths));
    const result = spawnSync('unshare', ['--mount', '--propagation=private', '--uts', '--', 'sh', '-c', setupScript, 'strata-run', ...argv], {
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin', STRATA_FILES: paths.files, STRATA_LAYERS: paths.layers, STRATA_MODE: 'overlay',
        STRATA_ROOT: paths.root, STRATA_SETHOSTNAME: 'proc', STRATA_HOSTNAME: 'buildkitsandbox', STRATA_MKDIR: '',
      },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    return {status: result.status, stdout: result.stdout, status3: String(result.output[3] ?? ''), log: await readFile(join(paths.files, 'setup.log'), 'utf8').catch(() => '')};
  }

  const overlay = (paths: Record<string, string>, lower: string) =>
    `overlay ${paths.root} overlay lowerdir=${lower},upperdir=${paths.upper},workdir=${paths.work} 0 0\nproc ${paths.root}/proc proc nosuid,nodev,noexec 0 0\n`;

  test('with the rootfs mounted, the command runs with the hostname set, after ready', async () => {
    const result = await run('good', paths => overlay(paths, 's'), ['/bin/sh', '-c', 'hostname; test -d /proc/self']);
    assert.equal(result.status3, 'ready\n');
    assert.equal(result.stdout, 'buildkitsandbox\n');
    assert.equal(result.status, 0);
  });

  test('an overlay rootfs that does not mount is reported as refused, and the command never runs', async () => {
    const result = await run('refused', paths => overlay(paths, 's:missing-layer'), ['/bin/sh', '-c', 'echo ran']);
    assert.equal(result.status, 97);
    assert.equal(result.status3, 'overlay-refused\n');
    assert.equal(result.stdout, '');
    assert.match(result.log, /mount/);
  });

  test('another mount that fails is a setup failure, not a refused overlay', async () => {
    const result = await run('later', paths => `${overlay(paths, 's')}none ${paths.root}/no/such/folder tmpfs defaults 0 0\n`, ['/bin/sh', '-c', 'echo ran']);
    assert.equal(result.status, 1);
    assert.equal(result.status3, '', 'neither ready nor refused');
    assert.equal(result.stdout, '');
    assert.match(result.log, /no\/such\/folder/);
  });
});
