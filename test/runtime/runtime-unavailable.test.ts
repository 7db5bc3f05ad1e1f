/**
 * A system without usable namespaces: RUN must fail with RuntimeUnavailableError and a clear message, and the
 * probe must say why. Simulated for real: the unprivileged test user enters a user namespace of its own, sets
 * its `user.max_user_namespaces` to 0 (a per-namespace limit, so nothing outside changes), and runs node as a
 * non-root user in there, where every further `unshare --user` fails.
 */
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {chmod, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {ensureTestUser} from '../helpers/users.js';
import {unprivilegedRun} from './fixtures.js';

const reason = unprivilegedRun ? 'root only' : process.getuid?.() !== 0 ? 'needs root to create the unprivileged test user' : false;

test('without user namespaces RUN fails with a clear RuntimeUnavailableError and nothing is written', {skip: reason, timeout: 120_000}, async t => {
  const user = ensureTestUser();
  if ('skip' in user) {
    t.skip(user.skip);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'strata-no-userns-'));
  try {
    await chmod(dir, 0o777);
    const engine = resolve(import.meta.dirname, '../../engine/runtime/index.ts');
    const script = join(dir, 'probe.mts');
    await writeFile(script, [
      `import {probeRuntime, runIsolated, RuntimeUnavailableError} from ${JSON.stringify(engine)};`,
      `const probe = await probeRuntime();`,
      `let error: unknown;`,
      `try { await runIsolated({lowerDirs: [], upperDir: ${JSON.stringify(join(dir, 'upper'))}, workDir: ${JSON.stringify(join(dir, 'work'))}, env: [], cwd: '/', network: 'none', argv: ['/bin/true']}); } catch (caught) { error = caught; }`,
      `console.log(JSON.stringify({probe, name: (error as Error)?.name, code: (error as {code?: string})?.code, message: (error as Error)?.message, hint: (error as {hint?: string})?.hint, typed: error instanceof RuntimeUnavailableError}));`,
    ].join('\n'));
    await chmod(script, 0o644);
    const inner = `echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --reuid=1000 --regid=1000 --clear-groups env HOME=${dir} TMPDIR=/tmp ${process.execPath} --import tsx ${script}`;
    const output = await new Promise<{code: number; stdout: string; stderr: string}>((done, fail) => {
      const child = spawn('runuser', ['-u', user.name, '--', 'unshare', '--user', '--map-root-user', '--map-auto', 'sh', '-c', inner], {
        cwd: resolve(import.meta.dirname, '../..'),
        env: {PATH: '/usr/bin:/bin:/usr/sbin:/sbin'},
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', fail);
      child.on('close', code => done({code: code ?? 1, stdout, stderr}));
    });
    assert.equal(output.code, 0, output.stderr);
    const result = JSON.parse(output.stdout.trim().split('\n').at(-1)!);
    assert.equal(result.probe.available, false);
    assert.match(result.probe.reason, /cannot create namespaces/);
    assert.equal(result.typed, true);
    assert.equal(result.code, 'ERR_RUNTIME_UNAVAILABLE');
    assert.match(result.message, /^run \/bin\/true: cannot create Linux namespaces: /);
    assert.match(result.hint, /user namespaces/);
    t.diagnostic(result.message);
    const {readdir} = await import('node:fs/promises');
    assert.deepEqual(await readdir(dir), ['probe.mts'], 'no upper or work folder was made');
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
});
