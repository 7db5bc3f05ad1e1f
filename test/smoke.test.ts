import {test} from 'node:test';
import assert from 'node:assert/strict';
import {UserError} from '../engine/index.js';

test('a user error keeps its code and hint', () => {
  const error = new UserError('ERR_X', 'bad thing', {hint: 'try again'});
  assert.equal(error.code, 'ERR_X');
  assert.equal(error.hint, 'try again');
  assert.equal(error.name, 'UserError');
});
