import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readFileSync, readdirSync} from 'node:fs';
import path from 'node:path';
import {parseDockerfile, dumpAst, DockerfileSyntaxError} from '../../engine/dockerfile/index.js';
import {repoRoot} from './conformance-paths.js';

const fixtures = path.join(repoRoot, 'fixtures', 'dockerfile');
const cases = readdirSync(fixtures, {withFileTypes: true})
  .filter(entry => entry.isDirectory())
  .map(entry => entry.name)
  .sort();

/** Assert that `actual` contains everything `expected` lists: object keys by subset, arrays element by element. */
function assertSubset(actual: unknown, expected: unknown, where: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((item, index) => assertSubset(actual[index], item, `${where}[${index}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${where}: expected an object`);
    for (const [key, value] of Object.entries(expected)) {
      assertSubset((actual as Record<string, unknown>)[key], value, `${where}.${key}`);
    }
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

test('the fixture folders cover at least the documented quirks', () => {
  for (const quirk of ['heredoc-run', 'heredoc-chomp-tabs', 'escape-backtick-windows-paths', 'onbuild-triggers', 'invalid-flag-did-you-mean', 'unknown-instruction-did-you-mean']) {
    assert.ok(cases.includes(quirk), quirk);
  }
  console.log(`# dockerfile fixtures: ${cases.length} folders`);
});

for (const name of cases) {
  const dir = path.join(fixtures, name);
  const read = (file: string) => (existsSync(path.join(dir, file)) ? readFileSync(path.join(dir, file), 'utf8') : undefined);
  test(`fixture ${name} parses as recorded`, () => {
    const text = read('Dockerfile');
    assert.ok(text !== undefined, 'Dockerfile missing');
    const expectedError = read('error');
    const expectedDump = read('dump');
    assert.ok((expectedError === undefined) !== (expectedDump === undefined), 'a fixture has either dump or error');
    if (expectedError !== undefined) {
      assert.throws(
        () => parseDockerfile(text),
        (error: unknown) => {
          assert.ok(error instanceof DockerfileSyntaxError, `not a DockerfileSyntaxError: ${String(error)}`);
          assert.equal(error.message, expectedError.trimEnd());
          assert.equal(error.code, 'ERR_DOCKERFILE_SYNTAX');
          assert.ok(error.line >= 1 && error.endLine >= error.line, 'has a line range');
          return true;
        },
      );
      return;
    }
    const parsed = parseDockerfile(text);
    assert.equal(dumpAst(parsed.ast), expectedDump);
    const warnings = parsed.warnings.map(warning => `${warning.line} ${warning.rule}\n`).join('');
    assert.equal(warnings, read('warnings') ?? '');
    const expected = read('expected.json');
    if (expected !== undefined) assertSubset(parsed, JSON.parse(expected), name);
  });
}
