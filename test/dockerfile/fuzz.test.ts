import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, readdirSync, existsSync} from 'node:fs';
import path from 'node:path';
import {
  parseDockerfile,
  dumpAst,
  expandInstruction,
  formatDockerfileExcerpt,
  parseDockerignore,
  DockerfileSyntaxError,
  DockerignoreError,
} from '../../engine/dockerfile/index.js';
import type {Instruction} from '../../engine/dockerfile/index.js';
import {conformanceDir, repoRoot} from './conformance-paths.js';
import {prng} from './prng.js';


const KEYWORDS = ['FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'CMD', 'ENTRYPOINT', 'SHELL', 'HEALTHCHECK', 'STOPSIGNAL', 'ONBUILD', 'MAINTAINER', 'from', 'Run', 'CPOY', 'NOPE'];
const FLAGS = ['--from=a', '--chown=1:1', '--chmod=755', '--link', '--link=false', '--link=maybe', '--parents', '--exclude=*.md', '--platform=linux/amd64', '--mount=type=cache,target=/x', '--mount=type=bind', '--mount=type=weird,target=/x', '--mount="type=secret,id=a"', '--network=none', '--network=bad', '--security=insecure', '--interval=5s', '--interval=5', '--timeout=1ns', '--retries=3', '--retries=-1', '--start-period=1m', '--keep-git-dir', '--checksum=sha256:00', '--unpack', '--chwon=1', '--', '--=', '--"q', "--'a b'"];
const WORDS = ['a', '/b', '/dst/', '.', '$V', '${V}', '${V:-x}', '${V:?err}', '${', '${}', '${V/a/b}', '"q u"', "'s q'", 'AS', 'as', 'name', 'alpine:3.19', '80/tcp', 'x=y', 'k="v w"', '=bad', 'NONE', 'CMD', '<<EOF', '<<-EOF', '<<"EOF"', "<<'X'", '2<<EOF', '["a","b"]', '["a" "b"]', '[1]', '[', ']', '\\', '`', '#', '한국어', '\t', 'a\\ b', '$(cmd)', '&&', '|', '>'];
const BODY = ['echo hi', '\techo tab', 'EOF', '\tEOF', 'X', '$V', '"quoted"', '', '#!/bin/sh', 'END'];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** A Dockerfile made of plausible and broken pieces: directives, comments, continuations, heredocs. */
function generateDockerfile(random: () => number): string {
  const lines: string[] = [];
  if (random() < 0.2) lines.push(pick(random, ['# syntax=docker/dockerfile:1', '# escape=`', '# escape=\\', '# escape=x', '# check=skip=all', '#escape=`']));
  const count = 1 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) {
    const roll = random();
    if (roll < 0.08) {
      lines.push(pick(random, ['# comment', '', '   ', '  # indented', '\\', '`']));
      continue;
    }
    let line = pick(random, KEYWORDS);
    if (random() < 0.1) line = 'ONBUILD ' + pick(random, KEYWORDS);
    const flagCount = random() < 0.4 ? Math.floor(random() * 3) : 0;
    for (let f = 0; f < flagCount; f++) line += ' ' + pick(random, FLAGS);
    const wordCount = Math.floor(random() * 5);
    for (let w = 0; w < wordCount; w++) line += (random() < 0.9 ? ' ' : '\t') + pick(random, WORDS);
    if (random() < 0.15) line += pick(random, [' \\', '\\', ' `', '\\ \t']);
    lines.push(line);
    if (line.includes('<<') && random() < 0.8) {
      const bodyLines = Math.floor(random() * 4);
      for (let b = 0; b < bodyLines; b++) lines.push(pick(random, BODY));
    }
  }
  const eol = random() < 0.1 ? '\r\n' : '\n';
  return (random() < 0.05 ? '\ufeff' : '') + lines.join(eol) + (random() < 0.8 ? eol : '');
}

const SPECIAL = ['\\', '`', '"', "'", '[', ']', '{', '}', '$', '<<', '<<-', '#', '\n', '\r', '\t', ' ', '\ufeff', '\u0000', '=', '--', ',', '한', '\ud83d\ude00', '\ud800'];

