import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, type ChildProcess} from 'node:child_process';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join, resolve} from 'node:path';
import {createWatchPrinter} from '../../engine/watch/index.js';
import type {WatchEvent} from '../../engine/watch/index.js';
import {parseBuildArgs} from '../../source/commands/build.js';
import {Store} from '../../engine/store/index.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');

interface Running {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when stdout (from `from` on) matches; fails after `timeoutMs`. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<RegExpMatchArray>;
  exit(): Promise<number | null>;
}

function runWatch(args: readonly string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'source/cli.ts'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const listener of [...listeners]) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)));
  return {
    child,
    output: () => stdout,
    waitFor(pattern, from = 0, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = stdout.slice(from).match(pattern);
          if (match) {
            done();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} in output within ${timeoutMs} ms:\n${stdout}\nstderr:\n${stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        child.on('close', () => setTimeout(check, 0));
        check();
      });
    },
    exit: () => exited,
  };
}

async function project(): Promise<{dir: string; root: string; context: string; cleanup(): Promise<void>}> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-watch-cli-'));
  const context = join(dir, 'context');
  await mkdir(join(context, 'src'), {recursive: true});
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nARG FLAVOUR=plain\nCOPY notes.txt /notes.txt\nCOPY src/ /app/\nLABEL flavour=$FLAVOUR\n');
  await writeFile(join(context, 'notes.txt'), 'notes\n');
  await writeFile(join(context, 'src/main.js'), 'one\n');
  return {dir, root: join(dir, 'store'), context, cleanup: () => rm(dir, {recursive: true, force: true})};
}

