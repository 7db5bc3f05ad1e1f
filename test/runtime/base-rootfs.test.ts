import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createReadStream} from 'node:fs';
import {mkdtemp, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {readLayerMembers} from '../../engine/layer/index.js';
import type {TarMember} from '../../engine/layer/index.js';
import {detectBaseSource, makeBaseRootfsTar} from '../../fixtures/base/base-rootfs.js';

async function members(path: string): Promise<Map<string, TarMember>> {
  const found = new Map<string, TarMember>();
  await readLayerMembers(createReadStream(path), member => {
    found.set(member.path, member);
  });
  return found;
}

for (const source of ['busybox', 'host'] as const) {
  test(`the ${source} base rootfs is deterministic and holds users, a shell and the usual folders`, async t => {
    if (source === 'busybox' && (await detectBaseSource()) !== 'busybox') {
      t.skip('no static /bin/busybox (busybox-static)');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'strata-base-test-'));
    try {
      const first = await makeBaseRootfsTar(join(dir, 'a.tar'), {source});
      const second = await makeBaseRootfsTar(join(dir, 'b.tar'), {source});
      assert.equal(first.diffId, second.diffId, 'the same machine makes the same bytes');
      assert.deepEqual(await readFile(join(dir, 'a.tar')), await readFile(join(dir, 'b.tar')));
      const entries = await members(join(dir, 'a.tar'));
      const shell = entries.get('bin/sh')!;
      assert.ok(shell, 'has /bin/sh');
      if (source === 'busybox') assert.deepEqual([shell.type, shell.linkname], ['symlink', 'busybox']);
      const tmp = entries.get('tmp')!;
      assert.deepEqual([tmp.type, tmp.mode & 0o7777], ['dir', 0o1777]);
      assert.equal(entries.get('root')!.mode & 0o7777, 0o700);
      const home = entries.get('home/app')!;
      assert.deepEqual([home.uid, home.gid], [1000, 1000]);
      for (const path of ['etc/passwd', 'etc/group', 'etc/os-release', 'proc', 'dev', 'sys', 'usr/bin/env']) assert.ok(entries.has(path), path);
      t.diagnostic(`${source}: ${entries.size} entries, ${first.size} bytes`);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });
}

test('the host-tools base rootfs runs its shell and tools with their shared libraries', async t => {
  const {probeRuntime, runIsolated} = await import('../../engine/runtime/index.js');
  const {applyLayer} = await import('../../engine/layer/index.js');
  const probe = await probeRuntime();
  if (!probe.available) {
    t.skip(`runtime unavailable: ${probe.reason}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'strata-base-host-'));
  try {
    await makeBaseRootfsTar(join(dir, 'host.tar'), {source: 'host'});
    await applyLayer(createReadStream(join(dir, 'host.tar')), join(dir, 'rootfs'));
    const lines: string[] = [];
    const result = await runIsolated({
      lowerDirs: [join(dir, 'rootfs')],
      upperDir: join(dir, 'upper'),
      workDir: join(dir, 'work'),
      env: ['PATH=/bin:/usr/bin'],
      cwd: '/',
      network: 'none',
      user: 'app',
      argv: ['/bin/sh', '-c', 'echo ok; id -u; ls /etc | sort | tr "\\n" " "'],
      onOutput: line => lines.push(line),
    });
    assert.equal(result.exitCode, 0, lines.join('\n'));
    assert.deepEqual(lines.slice(0, 2), ['ok', '1000']);
    assert.match(lines[2]!, /group .*passwd/);
  } finally {
    const {removeContainerTree} = await import('../../engine/runtime/index.js');
    await removeContainerTree(dir);
  }
});