/** Flip, insert, delete, duplicate or truncate pieces of a real Dockerfile. */
function mutate(random: () => number, text: string): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (out.length + 1));
    const kind = random();
    if (kind < 0.35) out = out.slice(0, at) + pick(random, SPECIAL) + out.slice(at);
    else if (kind < 0.6) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 8));
    else if (kind < 0.75) out = out.slice(0, at) + String.fromCharCode(Math.floor(random() * 128)) + out.slice(at + 1);
    else if (kind < 0.9) {
      const lines = out.split('\n');
      const index = Math.floor(random() * lines.length);
      lines.splice(index, 0, lines[Math.floor(random() * lines.length)]);
      out = lines.join('\n');
    } else out = out.slice(0, at);
  }
  return out;
}

function corpus(): string[] {
  const texts: string[] = [];
  const buildkit = conformanceDir('buildkit-dockerfile');
  const roots = [path.join(repoRoot, 'fixtures', 'dockerfile')];
  if (buildkit) roots.push(path.join(buildkit, 'testfiles'), path.join(buildkit, 'testfiles-negative'));
  for (const root of roots) {
    for (const name of readdirSync(root)) {
      const file = path.join(root, name, 'Dockerfile');
      if (existsSync(file)) texts.push(readFileSync(file, 'utf8'));
    }
  }
  return texts;
}

const ENV = new Map([['V', 'value with spaces'], ['PORTS', '80 443']]);

/** Run every stage; anything thrown must be the front end's own typed error. */
function exercise(text: string): 'ok' | 'syntax-error' {
  let instructions: Instruction[];
  try {
    const parsed = parseDockerfile(text);
    dumpAst(parsed.ast);
    instructions = [...parsed.globalArgs, ...parsed.stages.flatMap(stage => [stage.from, ...stage.instructions])];
    const lineCount = text.split('\n').length;
    for (const instruction of instructions) {
      assert.ok(instruction.line >= 1 && instruction.endLine >= instruction.line && instruction.endLine <= lineCount, 'line range inside the file');
    }
  } catch (error) {
    if (!(error instanceof DockerfileSyntaxError)) throw error;
    formatDockerfileExcerpt(text, error.line, error.endLine, error.detail);
    return 'syntax-error';
  }
  for (const instruction of instructions) {
    try {
      expandInstruction(instruction, ENV);
    } catch (error) {
      if (!(error instanceof DockerfileSyntaxError)) throw error;
    }
  }
  return 'ok';
}

test('thousands of generated and mutated Dockerfiles only ever fail with DockerfileSyntaxError', () => {
  const random = prng(0x5742a7a);
  const seeds = corpus();
  assert.ok(seeds.length > 30);
  const outcome = {ok: 0, 'syntax-error': 0};
  let cases = 0;
  const run = (text: string) => {
    cases++;
    try {
      outcome[exercise(text)]++;
    } catch (error) {
      assert.fail(`case ${cases} threw ${String(error)} for input ${JSON.stringify(text)}`);
    }
  };
  for (let i = 0; i < 5000; i++) run(generateDockerfile(random));
  for (let i = 0; i < 5000; i++) run(mutate(random, pick(random, seeds)));
  console.log(`# dockerfile fuzz: ${cases} cases, ${outcome.ok} parsed, ${outcome['syntax-error']} rejected with DockerfileSyntaxError`);
  assert.ok(outcome.ok > 1000 && outcome['syntax-error'] > 1000, 'both outcomes are exercised');
});

test('random .dockerignore files only ever fail with DockerignoreError and matching never throws', () => {
  const random = prng(0xd0c4e1);
  const pieces = ['*', '**', '?', '[a-z]', '[', ']', '\\', '!', '/', '.', '..', 'a', 'dir', '#', ' ', '\t', '[^x]', '{', '$', '(', '+', '\r'];
  let rejected = 0;
  const total = 3000;
  for (let i = 0; i < total; i++) {
    const lines = Array.from({length: 1 + Math.floor(random() * 5)}, () =>
      Array.from({length: 1 + Math.floor(random() * 6)}, () => pick(random, pieces)).join(''),
    );
    try {
      const matcher = parseDockerignore(lines.join('\n'));
      for (const file of ['a', 'dir/a', 'dir/sub/file.txt', '.', 'a b/c', '*']) {
        matcher.matches(file);
        matcher.excludesDirEntirely(file);
      }
    } catch (error) {
      if (!(error instanceof DockerignoreError)) assert.fail(`threw ${String(error)} for ${JSON.stringify(lines)}`);
      rejected++;
    }
  }
  console.log(`# dockerignore fuzz: ${total} cases, ${rejected} rejected with DockerignoreError`);
});
