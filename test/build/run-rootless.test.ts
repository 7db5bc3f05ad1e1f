/**
 * The RUN build tests once more as an unprivileged user, so the user-namespace path of a build (id mapping,
 * overlay with userxattr or the copy fallback, owners mapped back into the layer) is proven too.
 */
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {ensureTestUser, runNodeAs} from '../helpers/users.js';

const reason = process.env.STRATA_TEST_UNPRIVILEGED === '1'
  ? 'already the unprivileged re-run'
  : process.getuid?.() !== 0
    ? 'needs root to create the unprivileged test user'
    : false;

test('the RUN build tests pass as an unprivileged user', {skip: reason, timeout: 300_000}, async t => {
  const user = ensureTestUser();
  if ('skip' in user) {
    t.skip(user.skip);
    return;
  }
  const result = await runNodeAs(user, ['--test', '--test-reporter=spec', 'test/build/run.test.ts'], {STRATA_TEST_UNPRIVILEGED: '1'});
  for (const line of result.stdout.split('\n').filter(line => /^ℹ (tests|pass|fail|skipped)/.test(line.trim()))) t.diagnostic(line.trim());
  assert.equal(result.code, 0, `unprivileged run failed:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /RUN \(unprivileged, user namespace\)/);
  assert.doesNotMatch(result.stdout, /ℹ pass 0\b/);
  assert.doesNotMatch(result.stdout, /# SKIP/);
});
