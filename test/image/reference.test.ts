import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidReferenceError, familiarRepository, familiarString, fullString, parseReference, tryParseReference, withTag,
} from '../../engine/image/index.js';
import {UserError} from '../../engine/errors.js';

const hex = 'a'.repeat(64);
const digest = `sha256:${hex}`;

describe('reference parsing', () => {
  // input -> [full string, familiar string, familiar repository]
  const cases: [string, string, string, string][] = [
    ['demo', 'docker.io/library/demo:latest', 'demo:latest', 'demo'],
    ['ubuntu:22.04', 'docker.io/library/ubuntu:22.04', 'ubuntu:22.04', 'ubuntu'],
    ['library/debian', 'docker.io/library/debian:latest', 'debian:latest', 'debian'],
    ['docker.io/debian', 'docker.io/library/debian:latest', 'debian:latest', 'debian'],
    ['index.docker.io/docker/docker:1', 'docker.io/docker/docker:1', 'docker/docker:1', 'docker/docker'],
    ['user/app:1', 'docker.io/user/app:1', 'user/app:1', 'user/app'],
    ['docker.io/library/foo/bar', 'docker.io/library/foo/bar:latest', 'library/foo/bar:latest', 'library/foo/bar'],
    ['127.0.0.1:5000/team/app:1.2', '127.0.0.1:5000/team/app:1.2', '127.0.0.1:5000/team/app:1.2', '127.0.0.1:5000/team/app'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest', 'localhost/app'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1', 'localhost:5000/app:v1', 'localhost:5000/app'],
    ['registry.example.com/a/b/c', 'registry.example.com/a/b/c:latest', 'registry.example.com/a/b/c:latest', 'registry.example.com/a/b/c'],
    ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest', '[::1]:5000/app'],
    [`app@${digest}`, `docker.io/library/app@${digest}`, `app@${digest}`, 'app'],
    [`app:1@${digest}`, `docker.io/library/app:1@${digest}`, `app:1@${digest}`, 'app'],
    ['a_b.c-d__e---f:T_a.g-1', 'docker.io/library/a_b.c-d__e---f:T_a.g-1', 'a_b.c-d__e---f:T_a.g-1', 'a_b.c-d__e---f'],
    ['Registry.Example.com/app', 'Registry.Example.com/app:latest', 'Registry.Example.com/app:latest', 'Registry.Example.com/app'],
  ];
  for (const [input, full, familiar, repository] of cases) {
    test(`normalises ${input} as docker does`, () => {
      const reference = parseReference(input);
      assert.equal(fullString(reference), full);
      assert.equal(familiarString(reference), familiar);
      assert.equal(familiarRepository(reference), repository);
      // Round trip: the familiar and full forms parse to the same reference.
      assert.deepEqual(parseReference(familiar), reference);
      assert.deepEqual(parseReference(full), reference);
    });
  }

  test('splits domain, path, tag and digest', () => {
    assert.deepEqual(parseReference('127.0.0.1:5000/team/app:1.2'), {domain: '127.0.0.1:5000', path: 'team/app', tag: '1.2'});
    assert.deepEqual(parseReference(`app@${digest}`), {domain: 'docker.io', path: 'library/app', digest});
  });

  test('without the default tag a bare name stays untagged, for filters', () => {
    const reference = parseReference('demo', {defaultTag: false});
    assert.equal(reference.tag, undefined);
    assert.equal(familiarString(reference), 'demo');
    assert.equal(parseReference('demo:1', {defaultTag: false}).tag, '1');
  });

  test('uppercase repository names are refused with docker\'s message', () => {
    for (const input of ['Ubuntu', 'docker.io/Library/ubuntu', 'localhost:5000/App', 'user/App:1']) {
      assert.throws(() => parseReference(input), (error: unknown) => {
        assert.ok(error instanceof InvalidReferenceError);
        assert.ok(error instanceof UserError);
        assert.equal(error.code, 'ERR_INVALID_REFERENCE');
        assert.equal(error.message, 'invalid reference format: repository name must be lowercase');
        return true;
      }, input);
    }
  });

  test('malformed references are refused as invalid reference format', () => {
    const bad = ['', ':latest', 'foo:', '-foo', 'foo/../bar', 'aa/asdf$$^/aa', 'foo:bad tag', 'foo:' + 'a'.repeat(129),
      'foo@sha256:abc', 'foo@sha256:' + 'A'.repeat(64), '/foo', 'foo/', 'foo//bar', 'a..b/c', 'localhost:port/app', 'foo:-bad'];
    for (const input of bad) {
      assert.throws(() => parseReference(input), InvalidReferenceError, JSON.stringify(input));
      assert.equal(tryParseReference(input), undefined);
    }
    assert.throws(() => parseReference('foo@sha256:' + 'A'.repeat(64)), /invalid/);
  });

  test('a 128-character tag is accepted and a 64-hex name is refused as an ID', () => {
    assert.equal(parseReference('foo:' + 'a'.repeat(128)).tag, 'a'.repeat(128));
    assert.throws(() => parseReference(hex), /cannot specify 64-byte hexadecimal strings/);
  });

  test('names longer than 255 characters are refused', () => {
    const long = 'a'.repeat(250) + '/bbbbb';
    assert.throws(() => parseReference(long), /must not be more than 255 characters/);
    assert.equal(parseReference('a'.repeat(230) + '/b').path, 'a'.repeat(230) + '/b');
  });

  test('withTag replaces tag and digest and checks the tag grammar', () => {
    const reference = parseReference(`app:1@${digest}`);
    assert.equal(familiarString(withTag(reference, '2')), 'app:2');
    assert.throws(() => withTag(reference, '.bad'), InvalidReferenceError);
  });
});
