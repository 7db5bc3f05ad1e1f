import {test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, readdir, rm, writeFile, mkdir} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {Command} from 'commander';
import {registerDockerfileCommand} from '../../source/commands/dockerfile.js';
import type {DockerfileCheckApi} from '../../source/commands/dockerfile.js';
import {checkDockerfileFile} from '../../engine/dockerfile/check.js';
import {formatDockerfileExcerpt} from '../../engine/dockerfile/excerpt.js';
import * as facade from '../../engine/index.js';

const api: DockerfileCheckApi = {checkDockerfile: checkDockerfileFile, formatDockerfileExcerpt};

/** Run `strata dockerfile ...` in-process from `cwd`, capturing both streams and the exit code. */
async function run(args: string[], cwd: string, commandApi: DockerfileCheckApi = api): Promise<{stdout: string; stderr: string; code: number}> {
  let stdout = '';
  let stderr = '';
  const program = new Command('strata').exitOverride();
  registerDockerfileCommand(program, {stdout: {write: text => (stdout += text)}, stderr: {write: text => (stderr += text)}}, commandApi);
  const previousDir = process.cwd();
  const previousCode = process.exitCode;
  process.exitCode = undefined;
  process.chdir(cwd);
  try {
    await program.parseAsync(args, {from: 'user'});
    return {stdout, stderr, code: Number(process.exitCode ?? 0)};
  } finally {
    process.chdir(previousDir);
    process.exitCode = previousCode;
  }
}

async function withFolder(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'strata-dockerfile-check-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), {recursive: true});
      await writeFile(path.join(dir, name), text);
    }
    await body(dir);
    assert.deepEqual((await readdir(dir, {recursive: true})).sort(), Object.keys(files).flatMap(name => [name, ...parents(name)]).filter((v, i, a) => a.indexOf(v) === i).sort(), 'the check wrote nothing');
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}

function parents(name: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(name); dir !== '.'; dir = path.dirname(dir)) out.push(dir);
  return out;
}

test('a broken Dockerfile prints the line with a code excerpt and exits 1', async () => {
  await withFolder({Dockerfile: 'FROM alpine\n\nCPOY app /app\nRUN make\n'}, async dir => {
    const result = await run(['dockerfile', 'check'], dir);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.deepEqual(result.stderr.split('\n'), [
      'Dockerfile:3',
      '--------------------',
      '   1 |     FROM alpine',
      '   2 |',
      '   3 | >>> CPOY app /app',
      '   4 |     RUN make',
      '--------------------',
      'error: unknown instruction CPOY; did you mean COPY?',
      '',
      'Dockerfile: 1 error',
      '',
    ]);
  });
});

test('an unknown flag names the flag it probably meant and the hint is printed', async () => {
  await withFolder({'app/Dockerfile': 'FROM alpine\nCOPY a\n'}, async dir => {
    const result = await run(['dockerfile', 'check', 'app'], dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^app\/Dockerfile:2\n/);
    assert.match(result.stderr, /error: COPY requires at least two arguments\nhint: write COPY <source>\.\.\. <destination>\n/);
  });
  await withFolder({'build.Dockerfile': 'FROM alpine\nCOPY --chwon=1 a /b\n'}, async dir => {
    const result = await run(['dockerfile', 'check', '-f', 'build.Dockerfile'], dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error: COPY: unknown flag --chwon; did you mean --chown\?/);
  });
});

test('warnings print with their rule and the check still exits 0', async () => {
  await withFolder({Dockerfile: 'FROM alpine\nMAINTAINER me\nCMD ["true"]\n'}, async dir => {
    const result = await run(['dockerfile', 'check'], dir);
    assert.equal(result.code, 0);
    assert.equal(result.stderr, '');
    assert.deepEqual(result.stdout.split('\n'), [
      'Dockerfile:2',
      '--------------------',
      '   1 |     FROM alpine',
      '   2 | >>> MAINTAINER me',
      '   3 |     CMD ["true"]',
      '--------------------',
      'warning: MAINTAINER instruction is deprecated in favor of using LABEL (MaintainerDeprecated)',
      '',
      'Dockerfile: 1 stage, 3 instructions, 1 warning',
      '',
    ]);
  });
});

test('check=error=true turns warnings into a failing check', async () => {
  await withFolder({Dockerfile: '# check=error=true\nFROM alpine\nMAINTAINER me\n'}, async dir => {
    const result = await run(['dockerfile', 'check'], dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /error: MAINTAINER instruction is deprecated/);
  });
});

test('--dump prints the BuildKit dump on stdout and everything else on stderr', async () => {
  await withFolder({Dockerfile: 'FROM alpine AS base\nCOPY --link a /b/\nONBUILD RUN ["echo", "x"]\nCMD echo hi\n'}, async dir => {
    const result = await run(['dockerfile', 'check', '--dump'], dir);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, '(from "alpine" "AS" "base")\n(copy ["--link"] "a" "/b/")\n(onbuild (run "echo" "x"))\n(cmd "echo hi")\n');
    assert.match(result.stderr, /JSONArgsRecommended/);
    assert.match(result.stderr, /Dockerfile: 1 stage, 4 instructions, 1 warning\n$/);
  });
});

test('--dump still prints the parse when only validation fails', async () => {
  await withFolder({Dockerfile: 'FROM alpine\nCOPY a b /dst\n'}, async dir => {
    const result = await run(['dockerfile', 'check', '--dump'], dir);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '(from "alpine")\n(copy "a" "b" "/dst")\n');
    assert.match(result.stderr, /destination must be a directory and end with a \//);
  });
});

test('a missing Dockerfile is a user error that names the path', async () => {
  await withFolder({}, async dir => {
    await assert.rejects(run(['dockerfile', 'check'], dir), (error: unknown) => {
      assert.ok(error instanceof facade.UserError);
      assert.equal(error.code, 'ERR_DOCKERFILE_NOT_FOUND');
      assert.match(error.message, /^read Dockerfile: no such file or directory$/);
      return true;
    });
  });
});

test('by default the command checks through the engine facade', async () => {
  await withFolder({Dockerfile: 'FROM alpine\n'}, async dir => {
    let stdout = '';
    const program = new Command('strata').exitOverride();
    registerDockerfileCommand(program, {stdout: {write: text => (stdout += text)}, stderr: {write: () => true}});
    const previous = process.cwd();
    process.chdir(dir);
    try {
      await program.parseAsync(['dockerfile', 'check'], {from: 'user'});
    } finally {
      process.chdir(previous);
    }
    assert.equal(stdout, 'Dockerfile: 1 stage, 1 instruction, 0 warnings\n');
  });
});

test('a usage mistake is a commander error, not a process exit', async () => {
  await withFolder({}, async dir => {
    await assert.rejects(run(['dockerfile', 'check', '--bogus'], dir), (error: unknown) => error instanceof Error && (error as {code?: string}).code === 'commander.unknownOption');
  });
});
