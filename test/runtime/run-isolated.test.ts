import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile, copyFile} from 'node:fs/promises';
import {hostname as hostHostname, tmpdir} from 'node:os';
import {join} from 'node:path';
import {exportUpperDir, probeRuntime, runIsolated, RuntimeSetupError, startLauncher, UnknownUserError} from '../../engine/runtime/index.js';
import {changesBetween, changesFromOverlayUpper, readLayerMembers} from '../../engine/layer/index.js';
import type {TarMember} from '../../engine/layer/index.js';
import type {OutputStream, RunIsolatedOptions} from '../../engine/runtime/index.js';
import {basePath} from '../helpers/base-image.js';
import {launcherRun, listTree, openBaseRootfs, treeFingerprint, unprivilegedRun} from './fixtures.js';
import type {BaseRootfs} from './fixtures.js';

const env = [`PATH=${basePath}`, 'HOME=/root'];
const who = (unprivilegedRun ? 'unprivileged (user namespace)' : process.getuid?.() === 0 ? 'root' : 'unprivileged') +
  (launcherRun ? ', steps started by the launcher' : '');

describe(`runIsolated as ${who}`, async () => {
  const probe = await probeRuntime();
  const skip = probe.available ? false : `runtime unavailable: ${probe.reason}`;
  let base: BaseRootfs;

  before(async () => {
    if (!skip) base = await openBaseRootfs();
    if (!skip && launcherRun) assert.equal(await startLauncher(), true, 'the launcher starts');
  });
  after(async () => {
    await base?.cleanup();
  });

  async function run(options: Partial<RunIsolatedOptions> & {argv: string[]}) {
    const {upperDir, workDir} = await base.scratch();
    const lines: Array<[string, OutputStream]> = [];
    const result = await runIsolated({
      lowerDirs: base.lowerDirs,
      upperDir,
      workDir,
      env,
      cwd: '/',
      network: 'none',
      onOutput: (line, stream) => lines.push([line, stream]),
      ...options,
    });
    const stdout = lines.filter(([, stream]) => stream === 'stdout').map(([line]) => line);
    const stderr = lines.filter(([, stream]) => stream === 'stderr').map(([line]) => line);
    return {result, stdout, stderr, upperDir, workDir};
  }

  test('echo output streams line by line, each line with its stream', {skip}, async () => {
    const {result, stdout, stderr, workDir} = await run({argv: ['/bin/sh', '-c', 'echo one; echo two >&2; echo three; printf four']});
    assert.equal(result.exitCode, 0);
    assert.equal(result.mode, 'overlay');
    assert.deepEqual(stdout, ['one', 'three', 'four']);
    assert.deepEqual(stderr, ['two']);
    await assert.rejects(lstat(workDir), {code: 'ENOENT'}, 'the scratch folder is removed');
  });

  test('a failing command returns its exit code and keeps its output', {skip}, async () => {
    const {result, stderr} = await run({argv: ['/bin/sh', '-c', 'echo boom >&2; exit 7']});
    assert.equal(result.exitCode, 7);
    assert.deepEqual(stderr, ['boom']);
  });

  test('a step killed by SIGKILL from outside (the OOM killer, say) exits 137 as docker reports', {skip}, async () => {
    const marker = String(60000 + Math.floor(Math.random() * 9999));
    const running = run({argv: ['/bin/sleep', marker]});
    let killed = false;
    for (let attempt = 0; attempt < 100 && !killed; attempt++) {
      await new Promise(resolve => setTimeout(resolve, 50));
      for (const pid of await readdir('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline === `/bin/sleep\0${marker}\0`) {
          process.kill(Number(pid), 'SIGKILL');
          killed = true;
        }
      }
    }
    assert.ok(killed, 'found the step\'s process');
    const {result, stderr} = await running;
    assert.equal(result.exitCode, 137);
    assert.deepEqual(stderr, [], 'no helper noise in the output');
  });

  test('a missing executable fails with exit code 127 and says so', {skip}, async () => {
    const {result, stderr} = await run({argv: ['/no/such/program']});
    assert.ok(result.exitCode === 127 || result.exitCode === 126, `exit code ${result.exitCode}`);
    assert.match(stderr.join('\n'), /no\/such\/program/);
  });

  test('the environment is exactly the one given', {skip}, async () => {
    const given = [...env, 'GREETING=hello world', 'EMPTY='];
    const {result, stdout} = await run({argv: ['/bin/env'], env: given});
    assert.equal(result.exitCode, 0);
    assert.deepEqual(stdout.sort(), [...given].sort());
  });

  test('the working directory is created when missing and the command starts in it', {skip}, async () => {
    const {result, stdout, upperDir} = await run({argv: ['/bin/pwd'], cwd: '/srv/app/deep'});
    assert.equal(result.exitCode, 0);
    assert.deepEqual(stdout, ['/srv/app/deep']);
    assert.deepEqual(await listTree(upperDir), ['d srv', 'd srv/app', 'd srv/app/deep']);
  });

  test('a working directory through a symlink is created inside the rootfs', {skip}, async () => {
    // /tmp/link -> / in the image would lead a host-side mkdir to the host's root if it were followed there.
    const {result, stdout, upperDir} = await run({argv: ['/bin/sh', '-c', 'ln -s / /tmp/link']});
    assert.equal(result.exitCode, 0, stdout.join('\n'));
    const lowerDirs = [...base.lowerDirs, upperDir];
    const second = await base.scratch();
    const outcome = await runIsolated({lowerDirs, ...second, env, cwd: '/tmp/link/made-here', network: 'none', argv: ['/bin/pwd']});
    assert.equal(outcome.exitCode, 0);
    assert.deepEqual(await listTree(second.upperDir), ['d made-here']);
    await assert.rejects(lstat('/made-here'), {code: 'ENOENT'});
  });

  test('USER app runs with its uid, gid and supplementary groups from /etc/group', {skip}, async () => {
    const {result, stdout} = await run({argv: ['/bin/id'], user: 'app'});
    assert.equal(result.exitCode, 0);
    assert.deepEqual(stdout, ['uid=1000(app) gid=1000(app) groups=50(staff)']);
  });

  test('USER with an explicit group drops the supplementary groups', {skip}, async () => {
    const byName = await run({argv: ['/bin/id'], user: 'app:staff'});
    // As BuildKit does (checked against Docker 20.10): an explicit group leaves no supplementary groups.
    assert.deepEqual(byName.stdout, ['uid=1000(app) gid=50(staff)']);
    const numeric = await run({argv: ['/bin/id'], user: '1000:1000'});
    assert.deepEqual(numeric.stdout, ['uid=1000(app) gid=1000(app)']);
    const root = await run({argv: ['/bin/id']});
    assert.deepEqual(root.stdout, ['uid=0(root) gid=0(root)']);
  });

  test('files keep the image\'s owners as the step sees them, so USER app can write its home', {skip}, async () => {
    const {result, stdout, stderr, upperDir} = await run({
      argv: ['/bin/sh', '-c', 'stat -c %u:%g /home/app /etc/passwd && touch /home/app/mine && stat -c %u:%g /home/app/mine'],
      user: 'app',
    });
    assert.equal(result.exitCode, 0, stderr.join('\n'));
    assert.deepEqual(stdout, ['1000:1000', '0:0', '1000:1000']);
    assert.deepEqual(await listTree(upperDir), ['d home', 'd home/app', 'f home/app/mine']);
    const mine = await lstat(join(upperDir, 'home/app/mine'));
    const hostUid = result.uidMap.reduce((found, entry) => (1000 >= entry.inside && 1000 < entry.inside + entry.count ? entry.outside + 1000 - entry.inside : found), -1);
    assert.equal(mine.uid, hostUid, 'on the host the file belongs to the id that maps to 1000');
  });

  test('USER naming a user the image lacks fails before anything runs', {skip}, async () => {
    const {upperDir, workDir} = await base.scratch();
    await assert.rejects(
      runIsolated({lowerDirs: base.lowerDirs, upperDir, workDir, env, cwd: '/', network: 'none', argv: ['/bin/true'], user: 'ghost'}),
      (error: unknown) => error instanceof UnknownUserError && /unable to find user ghost/.test(error.message),
    );
    await assert.rejects(lstat(upperDir), {code: 'ENOENT'});
  });

  test('the hostname is the step\'s own, in /etc/hostname too, and the host keeps its own', {skip}, async () => {
    const {stdout} = await run({argv: ['/bin/sh', '-c', 'hostname; cat /etc/hostname; grep -c builder-1 /etc/hosts'], hostname: 'builder-1'});
    assert.deepEqual(stdout, ['builder-1', 'builder-1', '1']);
    assert.notEqual(hostHostname(), 'builder-1');
  });

  test('/proc is mounted and the command is PID 1 of its namespace', {skip}, async () => {
    const {stdout} = await run({argv: ['/bin/sh', '-c', 'echo $$; cat /proc/self/stat | cut -d" " -f1,2; ls /proc | grep -c "^[0-9]"']});
    assert.equal(stdout[0], '1');
    assert.match(stdout[1]!, /^\d+ \(cat\)$/);
    assert.ok(Number(stdout[2]) <= 3, `only the step's processes are visible, saw ${stdout[2]}`);
  });

  test('network none has only loopback; host network sees the host interfaces', {skip}, async () => {
    const none = await run({argv: ['/bin/sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "']});
    assert.deepEqual(none.stdout, ['lo']);
    const host = await run({argv: ['/bin/sh', '-c', 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'], network: 'host'});
    const hostInterfaces = (await readFile('/proc/net/dev', 'utf8')).split('\n').slice(2).filter(Boolean).map(line => line.split(':')[0]!.trim());
    assert.deepEqual(host.stdout.sort(), hostInterfaces.sort());
  });

  test('a minimal /dev is provided and stays out of the upper dir', {skip}, async () => {
    const {result, stdout, upperDir} = await run({
      argv: ['/bin/sh', '-c', 'echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c && ls /dev | tr "\\n" " "'],
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(stdout.slice(0, 2), ['4', '4']);
    for (const name of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm', 'mqueue', 'fd', 'stdin', 'stdout', 'stderr', 'ptmx']) {
      assert.ok(stdout[2]!.split(' ').includes(name), `/dev/${name} is present`);
    }
    assert.deepEqual(await listTree(upperDir), []);
  });

  test('/etc/hosts, resolv.conf and hostname are provided and absent from the upper dir', {skip}, async () => {
    const {result, stdout, upperDir} = await run({
      argv: ['/bin/sh', '-c', 'cat /etc/hosts /etc/resolv.conf /etc/hostname; echo added > /etc/added'],
      resolvConf: 'nameserver 192.0.2.53\n',
      hostname: 'step',
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(stdout, ['127.0.0.1\tlocalhost step', '::1\tlocalhost ip6-localhost ip6-loopback', 'nameserver 192.0.2.53', 'step']);
    assert.deepEqual(await listTree(upperDir), ['d etc', 'f etc/added']);
    // The copied-up /etc keeps the image's metadata, not the stub layer's.
    const lowerEtc = await lstat(join(base.lowerDirs[0]!, 'etc'));
    const upperEtc = await lstat(join(upperDir, 'etc'));
    assert.equal(upperEtc.mode, lowerEtc.mode);
    if (!unprivilegedRun) assert.deepEqual([upperEtc.uid, upperEtc.gid], [lowerEtc.uid, lowerEtc.gid]);
  });

  test('a written file and a deleted file show up in the upper dir in overlay form', {skip}, async () => {
    const {result, upperDir} = await run({
      argv: ['/bin/sh', '-c', 'echo hello > /tmp/new.txt && rm /etc/os-release && mkdir -p /opt/tool && chmod 700 /opt/tool'],
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(await listTree(upperDir), ['d etc', 'c0 etc/os-release', 'd opt', 'd opt/tool', 'd tmp', 'f tmp/new.txt']);
    assert.equal(await readFile(join(upperDir, 'tmp/new.txt'), 'utf8'), 'hello\n');
    assert.equal((await lstat(join(upperDir, 'opt/tool'))).mode & 0o777, 0o700);
  });

  test('engine/layer turns the upper dir into the layer the step stands for, in overlay and in copy mode', {skip}, async () => {
    const script = 'echo hello > /tmp/new.txt && rm /etc/os-release && rm -rf /root && mkdir -m 750 /root && echo r > /root/r';
    const expected = ['d etc', 'd root', 'd tmp', 'f etc/.wh.os-release', 'f root/.wh..wh..opq', 'f root/r', 'f tmp/new.txt'];
    const describeEntries = (entries: Array<{path: string; type: string}>) =>
      entries.map(entry => `${entry.type === 'dir' ? 'd' : entry.type === 'file' ? 'f' : entry.type} ${entry.path}`).sort();
    const overlay = await run({argv: ['/bin/sh', '-c', script]});
    assert.equal(overlay.result.exitCode, 0, overlay.stderr.join('\n'));
    const back = (map: readonly {inside: number; outside: number; count: number}[], id: number) =>
      map.reduce((found, entry) => (id >= entry.outside && id < entry.outside + entry.count ? entry.inside + id - entry.outside : found), 65534);
    const mapOwner = (uid: number, gid: number) => ({uid: back(overlay.result.uidMap, uid), gid: back(overlay.result.gidMap, gid)});
    const fromUpper = await changesFromOverlayUpper(overlay.upperDir, {mapOwner});
    assert.deepEqual(describeEntries(fromUpper), expected);
    assert.ok(fromUpper.every(entry => entry.uid === 0 && entry.gid === 0), 'owners are the container\'s root');

    const copy = await run({argv: ['/bin/sh', '-c', script], mode: 'copy'});
    assert.equal(copy.result.exitCode, 0, copy.stderr.join('\n'));
    const merged = await base.snapshots.mergedCopy(base.diffIds);
    const fromCopy = await changesBetween(merged, copy.upperDir, {mapOwner});
    // Without overlay, a re-created folder is a changed folder whose lost children are whited out one by one.
    const copyExpected = describeEntries(fromCopy);
    for (const line of ['d etc', 'f etc/.wh.os-release', 'd root', 'f root/r', 'd tmp', 'f tmp/new.txt']) assert.ok(copyExpected.includes(line), line);
    assert.ok(!copyExpected.some(line => /etc\/(hosts|resolv\.conf|hostname)$|^d (proc|dev|sys)$/.test(line)), copyExpected.join(', '));
  });

  test('the upper dir exports with container owners, whiteouts, opaque marks and unreadable files', {skip}, async () => {
    const asApp = await run({argv: ['/bin/sh', '-c', 'mkdir -m 700 /tmp/secret && echo s > /tmp/secret/f && chmod 600 /tmp/secret/f'], user: 'app'});
    assert.equal(asApp.result.exitCode, 0, asApp.stderr.join('\n'));
    const asRoot = await run({argv: ['/bin/sh', '-c', 'rm /etc/os-release && rm -rf /root && mkdir -m 750 /root'], lowerDirs: [...base.lowerDirs, asApp.upperDir]});
    assert.equal(asRoot.result.exitCode, 0, asRoot.stderr.join('\n'));
    const members = new Map<string, {member: TarMember; content: string}>();
    for (const upperDir of [asApp.upperDir, asRoot.upperDir]) {
      const exported = exportUpperDir(upperDir);
      await Promise.all([
        readLayerMembers(exported.stream, async (member, body) => {
          let content = '';
          for await (const chunk of body) content += chunk.toString('utf8');
          members.set(member.path, {member, content});
        }),
        exported.done,
      ]);
    }
    const secret = members.get('tmp/secret')!.member;
    assert.deepEqual([secret.type, secret.mode & 0o7777, secret.uid, secret.gid], ['dir', 0o700, 1000, 1000]);
    const file = members.get('tmp/secret/f')!;
    assert.deepEqual([file.member.uid, file.member.mode & 0o7777, file.content], [1000, 0o600, 's\n']);
    const whiteout = members.get('etc/os-release')!.member;
    assert.deepEqual([whiteout.type, whiteout.devmajor, whiteout.devminor], ['char', 0, 0]);
    const root = members.get('root')!.member;
    assert.equal(root.mode & 0o7777, 0o750);
    const opaque = Object.entries(root.xattrs ?? {}).find(([name]) => /^(trusted|user)\.overlay\.opaque$/.test(name));
    assert.ok(opaque, `the recreated /root is marked opaque (xattrs ${JSON.stringify(root.xattrs)})`);
  });

  test('nothing is written outside the upper dir: the lower dirs are unchanged', {skip}, async () => {
    const before = await Promise.all(base.lowerDirs.map(dir => treeFingerprint(dir)));
    const {result} = await run({
      argv: ['/bin/sh', '-c', 'rm -rf /bin/ls /etc/passwd /home/app && echo x > /root/x && mkdir /new && touch /bin/busybox && chmod 600 /tmp'],
      cwd: '/work',
    });
    assert.equal(result.exitCode, 0);
    const after = await Promise.all(base.lowerDirs.map(dir => treeFingerprint(dir)));
    assert.deepEqual(after, before);
  });

  test('copy mode runs on a merged copy in the upper dir and leaves no mount points behind', {skip}, async () => {
    const before = await Promise.all(base.lowerDirs.map(dir => treeFingerprint(dir)));
    const {result, stdout, upperDir} = await run({
      argv: ['/bin/sh', '-c', 'cat /etc/hostname; echo $$; stat -c %u:%g /home/app; echo new > /new; rm /etc/os-release'],
      mode: 'copy',
      hostname: 'copied',
    });
    assert.equal(result.exitCode, 0);
    assert.equal(result.mode, 'copy');
    assert.deepEqual(stdout, ['copied', '1', '1000:1000'], 'owners survive the copy');
    const names = await readdir(upperDir);
    assert.ok(names.includes('bin') && names.includes('new'), 'the whole rootfs is in the upper dir');
    await assert.rejects(lstat(join(upperDir, 'etc/os-release')), {code: 'ENOENT'});
    for (const stub of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname']) {
      await assert.rejects(lstat(join(upperDir, stub)), {code: 'ENOENT'}, `${stub} is not left behind`);
    }
    assert.deepEqual(await readdir(join(upperDir, 'dev')), [], 'the image\'s empty /dev stays empty');
    assert.deepEqual(await Promise.all(base.lowerDirs.map(dir => treeFingerprint(dir))), before);
  });

  test('a rootfs without /etc, /proc or /dev gets mount points from the stub layer, not the upper dir', {skip}, async () => {
    const bare = await mkdtemp(join(tmpdir(), 'strata-bare-'));
    try {
      await mkdir(join(bare, 'bin'));
      await copyFile('/bin/busybox', join(bare, 'bin/busybox'));
      await symlink('busybox', join(bare, 'bin/sh'));
      await symlink('busybox', join(bare, 'bin/cat'));
      const before = await treeFingerprint(bare);
      const scratch = await base.scratch();
      const lines: string[] = [];
      const result = await runIsolated({
        lowerDirs: [bare],
        ...scratch,
        env: ['PATH=/bin'],
        cwd: '/',
        network: 'none',
        hostname: 'bare',
        argv: ['/bin/sh', '-c', 'cat /etc/hostname; echo $$ > /dev/null; test -d /proc/self && echo proc'],
        onOutput: line => lines.push(line),
      });
      assert.equal(result.exitCode, 0, lines.join('\n'));
      assert.deepEqual(lines, ['bare', 'proc']);
      assert.deepEqual(await listTree(scratch.upperDir), []);
      assert.deepEqual(await treeFingerprint(bare), before);
    } finally {
      await rm(bare, {recursive: true, force: true});
    }
  });

  test('an image whose resolv.conf is a symlink out of the rootfs gets the step\'s file, and the host file is untouched', {skip}, async () => {
    const victim = await mkdtemp(join(tmpdir(), 'strata-victim-'));
    const layer = await mkdtemp(join(tmpdir(), 'strata-evil-'));
    try {
      await writeFile(join(victim, 'resolv.conf'), 'host file\n');
      await mkdir(join(layer, 'etc'));
      await symlink(join(victim, 'resolv.conf'), join(layer, 'etc/resolv.conf'));
      const scratch = await base.scratch();
      const lines: string[] = [];
      const result = await runIsolated({
        lowerDirs: [...base.lowerDirs, layer],
        ...scratch,
        env,
        cwd: '/',
        network: 'none',
        resolvConf: 'nameserver 192.0.2.1\n',
        argv: ['/bin/cat', '/etc/resolv.conf'],
        onOutput: line => lines.push(line),
      });
      assert.equal(result.exitCode, 0);
      assert.deepEqual(lines, ['nameserver 192.0.2.1']);
      assert.equal(await readFile(join(victim, 'resolv.conf'), 'utf8'), 'host file\n');
      assert.deepEqual(await listTree(scratch.upperDir), []);
    } finally {
      await rm(victim, {recursive: true, force: true});
      await rm(layer, {recursive: true, force: true});
    }
  });

  test('aborting kills every process of the step', {skip}, async () => {
    const controller = new AbortController();
    const marker = String(40000 + Math.floor(Math.random() * 9999));
    const started = Date.now();
    const running = run({argv: ['/bin/sh', '-c', `sleep ${marker} & sleep ${marker}; echo never`], signal: controller.signal});
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(running, (error: unknown) => (error as Error).name === 'AbortError');
    assert.ok(Date.now() - started < 5000, 'the abort is prompt');
    const survivors: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(`sleep\0${marker}`)) survivors.push(pid);
    }
    assert.deepEqual(survivors, []);
  });

  test('steps still running when the process exits are killed, whatever user they run as', {skip}, async () => {
    const marker = String(50000 + Math.floor(Math.random() * 9999));
    const scratch = await base.scratch();
    const script = join(base.root, 'exit-while-running.mts');
    const engine = new URL('../../engine/runtime/index.ts', import.meta.url).pathname;
    await writeFile(script, [
      `import {runIsolated, startLauncher} from ${JSON.stringify(engine)};`,
      // Through the launcher, its helper process is what must take the step down when this process goes.
      ...(launcherRun ? ['if (!(await startLauncher())) throw new Error("no launcher");'] : []),
      `void runIsolated(${JSON.stringify({lowerDirs: base.lowerDirs, ...scratch, env, cwd: '/', network: 'none', user: 'app', argv: ['/bin/sleep', marker]})});`,
      'setTimeout(() => process.exit(0), 1500);',
    ].join('\n'));
    const {spawnSync} = await import('node:child_process');
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], {encoding: 'utf8', timeout: 30_000});
    assert.equal(child.status, 0, child.stderr);
    const survivors: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline === `/bin/sleep\0${marker}\0`) survivors.push(pid);
    }
    assert.deepEqual(survivors, []);
  });

  test('an overlay-only run fails clearly when overlayfs refuses the mount', {skip}, async () => {
    // The upper dir on tmpfs and the work dir on another filesystem: overlayfs refuses the pair.
    const scratch = await base.scratch();
    const upperDir = await mkdtemp('/dev/shm/strata-upper-');
    try {
      await assert.rejects(
        runIsolated({lowerDirs: base.lowerDirs, upperDir, workDir: scratch.workDir, env, cwd: '/', network: 'none', argv: ['/bin/true'], mode: 'overlay'}),
        (error: unknown) => error instanceof RuntimeSetupError && /mount overlayfs/.test(error.message),
      );
      assert.deepEqual(await readdir(upperDir), []);
      await assert.rejects(lstat(scratch.workDir), {code: 'ENOENT'});
    } finally {
      await rm(upperDir, {recursive: true, force: true});
    }
  });

  test('starting a step takes a few tens of milliseconds', {skip}, async () => {
    await run({argv: ['/bin/true']});
    const timings: number[] = [];
    for (let index = 0; index < 5; index++) {
      const started = performance.now();
      const {result} = await run({argv: ['/bin/true']});
      timings.push(performance.now() - started);
      assert.equal(result.exitCode, 0);
    }
    timings.sort((a, b) => a - b);
    const median = timings[2]!;
    console.log(`# runIsolated /bin/true (${who}): median ${median.toFixed(1)} ms, min ${timings[0]!.toFixed(1)} ms`);
    assert.ok(median < 500, `median start-to-exit ${median.toFixed(1)} ms`);
  });
});
