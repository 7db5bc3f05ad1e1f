import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {readFile} from 'node:fs/promises';
import {join} from 'node:path';
import {Readable} from 'node:stream';
import {Command} from 'commander';
import {Engine} from '../../engine/index.js';
import {registerBuildCommand} from '../../source/commands/build.js';
import {withBench} from './helpers.js';

/** Runs `strata build|builder ...` through the command module against the bench's store. */
async function strataBuild(root: string, args: string[], stdin = ''): Promise<{code: number; stdout: string; stderr: string}> {
  let stdout = '';
  let stderr = '';
  let engine: Promise<Engine> | undefined;
  const program = new Command('strata').exitOverride().configureOutput({writeOut: text => (stdout += text), writeErr: text => (stderr += text)});
  registerBuildCommand(program, {
    stdout: {write: (text: string) => (stdout += text)},
    stderr: {write: (text: string) => (stderr += text)},
    stdin: Readable.from([Buffer.from(stdin)]),
    env: {},
    now: () => new Date(),
    root: () => root,
    engine: () => (engine ??= Engine.open({root})),
  });
  program.commands.forEach(command => command.exitOverride());
  const previous = process.exitCode;
  process.exitCode = undefined;
  let code = 0;
  try {
    await program.parseAsync(args, {from: 'user'});
    code = Number(process.exitCode ?? 0);
  } catch (error) {
    stderr += `Error: ${(error as Error).message}\n`;
    code = 1;
  } finally {
    process.exitCode = previous;
  }
  return {code, stdout, stderr};
}

describe('strata build command', () => {
  test('plain progress goes to stderr like BuildKit plain output, stdout stays empty', () =>
    withBench(async bench => {
      await bench.write('app.txt', 'app');
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY app.txt /app/\nCMD ["cat", "/app/app.txt"]\n');
      const first = await strataBuild(bench.root, ['build', '-t', 'demo:latest', '--progress', 'plain', bench.context]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, '');
      const lines = first.stderr.split('\n');
      assert.equal(lines[0], '#1 [1/2] FROM base:latest');
      assert.equal(lines[1], '#1 CACHED');
      assert.equal(lines[3], '#2 [2/2] COPY app.txt /app/');
      assert.equal(lines[4], '#2 cache miss: no cache record');
      assert.match(lines[5], /^#2 DONE \d+\.\ds$/);
      assert.match(first.stderr, /#3 writing image sha256:[0-9a-f]{64} done\n#3 naming to demo:latest done\n/);

      const second = await strataBuild(bench.root, ['build', '-t', 'demo:latest', bench.context]);
      assert.match(second.stderr, /#2 \[2\/2\] COPY app.txt \/app\/\n#2 CACHED\n/);
    }));

  test('-q prints only the image ID and --iidfile writes it', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nENV A=1\n');
      const iidfile = join(bench.dir, 'iid');
      const run = await strataBuild(bench.root, ['build', '-q', '--iidfile', iidfile, bench.context]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^sha256:[0-9a-f]{64}\n$/);
      assert.equal(run.stderr, '');
      assert.equal(await readFile(iidfile, 'utf8'), run.stdout.trim());
    }));

  test('--progress json prints one event object per line', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nENV A=1\n');
      const run = await strataBuild(bench.root, ['build', '--progress', 'json', '--build-arg', 'X=1', '--label', 'l=v', bench.context]);
      assert.equal(run.code, 0);
      const events = run.stderr.trim().split('\n').map(line => JSON.parse(line) as {type: string});
      assert.equal(events[0].type, 'build-started');
      assert.equal(events.at(-1)!.type, 'build-done');
    }));

  test('a failed build prints the error with the Dockerfile excerpt and exits 1', () =>
    withBench(async bench => {
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY missing.txt /\n');
      const run = await strataBuild(bench.root, ['build', '--progress', 'plain', bench.context]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /#2 ERROR: copy missing.txt: "\/missing.txt": not found in the build context/);
      assert.match(run.stderr, /Dockerfile:2\n-+\n.*\n\s+2 \| >>> COPY missing.txt \//);
      assert.match(run.stderr, /ERROR: failed to solve: /);

      const quiet = await strataBuild(bench.root, ['build', '-q', bench.context]);
      assert.equal(quiet.code, 1);
      assert.equal(quiet.stdout, '');
      assert.match(quiet.stderr, /not found/);
    }));

  test('the strata entry point runs build and returns docker exit codes', () =>
    withBench(async bench => {
      const {strata} = await import('../helpers/cli.js');
      await bench.write('Dockerfile', 'FROM base:latest\nENV A=1\n');
      const ok = await strata(bench.root, ['build', '-q', '-t', 'cli:latest', bench.context]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^sha256:[0-9a-f]{64}\n$/);
      await bench.write('Dockerfile', 'FROM base:latest\nRUNN x\n');
      const broken = await strata(bench.root, ['build', '--progress', 'plain', bench.context]);
      assert.equal(broken.code, 1);
      assert.match(broken.stderr, /unknown instruction/i);
      assert.match(broken.stderr, />>> RUNN x/);
    }));

  test('builder prune asks first, then empties the cache and reclaims unused layers', () =>
    withBench(async bench => {
      await bench.write('app.txt', 'app');
      await bench.write('Dockerfile', 'FROM base:latest\nCOPY app.txt /\n');
      const built = await strataBuild(bench.root, ['build', '-q', bench.context]);
      const declined = await strataBuild(bench.root, ['builder', 'prune'], 'n\n');
      assert.match(declined.stdout, /Are you sure you want to continue\? \[y\/N\] $/);
      const engine = await Engine.open({root: bench.root});
      await engine.store.removeImage(built.stdout.trim());
      const pruned = await strataBuild(bench.root, ['builder', 'prune', '-f']);
      assert.equal(pruned.code, 0);
      assert.match(pruned.stdout, /Deleted build cache objects:\n[0-9a-f]{25}\n\nTotal:\t/);
      assert.deepEqual(await engine.store.fsck(), []);
      const rebuilt = await strataBuild(bench.root, ['build', '--progress', 'plain', bench.context]);
      assert.match(rebuilt.stderr, /cache miss: no cache record/);
    }));
});
