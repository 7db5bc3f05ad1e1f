/**
 * The RUN tests once more with every step started by the launcher's helper process (as watch mode starts
 * them), then what only the launcher can get wrong: its helper dying in the middle of a step.
 */
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {readdir, readFile} from 'node:fs/promises';

process.env.STRATA_TEST_LAUNCHER = '1';
const {probeRuntime, runIsolated, startLauncher} = await import('../../engine/runtime/index.js');
const {openBaseRootfs} = await import('./fixtures.js');
await import('./run-isolated.test.js');

/** Pids whose command line is `argv`, or (a string) contains it. */
async function processesWith(argv: string | string[]): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (typeof argv === 'string' ? cmdline.includes(argv) : cmdline === argv.map(arg => `${arg}\0`).join('')) found.push(Number(pid));
  }
  return found;
}

const probe = await probeRuntime();
describe('the step launcher', {skip: probe.available ? false : `runtime unavailable: ${probe.reason}`}, () => {
  test('a helper that dies mid-step takes the step down, fails the run, and the next run starts without it', async () => {
    const base = await openBaseRootfs();
    try {
      assert.equal(await startLauncher(), true);
      const marker = String(30000 + Math.floor(Math.random() * 9999));
      const running = runIsolated({lowerDirs: base.lowerDirs, ...(await base.scratch()), env: ['PATH=/bin'], cwd: '/', network: 'none', argv: ['/bin/sleep', marker]});
      let sleeping: number[] = [];
      for (let attempt = 0; attempt < 100 && sleeping.length === 0; attempt++) {
        await new Promise(resolve => setTimeout(resolve, 50));
        sleeping = await processesWith(['/bin/sleep', marker]);
      }
      assert.equal(sleeping.length, 1, 'the step runs');
      const helpers = await processesWith('const running = new Map()');
      assert.equal(helpers.length, 1, 'one launcher helper');
      process.kill(helpers[0]!, 'SIGKILL');
      await assert.rejects(running, /launcher stopped/);
      assert.deepEqual(await processesWith(['/bin/sleep', marker]), [], 'the step is gone with it');
      const lines: string[] = [];
      const next = await runIsolated({
        lowerDirs: base.lowerDirs, ...(await base.scratch()), env: ['PATH=/bin'], cwd: '/', network: 'none',
        argv: ['/bin/sh', '-c', 'echo still works'], onOutput: line => lines.push(line),
      });
      assert.equal(next.exitCode, 0);
      assert.deepEqual(lines, ['still works']);
    } finally {
      await base.cleanup();
    }
  });
});
