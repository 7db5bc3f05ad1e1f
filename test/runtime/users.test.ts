import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {spawnSync} from 'node:child_process';
import {resolveUser, UnknownUserError} from '../../engine/runtime/index.js';
import {treeFingerprint} from './fixtures.js';

describe('resolveUser', () => {
  let root: string;
  let rootfs: string;
  let upper: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'strata-users-'));
    rootfs = join(root, 'rootfs');
    upper = join(root, 'upper');
    await mkdir(join(rootfs, 'etc'), {recursive: true});
    await writeFile(join(rootfs, 'etc/passwd'), [
      'root:x:0:0:root:/root:/bin/sh',
      '# a comment',
      'app:x:1000:1000:app:/home/app:/bin/sh',
      'svc:x:1001:1001::/srv:/bin/false',
      'broken line',
      '',
    ].join('\n'));
    await writeFile(join(rootfs, 'etc/group'), ['root:x:0:', 'staff:x:50:app,svc', 'audio:x:29:app', 'app:x:1000:', 'svc:x:1001:', 'wheel:x:10:app,app', ''].join('\n'));
    await mkdir(join(upper, 'etc'), {recursive: true});
  });
  after(async () => {
    await rm(root, {recursive: true, force: true});
  });

  test('no user is root with no supplementary groups', async () => {
    assert.deepEqual(await resolveUser(rootfs, ''), {uid: 0, gid: 0, groups: [], name: 'root', home: '/root'});
    assert.deepEqual(await resolveUser(rootfs, undefined), {uid: 0, gid: 0, groups: [], name: 'root', home: '/root'});
  });

  test('a name gives its uid, primary gid and every group listing it, once each, in file order', async () => {
    const before = await treeFingerprint(rootfs);
    assert.deepEqual(await resolveUser(rootfs, 'app'), {uid: 1000, gid: 1000, groups: [50, 29, 10], name: 'app', home: '/home/app'});
    assert.deepEqual(await treeFingerprint(rootfs), before, 'the rootfs is only read');
  });

  test('a uid with a passwd entry is resolved like its name', async () => {
    assert.deepEqual(await resolveUser(rootfs, '1001'), {uid: 1001, gid: 1001, groups: [50], name: 'svc', home: '/srv'});
  });

  test('a uid without a passwd entry runs with gid 0 and no groups', async () => {
    assert.deepEqual(await resolveUser(rootfs, '4242'), {uid: 4242, gid: 0, groups: []});
  });

  test('an explicit group, by name or number, replaces the primary gid and drops supplementary groups', async () => {
    assert.deepEqual(await resolveUser(rootfs, 'app:staff'), {uid: 1000, gid: 50, groups: [], name: 'app', home: '/home/app'});
    assert.deepEqual(await resolveUser(rootfs, '1000:1000'), {uid: 1000, gid: 1000, groups: [], name: 'app', home: '/home/app'});
    assert.deepEqual(await resolveUser(rootfs, '4242:777'), {uid: 4242, gid: 777, groups: []});
  });

  test('an unknown user or group name fails with the message docker gives', async () => {
    await assert.rejects(resolveUser(rootfs, 'ghost'), (error: unknown) =>
      error instanceof UnknownUserError && error.code === 'ERR_UNKNOWN_USER' && /unable to find user ghost: no matching entries in passwd file/.test(error.message));
    await assert.rejects(resolveUser(rootfs, 'app:ghosts'), (error: unknown) =>
      error instanceof UnknownUserError && /unable to find group ghosts: no matching entries in group file/.test(error.message));
  });

  test('an image without /etc/passwd accepts numeric ids only', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty);
    assert.deepEqual(await resolveUser(empty, '1000:1000'), {uid: 1000, gid: 1000, groups: []});
    await assert.rejects(resolveUser(empty, 'app'), UnknownUserError);
  });

  test('a stack of lower folders is read as merged: an upper passwd wins, a whiteout hides it', async () => {
    await writeFile(join(upper, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nnewuser:x:2000:2000::/home/new:/bin/sh\n');
    assert.equal((await resolveUser([rootfs, upper], 'newuser')).uid, 2000);
    await assert.rejects(resolveUser([rootfs, upper], 'app'), UnknownUserError);
    const whiteout = join(root, 'whiteout');
    await mkdir(join(whiteout, 'etc'), {recursive: true});
    const made = spawnSync('mknod', [join(whiteout, 'etc/passwd'), 'c', '0', '0']);
    if (made.status !== 0) return;
    await assert.rejects(resolveUser([rootfs, whiteout], 'app'), UnknownUserError);
    assert.equal((await resolveUser([rootfs, whiteout], '1000')).gid, 0);
  });
});
