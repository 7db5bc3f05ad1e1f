import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {moveBy, moveTo, visibleSlice} from '../../../source/app/state/list.js';

describe('windowed list cursor', () => {
  test('moving past the window scrolls by the least amount and never past the ends', () => {
    let list = {cursor: 0, offset: 0};
    list = moveBy(list, 5, 100, 5);
    assert.deepEqual(list, {cursor: 5, offset: 1});
    list = moveBy(list, -3, 100, 5);
    assert.deepEqual(list, {cursor: 2, offset: 1});
    list = moveTo(list, 1000, 100, 5);
    assert.deepEqual(list, {cursor: 99, offset: 95});
    list = moveBy(list, -1000, 100, 5);
    assert.deepEqual(list, {cursor: 0, offset: 0});
  });

  test('only the rows in the window are handed to the panel', () => {
    const rows = Array.from({length: 2000}, (_, i) => i);
    const list = moveTo({cursor: 0, offset: 0}, 1500, rows.length, 8);
    const shown = visibleSlice(rows, list, 8);
    assert.equal(shown.length, 8);
    assert.ok(shown.includes(1500));
    assert.equal(rows.length, 2000);
  });

  test('an empty list keeps the cursor at zero', () => {
    assert.deepEqual(moveBy({cursor: 3, offset: 1}, 1, 0, 5), {cursor: 0, offset: 0});
  });
});
