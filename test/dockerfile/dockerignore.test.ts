import {test} from 'node:test';
import assert from 'node:assert/strict';
import {parseDockerignore} from '../../engine/dockerfile/dockerignore.js';
import {DockerignoreError} from '../../engine/dockerfile/errors.js';

test('comments count only in column one, so an indented hash line is a pattern', () => {
  const matcher = parseDockerignore('# comment\n  #notes\n');
  assert.deepEqual(matcher.patterns.map(p => p.pattern), ['#notes']);
  assert.equal(matcher.matches('#notes'), true);
  assert.equal(matcher.matches('comment'), false);
});

test('a BOM and CRLF line ends do not leak into patterns', () => {
  const matcher = parseDockerignore('\ufeffnode_modules\r\n*.log\r\n');
  assert.deepEqual(matcher.patterns.map(p => p.pattern), ['node_modules', '*.log']);
  assert.equal(matcher.matches('node_modules/x/y.js'), true);
  assert.equal(matcher.matches('debug.log'), true);
  assert.equal(matcher.matches('src/debug.log'), false, '*.log matches only at the root');
});

test('foo/, /foo, ./foo and foo/../foo are the same pattern', () => {
  for (const spelling of ['foo/', '/foo', './foo', 'foo/../foo']) {
    const matcher = parseDockerignore(spelling);
    assert.deepEqual(matcher.patterns.map(p => p.pattern), ['foo'], spelling);
    assert.equal(matcher.matches('foo/bar'), true, spelling);
    assert.equal(matcher.matches('foobar'), false, spelling);
  }
});

test('the last matching rule wins in both orders of an exception', () => {
  const reinclude = parseDockerignore('*.md\n!README*.md\nREADME-secret.md');
  assert.equal(reinclude.matches('README.md'), false);
  assert.equal(reinclude.matches('README-secret.md'), true);
  assert.equal(reinclude.matches('CHANGES.md'), true);
  const overridden = parseDockerignore('*.md\nREADME-secret.md\n!README*.md');
  assert.equal(overridden.matches('README-secret.md'), false);
});

test('a lone exclamation mark and an unclosed class are errors with the line number', () => {
  assert.throws(() => parseDockerignore('a\n!\n'), (error: unknown) => error instanceof DockerignoreError && error.line === 2);
  assert.throws(() => parseDockerignore('ok\nb\n['), (error: unknown) => error instanceof DockerignoreError && error.line === 3);
  assert.throws(() => parseDockerignore('[z-a]'), DockerignoreError);
  assert.throws(() => parseDockerignore('trailing\\'), DockerignoreError);
});

test('an escaped star matches only a literal star', () => {
  const matcher = parseDockerignore('a\\*b');
  assert.equal(matcher.matches('a*b'), true);
  assert.equal(matcher.matches('axb'), false);
});

test('the walk enters an excluded folder only when a literal exception reaches into it', () => {
  const literal = parseDockerignore('node_modules\n!node_modules/k/x.js');
  assert.equal(literal.matches('node_modules/k/x.js'), false);
  assert.equal(literal.matches('node_modules/k/y.js'), true);
  assert.equal(literal.excludesDirEntirely('node_modules'), false);
  assert.equal(literal.mayMatchInside('node_modules'), true);
  assert.equal(literal.excludesDirEntirely('node_modules/other'), true);

  const glob = parseDockerignore('node_modules\n!**/x.js');
  assert.equal(glob.matches('node_modules/k/x.js'), false, 'the matcher alone would re-include it');
  assert.equal(glob.excludesDirEntirely('node_modules'), true, 'but the walk never looks inside');
  assert.equal(glob.excludesDirEntirely('src'), false, 'a folder that is not excluded is walked');
});

test('always-included files survive a rule that excludes everything', () => {
  const matcher = parseDockerignore('*\n', {alwaysInclude: ['Dockerfile', '.dockerignore']});
  assert.equal(matcher.matches('Dockerfile'), false);
  assert.equal(matcher.matches('.dockerignore'), false);
  assert.equal(matcher.matches('src'), true);
});
