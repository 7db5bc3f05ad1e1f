import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {parseAst} from '../../engine/dockerfile/parser.js';
import {dumpAst} from '../../engine/dockerfile/dump.js';
import {DockerfileSyntaxError} from '../../engine/dockerfile/errors.js';
import {processWord, processWords} from '../../engine/dockerfile/shell-lexer.js';
import {conformanceDir} from './conformance-paths.js';

const buildkit = conformanceDir('buildkit-dockerfile');
const skipReason = buildkit ? undefined : 'conformance data not found at ../shared/conformance/buildkit-dockerfile';
if (skipReason) console.log(`# skipped: ${skipReason}`);

function caseDirs(kind: string): string[] {
  if (!buildkit) return [];
  const dir = path.join(buildkit, kind);
  return readdirSync(dir).sort().map(name => path.join(dir, name));
}

describe('buildkit parser testfiles', {skip: skipReason}, () => {
  const cases = caseDirs('testfiles');
  test(`every one of the ${cases.length} testfiles cases parses and dumps exactly its result`, () => {
    assert.ok(cases.length > 0, 'no cases found');
    const failures: string[] = [];
    for (const dir of cases) {
      const text = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
      const expected = readFileSync(path.join(dir, 'result'), 'utf8');
      try {
        const actual = dumpAst(parseAst(text).children);
        if (actual !== expected) failures.push(`${path.basename(dir)}: dump differs\n${actual}\n---\n${expected}`);
      } catch (error) {
        failures.push(`${path.basename(dir)}: ${(error as Error).message}`);
      }
    }
    console.log(`# buildkit testfiles: ${cases.length - failures.length}/${cases.length} pass`);
    assert.deepEqual(failures, []);
  });

  const negatives = caseDirs('testfiles-negative');
  test(`every one of the ${negatives.length} testfiles-negative cases fails with a located syntax error`, () => {
    assert.ok(negatives.length > 0, 'no negative cases found');
    for (const dir of negatives) {
      const text = readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
      assert.throws(
        () => parseAst(text),
        (error: unknown) => error instanceof DockerfileSyntaxError && error.line >= 1,
        path.basename(dir),
      );
    }
    console.log(`# buildkit testfiles-negative: ${negatives.length}/${negatives.length} fail as expected`);
  });
});

/** The environment the envVarTest table is written against. */
const LEXER_ENV = new Map([
  ['PWD', '/home'],
  ['SHELL', 'bash'],
  ['KOREAN', '한국어'],
  ['NULL', ''],
]);

describe('buildkit shell lexer tables', {skip: skipReason}, () => {
  test('every A and U line of envVarTest substitutes to the expected word or fails', () => {
    const lines = readFileSync(path.join(buildkit ?? '', 'shell', 'envVarTest'), 'utf8').split('\n');
    let checked = 0;
    const failures: string[] = [];
    for (const line of lines) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      const [platform, rawInput, rawExpected = ''] = line.split('|');
      if (platform.trim() === 'W') continue;
      const input = rawInput.trim();
      const expected = rawExpected.trim();
      checked++;
      let actual: string;
      try {
        actual = processWord(input, LEXER_ENV);
      } catch {
        actual = 'error';
      }
      if (actual !== expected) failures.push(`${input}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
    }
    console.log(`# envVarTest: ${checked - failures.length}/${checked} lines pass`);
    assert.ok(checked > 200);
    assert.deepEqual(failures, []);
  });

  test('every line of wordsTest splits into the expected words', () => {
    const lines = readFileSync(path.join(buildkit ?? '', 'shell', 'wordsTest'), 'utf8').split('\n');
    const env = new Map<string, string>();
    let checked = 0;
    const failures: string[] = [];
    for (const line of lines) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      if (line.startsWith('ENV ')) {
        const assignment = line.slice(4);
        const at = assignment.indexOf('=');
        env.set(assignment.slice(0, at), assignment.slice(at + 1));
        continue;
      }
      const bar = line.indexOf('|');
      const input = line.slice(0, bar).trim();
      const expected = line.slice(bar + 1).trimStart(); // trailing spaces are part of the expectation
      checked++;
      let actual: string;
      try {
        actual = processWords(input, env).join(',');
      } catch {
        actual = 'error';
      }
      if (actual !== expected) failures.push(`${input}: got ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
    }
    console.log(`# wordsTest: ${checked - failures.length}/${checked} lines pass`);
    assert.ok(checked > 20);
    assert.deepEqual(failures, []);
  });
});
