import {test} from 'node:test';
import assert from 'node:assert/strict';
import {
  parseDockerfile,
  expandInstruction,
  processWord,
  processWords,
  substitute,
  expandHeredocBody,
  formatDockerfileExcerpt,
  DockerfileSyntaxError,
  SubstitutionError,
} from '../../engine/dockerfile/index.js';
import type {Instruction} from '../../engine/dockerfile/index.js';

function stageInstructions(text: string): readonly Instruction[] {
  return parseDockerfile(text).stages[0].instructions;
}

test('all eighteen instructions parse into their own kind', () => {
  const text = [
    'FROM alpine AS base',
    'RUN echo',
    'COPY a /b',
    'ADD a /b',
    'ENV A=1',
    'ARG B',
    'LABEL c=d',
    'EXPOSE 80',
    'VOLUME /data',
    'USER app',
    'WORKDIR /app',
    'CMD ["x"]',
    'ENTRYPOINT ["y"]',
    'SHELL ["/bin/sh", "-c"]',
    'HEALTHCHECK NONE',
    'STOPSIGNAL SIGTERM',
    'ONBUILD RUN z',
    'MAINTAINER me',
  ].join('\n');
  const parsed = parseDockerfile(text);
  assert.equal(parsed.stages[0].from.kind, 'from');
  assert.deepEqual(
    parsed.stages[0].instructions.map(instruction => instruction.kind),
    ['run', 'copy', 'add', 'env', 'arg', 'label', 'expose', 'volume', 'user', 'workdir', 'cmd', 'entrypoint', 'shell', 'healthcheck', 'stopsignal', 'onbuild', 'maintainer'],
  );
  assert.deepEqual(parsed.stages[0].instructions.map(instruction => instruction.line), Array.from({length: 17}, (_, i) => i + 2));
});

test('ENV values on one line all see the values from before the line', () => {
  const [env] = stageInstructions('FROM a\nENV abc=bye def=$abc');
  const expanded = expandInstruction(env, {abc: 'hi'});
  assert.equal(expanded.kind, 'env');
  assert.deepEqual(expanded.kind === 'env' && expanded.pairs, [{key: 'abc', value: 'bye'}, {key: 'def', value: 'hi'}]);
  assert.deepEqual(env.kind === 'env' && env.pairs[1], {key: 'def', value: '$abc'}, 'the parsed instruction stays raw');
});

test('expansion removes quotes even with no variables set', () => {
  const [env] = stageInstructions('FROM a\nENV A="x y" B=\'$lit\' C=e\\ f');
  const expanded = expandInstruction(env, new Map());
  assert.deepEqual(expanded.kind === 'env' && expanded.pairs.map(pair => pair.value), ['x y', '$lit', 'e f']);
});

test('RUN, CMD and ENTRYPOINT commands are left for the shell but RUN mount values are expanded', () => {
  const [run, cmd, entrypoint] = stageInstructions('FROM a\nRUN --mount=type=cache,target=$DIR echo $HOME\nCMD echo $HOME\nENTRYPOINT ["$HOME"]');
  const env = {HOME: '/root', DIR: '/cache'};
  const expandedRun = expandInstruction(run, env);
  assert.ok(expandedRun.kind === 'run' && expandedRun.form === 'shell');
  assert.equal(expandedRun.command, 'echo $HOME');
  assert.equal(expandedRun.mounts[0].target, '/cache');
  assert.equal(expandInstruction(cmd, env), cmd);
  assert.equal(expandInstruction(entrypoint, env), entrypoint);
});

test('EXPOSE splits a variable into several ports and COPY expands sources, destination and flags', () => {
  const [expose, copy] = stageInstructions('FROM a\nEXPOSE $PORTS 9090/udp\nCOPY --from=$STAGE --chown=$U ${SRC} "/dst$U/"');
  const env = {PORTS: '80 443', STAGE: 'build', U: 'app', SRC: 'src/'};
  const ports = expandInstruction(expose, env);
  assert.deepEqual(ports.kind === 'expose' && ports.ports, ['80', '443', '9090/udp']);
  const expanded = expandInstruction(copy, env);
  assert.ok(expanded.kind === 'copy');
  assert.equal(expanded.from, 'build');
  assert.equal(expanded.chown, 'app');
  assert.deepEqual(expanded.sources, ['src/']);
  assert.equal(expanded.dest, '/dstapp/', 'quotes are removed at expansion');
});

test('a COPY heredoc is expanded only when its delimiter is unquoted, and keeps its quotes', () => {
  const [plain, quoted] = stageInstructions('FROM a\nCOPY <<EOF /x\necho "$V"\nEOF\nCOPY <<"EOF" /y\necho "$V"\nEOF\n');
  const a = expandInstruction(plain, {V: 'v'});
  const b = expandInstruction(quoted, {V: 'v'});
  assert.equal(a.kind === 'copy' && a.heredocSources[0].content, 'echo "v"\n');
  assert.equal(b.kind === 'copy' && b.heredocSources[0].content, 'echo "$V"\n');
  assert.equal(expandHeredocBody("it's $V", {V: 'x'}), "it's x");
});

