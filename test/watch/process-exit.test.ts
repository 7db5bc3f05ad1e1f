/**
 * A watch session keeps its process alive only while it runs: once it is stopped and the engine closed, the
 * process ends on its own, as `strata ui` must when q is pressed. Run in a process of its own, since the test
 * runner's own handles would hide a leak. The session here writes nothing (every step cached), so the helper
 * threads watch mode starts stay idle the whole time.
 */
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const script = `
const {Engine} = await import(process.env.STRATA_ENGINE_MODULE);
const [root, context] = process.argv.slice(2);
const engine = await Engine.open({root, env: {}});
await engine.build({contextDir: context, tags: ['app:dev']});
const controller = new AbortController();
await engine.watch({contextDir: context, tags: ['app:dev'], signal: controller.signal}, event => {
  if (event.type === 'rebuilt') console.log('rebuilt ' + event.steps.length + ' steps');
  if (event.type === 'rebuild-failed') console.log('failed: ' + event.error);
  if (event.type === 'rebuilt' || event.type === 'rebuild-failed') controller.abort();
});
await engine.close();
console.log('stopped');
`;

test('a stopped watch session whose builds wrote nothing lets its process exit', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'strata-watch-exit-'));
  try {
    const context = join(folder, 'context');
    await mkdir(join(context, 'src'), {recursive: true});
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY src/ /app/src/\n');
    await writeFile(join(context, 'src', 'main.txt'), 'one\n');
    await writeFile(join(folder, 'session.mts'), script);
    // A generous deadline: the process is only killed when it would otherwise never end.
    const outcome = await new Promise<{code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string}>(done => {
      const child = execFile(process.execPath, ['--import', 'tsx', join(folder, 'session.mts'), join(folder, 'store'), context], {
        cwd: repo,
        env: {...process.env, STRATA_ENGINE_MODULE: pathToFileURL(join(repo, 'engine', 'index.ts')).href},
        timeout: 60_000,
      }, (_error, stdout, stderr) => done({code: child.exitCode, signal: child.signalCode, stdout, stderr}));
    });
    assert.equal(outcome.signal, null, `the process had to be killed; it printed:\n${outcome.stdout}${outcome.stderr}`);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(outcome.stdout.trim().split('\n'), ['rebuilt 0 steps', 'stopped'], 'the session found every step cached');
  } finally {
    await rm(folder, {recursive: true, force: true});
  }
});