describe('strata watch', () => {
  test('builds, rebuilds on a save with the steps that re-ran, and stops cleanly on Ctrl-C', async () => {
    const {root, context, cleanup} = await project();
    try {
      const run = runWatch(['--root', root, 'watch', '-t', 'app:dev', '--build-arg', 'FLAVOUR=spicy', '--debounce', '100', context]);
      await run.waitFor(/^watching 3 files in .*\(Dockerfile\); rebuilding 100 ms after the last change$/m);
      await run.waitFor(/^rebuilt app:dev sha256:[0-9a-f]{12} in \d+ ms: 2 steps re-ran$/m);
      const mark = run.output().length;
      await writeFile(join(context, 'src/main.js'), 'two\n');
      await run.waitFor(/^change: src\/main\.js changed$/m, mark);
      await run.waitFor(/^#1 \[1\/2\] COPY notes\.txt \/notes\.txt\n#1 CACHED$/m, mark);
      const rebuilt = await run.waitFor(/^rebuilt app:dev (sha256:[0-9a-f]{12}) in \d+ ms: 1 step re-ran\n {2}\[2\/2\] COPY src\/ \/app\/ {2}\(src\/main\.js changed\)$/m, mark);
      run.child.kill('SIGINT');
      assert.equal(await run.exit(), 0);
      // Two builds, or more when a loaded machine splits one save into two bursts.
      const builds = Number(run.output().match(/^stopped after (\d+) builds$/m)?.[1]);
      assert.ok(builds >= 2, `stopped after ${builds} builds`);
      const store = await Store.open(root);
      const image = await store.resolveImage('app:dev');
      assert.equal(image.id.slice(0, 19), rebuilt[1], 'the tag names the last image printed');
      assert.equal(image.config.config?.Labels?.flavour, 'spicy');
    } finally {
      await cleanup();
    }
  });

  test('--progress json prints one event object per line', async () => {
    const {root, context, cleanup} = await project();
    try {
      const run = runWatch(['--root', root, 'watch', '-t', 'app:json', '--progress', 'json', '--debounce', '30', context]);
      await run.waitFor(/"type":"rebuilt"/);
      const mark = run.output().length;
      await writeFile(join(context, 'notes.txt'), 'more notes\n');
      await run.waitFor(/"type":"rebuilt"/, mark);
      run.child.kill('SIGTERM');
      assert.equal(await run.exit(), 0);
      const events = run.output().trim().split('\n').map(line => JSON.parse(line) as WatchEvent);
      const types = events.map(event => event.type);
      assert.equal(types[0], 'watching');
      assert.equal(types.at(-1), 'watch-stopped');
      assert.ok(types.includes('step-miss') && types.includes('build-done') && types.includes('change-detected'));
      const last = events.filter(event => event.type === 'rebuilt').at(-1) as Extract<WatchEvent, {type: 'rebuilt'}>;
      assert.deepEqual(last.changedPaths, ['notes.txt']);
      assert.deepEqual(last.steps.map(step => step.instruction), ['COPY notes.txt /notes.txt', 'COPY src/ /app/']);
    } finally {
      await cleanup();
    }
  });

  test('a context that is not a folder is an error with exit code 1', async () => {
    const {root, dir, cleanup} = await project();
    try {
      const run = runWatch(['--root', root, 'watch', join(dir, 'nowhere')]);
      assert.equal(await run.exit(), 1);
    } finally {
      await cleanup();
    }
  });
});

describe('watch progress lines', () => {
  const step = {vertex: 2, stage: '', index: 2, total: 3, instruction: 'COPY src/ /app/src/', line: 3, cached: false, reason: 'src/app.js changed', durationMs: 12};

  test('plain lines say what changed, what re-ran and why, and what a failure keeps', () => {
    let out = '';
    const print = createWatchPrinter('plain', {write: text => (out += text), now: () => 0});
    const events: WatchEvent[] = [
      {type: 'watching', contextDir: '/src/app', dockerfile: '/src/app/Dockerfile', ignoreFile: '/src/app/.dockerignore', files: 2000, debounceMs: 100},
      {type: 'change-ignored', path: 'README.md', why: 'content unchanged'},
      {type: 'change-detected', paths: ['src/app.js'], reason: 'src/app.js changed'},
      {type: 'build-started', contextDir: '/src/app', dockerfile: '/src/app/Dockerfile', stages: [''], target: undefined},
      {type: 'step-started', vertex: 1, stage: '', index: 1, total: 3, instruction: 'COPY package.json /app/', line: 2},
      {type: 'step-cached', vertex: 1, stage: '', index: 1, total: 3, instruction: 'COPY package.json /app/', line: 2},
      {
        type: 'rebuilt', imageId: 'sha256:3f2a9c1b7d4e0000000000000000000000000000000000000000000000000000', imageChanged: true, tags: ['app:dev'],
        steps: [step, {...step, vertex: 3, index: 3, instruction: 'RUN make', reason: 'previous step changed'}], reason: 'src/app.js changed',
        changedPaths: ['src/app.js'], latencyMs: 84.4, buildMs: 60,
      },
      {type: 'rebuild-failed', error: 'boom', code: 'ERR_BUILD_RUN', keptImageId: 'sha256:3f2a9c1b7d4e0000000000000000000000000000000000000000000000000000', reason: 'x', changedPaths: []},
      {type: 'watch-stopped', builds: 2},
    ];
    for (const event of events) print(event);
    assert.equal(out, [
      'watching 2000 files in /src/app (Dockerfile, .dockerignore); rebuilding 100 ms after the last change',
      'unchanged: README.md (content unchanged)',
      '',
      'change: src/app.js changed',
      '#1 [1/3] COPY package.json /app/',
      '#1 CACHED',
      '',
      'rebuilt app:dev sha256:3f2a9c1b7d4e in 84 ms: 2 steps re-ran',
      '  [2/3] COPY src/ /app/src/  (src/app.js changed)',
      '  [3/3] RUN make  (previous step changed)',
      'rebuild failed (ERR_BUILD_RUN); keeping sha256:3f2a9c1b7d4e: fix it and save again',
      'stopped after 2 builds',
      '',
    ].join('\n'));
  });

  test('--build-arg takes KEY=VALUE, or KEY from the environment when it is set', () => {
    assert.deepEqual(parseBuildArgs(['A=1', 'B', 'C', 'D=x=y'], {B: 'from-env'}), {A: '1', B: 'from-env', D: 'x=y'});
    assert.throws(() => parseBuildArgs(['=1'], {}), {code: 'ERR_BAD_BUILD_ARG'});
  });
});
