import {test} from 'node:test';
import assert from 'node:assert/strict';
import {resolveStoreRoot} from '../../engine/store/index.js';

test('the store root comes from the flag, then STRATA_ROOT, then XDG_DATA_HOME, then the home folder', () => {
  const home = '/home/u';
  const env = {STRATA_ROOT: '/env/root', XDG_DATA_HOME: '/xdg'};
  assert.equal(resolveStoreRoot({flag: '/flag/root', env, home}), '/flag/root');
  assert.equal(resolveStoreRoot({env, home}), '/env/root');
  assert.equal(resolveStoreRoot({env: {XDG_DATA_HOME: '/xdg'}, home}), '/xdg/strata');
  assert.equal(resolveStoreRoot({env: {}, home}), '/home/u/.local/share/strata');
});

test('relative roots resolve against the working folder and a relative XDG_DATA_HOME is ignored', () => {
  assert.equal(resolveStoreRoot({flag: 'here', env: {}, home: '/h', cwd: '/work'}), '/work/here');
  assert.equal(resolveStoreRoot({env: {STRATA_ROOT: 'x'}, home: '/h', cwd: '/work'}), '/work/x');
  assert.equal(resolveStoreRoot({env: {XDG_DATA_HOME: 'rel'}, home: '/h'}), '/h/.local/share/strata');
  assert.equal(resolveStoreRoot({env: {STRATA_ROOT: ''}, home: '/h'}), '/h/.local/share/strata');
});