test('a failed substitution becomes a syntax error at the instruction lines', () => {
  const [workdir] = stageInstructions('FROM a\nWORKDIR \\\n  ${DIR:?must be set}');
  assert.throws(
    () => expandInstruction(workdir, {}, {file: 'app.Dockerfile'}),
    (error: unknown) =>
      error instanceof DockerfileSyntaxError &&
      error.line === 2 &&
      error.endLine === 3 &&
      error.file === 'app.Dockerfile' &&
      error.message.includes('DIR: must be set'),
  );
});

test('FROM expands with the global ARGs and keeps the stage name as written', () => {
  const parsed = parseDockerfile('ARG TAG=3.19\nFROM alpine:${TAG} AS Build\n');
  assert.equal(parsed.globalArgs[0].args[0].value, '3.19');
  const from = expandInstruction(parsed.stages[0].from, {TAG: '3.20'});
  assert.equal(from.image, 'alpine:3.20');
  assert.equal(from.as, 'build');
  assert.equal(parsed.warnings[0].rule, 'StageNameCasing');
});

test('the escape directive changes the escape token used by expansion', () => {
  const [workdir] = stageInstructions('# escape=`\nFROM a\nWORKDIR C:\\app`$x');
  const expanded = expandInstruction(workdir, {x: 'no'});
  assert.equal(expanded.kind === 'workdir' && expanded.path, 'C:\\app$x');
});

test('an ONBUILD trigger expands inside but its stored expression stays raw', () => {
  const [onbuild] = stageInstructions('FROM a\nONBUILD WORKDIR $D');
  const expanded = expandInstruction(onbuild, {D: '/d'});
  assert.ok(expanded.kind === 'onbuild');
  assert.equal(expanded.expression, 'WORKDIR $D');
  assert.equal(expanded.instruction.kind === 'workdir' && expanded.instruction.path, '/d');
});

test('substitution forms follow the reference table', () => {
  const env = new Map([['x', 'hello.tar.gz'], ['empty', ''], ['y', 'z']]);
  assert.equal(processWord('${x%.*}', env), 'hello.tar');
  assert.equal(processWord('${x%%.*}', env), 'hello');
  assert.equal(processWord('${x#*.}', env), 'tar.gz');
  assert.equal(processWord('${x##*.}', env), 'gz');
  assert.equal(processWord('${x/l/L}', env), 'heLlo.tar.gz');
  assert.equal(processWord('${x//l/L}', env), 'heLLo.tar.gz');
  assert.equal(processWord('${empty-unset}${empty:-default}', env), 'default');
  assert.equal(processWord('${empty+set}${empty:+nonempty}', env), 'set');
  assert.equal(processWord('${none:-${y:-w}}', env), 'z');
  assert.equal(processWord("'${x}' \\${x}", env), '${x} ${x}');
  assert.equal(processWord('$ lone', env), '$ lone');
  assert.throws(() => processWord('${}', env), SubstitutionError);
  assert.throws(() => processWord('${x', env), /missing '}'/);
  assert.deepEqual(processWords('a "b c" $y', env), ['a', 'b c', 'z']);
  const used = substitute('$x ${nope:-d}', env);
  assert.deepEqual([...used.matched], ['x']);
  assert.deepEqual([...used.unmatched], ['nope']);
});

test('errors render as an excerpt with the offending lines marked', () => {
  const text = 'FROM alpine\nRUN ok\nCOPY \\\n  onlyone\nRUN after\n';
  let error: DockerfileSyntaxError | undefined;
  try {
    parseDockerfile(text);
  } catch (caught) {
    error = caught as DockerfileSyntaxError;
  }
  assert.ok(error instanceof DockerfileSyntaxError);
  assert.equal(
    formatDockerfileExcerpt(text, error.line, error.endLine, error.detail),
    [
      'Dockerfile:3-4',
      '--------------------',
      '   1 |     FROM alpine',
      '   2 |     RUN ok',
      '   3 | >>> COPY \\',
      '   4 | >>>   onlyone',
      '   5 |     RUN after',
      '--------------------',
      'error: COPY requires at least two arguments',
    ].join('\n'),
  );
});

test('a long marked range is elided in the middle', () => {
  const body = Array.from({length: 30}, (_, i) => `line ${i}`).join('\n');
  const excerpt = formatDockerfileExcerpt(`FROM a\nRUN <<EOF\n${body}\n`, 2, 32, 'unterminated heredoc EOF');
  assert.ok(excerpt.includes('| ...'));
  assert.ok(excerpt.split('\n').length < 20);
  assert.ok(excerpt.includes('>>> line 29'));
});
