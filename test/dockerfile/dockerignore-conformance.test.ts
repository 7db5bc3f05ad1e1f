import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {parseDockerignore} from '../../engine/dockerfile/dockerignore.js';
import {conformanceDir} from './conformance-paths.js';

const dir = conformanceDir('dockerignore');
const skipReason = dir ? undefined : 'conformance data not found at ../shared/conformance/dockerignore';
if (skipReason) console.log(`# skipped: ${skipReason}`);

function rows(file: string): string[][] {
  return readFileSync(path.join(dir ?? '', file), 'utf8')
    .split('\n')
    .filter(line => line !== '' && !line.startsWith('#'))
    .map(line => line.split('\t'));
}

describe('moby patternmatcher vectors', {skip: skipReason}, () => {
  test('every matches.tsv pattern decides its path as the engine does', () => {
    const failures: string[] = [];
    const table = rows('matches.tsv');
    for (const [pattern, file, expected] of table) {
      const actual = parseDockerignore(pattern).matches(file);
      if (String(actual) !== expected) failures.push(`${pattern} vs ${file}: got ${actual}, want ${expected}`);
    }
    console.log(`# dockerignore matches.tsv: ${table.length - failures.length}/${table.length} pass`);
    assert.ok(table.length > 50);
    assert.deepEqual(failures, []);
  });

  test('every multi.tsv rule list ends with the expected verdict, last match winning', () => {
    const failures: string[] = [];
    const table = rows('multi.tsv');
    for (const [patterns, file, expected] of table) {
      const actual = parseDockerignore(patterns.split(' ').join('\n')).matches(file);
      if (String(actual) !== expected) failures.push(`${patterns} vs ${file}: got ${actual}, want ${expected}`);
    }
    console.log(`# dockerignore multi.tsv: ${table.length - failures.length}/${table.length} pass`);
    assert.ok(table.length > 5);
    assert.deepEqual(failures, []);
  });
});
