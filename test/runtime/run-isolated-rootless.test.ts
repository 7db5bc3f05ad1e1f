/**
 * The RUN tests once more as an unprivileged user, so that the user-namespace path (user namespace, id
 * mapping through newuidmap, overlayfs with userxattr) is proven too. Runs only as root, which can create the
 * user; the re-run itself is test/runtime/run-isolated.test.ts with STRATA_TEST_UNPRIVILEGED=1.
 */
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {ensureTestUser, runNodeAs} from '../helpers/users.js';
import {unprivilegedRun} from './fixtures.js';

const reason = unprivilegedRun
  ? 'already the unprivileged re-run'
  : process.getuid?.() !== 0
    ? 'needs root to create the unprivileged test user'
    : false;

test('the RUN tests pass as an unprivileged user through a user namespace', {skip: reason, timeout: 240_000}, async t => {
  const user = ensureTestUser();
  if ('skip' in user) {
    t.skip(user.skip);
    return;
  }
  const result = await runNodeAs(
    user,
    ['--test', '--test-reporter=spec', 'test/runtime/run-isolated.test.ts', 'test/snapshot/snapshots.test.ts'],
    {STRATA_TEST_UNPRIVILEGED: '1'},
  );
  const summary = result.stdout.split('\n').filter(line => /^(ℹ (tests|pass|fail|skipped)|# runIsolated)/.test(line.trim()));
  for (const line of summary) t.diagnostic(line.trim());
  assert.equal(result.code, 0, `unprivileged run failed:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /runIsolated as unprivileged \(user namespace\)/);
  assert.doesNotMatch(result.stdout, /ℹ pass 0\b/);
});
