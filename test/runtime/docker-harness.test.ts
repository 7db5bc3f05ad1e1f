/**
 * The real-Docker harness, and what a RUN sees under Docker BuildKit compared with runIsolated on the same
 * base: user and groups for each USER form, hostname, /etc/hosts, /etc/hostname, /dev, network.
 */
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {probeRuntime, runIsolated} from '../../engine/runtime/index.js';
import {basePath, baseRootfsTar} from '../helpers/base-image.js';
import {startDocker} from '../helpers/docker.js';
import type {DockerDaemon} from '../helpers/docker.js';
import {openBaseRootfs, unprivilegedRun} from './fixtures.js';

/** Each probe prints one line per fact; the same script runs under Docker and under runIsolated. */
const probes: Array<{user: string; script: string}> = [
  {user: '', script: 'id'},
  {user: 'app', script: 'id'},
  {user: 'app:staff', script: 'id'},
  {user: '1000:1000', script: 'id'},
  {user: '1000', script: 'id'},
  {user: 'nobody', script: 'id'},
  {user: '', script: 'hostname; cat /etc/hosts; test -e /etc/hostname && echo has-etc-hostname || echo no-etc-hostname'},
  {user: '', script: 'ls /dev | tr "\\n" " "; echo; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; echo $$; pwd'},
];

describe('real Docker harness', {skip: unprivilegedRun ? 'root only' : false}, () => {
  let daemon: DockerDaemon | undefined;
  let skipReason: string | undefined;
  let context: string;

  before(async () => {
    const started = await startDocker();
    if ('skip' in started) {
      skipReason = started.skip;
      return;
    }
    daemon = started;
    context = await mkdtemp(join(tmpdir(), 'strata-docker-ctx-'));
  });
  after(async () => {
    await daemon?.stop();
    if (context) await rm(context, {recursive: true, force: true});
  });

  test('dockerd starts on a private socket, imports the base and builds FROM it offline', async t => {
    if (!daemon) {
      t.skip(skipReason ?? 'dockerd unavailable');
      return;
    }
    t.diagnostic(`storage driver ${daemon.storageDriver}, socket ${daemon.socket}`);
    const tar = await baseRootfsTar();
    const imported = await daemon.loadBaseIntoDocker(tar.path, 'base:latest');
    assert.match(imported, /^sha256:[0-9a-f]{64}$/);
    await writeFile(join(context, 'Dockerfile'), 'FROM base\nRUN echo hi > /x\n');
    const started = Date.now();
    const build = await daemon.docker(['build', '--network', 'none', '--progress', 'plain', '-t', 'smoke:latest', context]);
    t.diagnostic(`docker build took ${Date.now() - started} ms`);
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stderr, /FROM docker.io\/library\/base/);
    const run = await daemon.docker(['run', '--rm', '--network', 'none', 'smoke:latest', 'cat', '/x']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hi\n');
  });

  test('a RUN sees the same user, groups, hostname, /etc files and /dev under Docker and under runIsolated', async t => {
    if (!daemon) {
      t.skip(skipReason ?? 'dockerd unavailable');
      return;
    }
    const runtime = await probeRuntime();
    if (!runtime.available) {
      t.skip(`runtime unavailable: ${runtime.reason}`);
      return;
    }
    const tar = await baseRootfsTar();
    await daemon.loadBaseIntoDocker(tar.path, 'base:latest');
    const lines = ['FROM base'];
    probes.forEach((probe, index) => {
      lines.push(`USER ${probe.user || 'root'}`, `RUN (${probe.script}) > /tmp/probe-${index}.txt 2>&1`);
    });
    lines.push('USER root', `RUN cat ${probes.map((_, index) => `/tmp/probe-${index}.txt`).join(' ')} > /probes.txt`);
    await writeFile(join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
    const build = await daemon.docker(['build', '--network', 'none', '-q', '-t', 'probes:latest', context]);
    assert.equal(build.code, 0, build.stderr);
    const docker = await daemon.docker(['run', '--rm', '--network', 'none', 'probes:latest', 'cat', '/probes.txt']);
    assert.equal(docker.code, 0, docker.stderr);

    const base = await openBaseRootfs();
    try {
      const ours: string[] = [];
      for (const probe of probes) {
        const scratch = await base.scratch();
        const result = await runIsolated({
          lowerDirs: base.lowerDirs,
          ...scratch,
          env: [`PATH=${basePath}`],
          cwd: '/',
          network: 'none',
          hostname: 'buildkitsandbox',
          etcHostname: false,
          ...(probe.user ? {user: probe.user} : {}),
          argv: ['/bin/sh', '-c', `(${probe.script}) 2>&1`],
          onOutput: line => ours.push(line),
        });
        assert.equal(result.exitCode, 0);
      }
      const dockerLines = docker.stdout.trimEnd().split('\n');
      // BuildKit's step process is not PID 1 in every version; compare everything else exactly.
      const withoutPid = (list: string[]) => list.filter(line => !/^\d+$/.test(line));
      assert.deepEqual(withoutPid(ours), withoutPid(dockerLines));
    } finally {
      await base.cleanup();
    }
  });
});
