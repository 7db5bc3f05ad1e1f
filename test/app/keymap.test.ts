import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import type {Key} from 'ink';
import {buildKeymap, displayKey, keyFor, keyNameOf, normalizeKeySpec, resolveKey} from '../../source/app/keymap.js';

const noKey: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false,
  end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false,
  meta: false, super: false, hyper: false, capsLock: false, numLock: false,
};

describe('keymap', () => {
  test('default keys follow lazydocker and dive conventions', () => {
    const {keymap, warnings} = buildKeymap();
    assert.deepEqual(warnings, []);
    assert.equal(resolveKey(keymap, 'images', 'q'), 'quit');
    assert.equal(resolveKey(keymap, 'images', '?'), 'help');
    assert.equal(resolveKey(keymap, 'files', 'j'), 'down');
    assert.equal(resolveKey(keymap, 'files', 'down'), 'down');
    assert.equal(resolveKey(keymap, 'layers', ']'), 'nextLayer');
    assert.equal(resolveKey(keymap, 'layers', 'right'), 'nextLayer');
    assert.equal(resolveKey(keymap, 'images', '3'), 'focusFiles');
    assert.equal(resolveKey(keymap, 'files', 'a'), 'aggregate');
    assert.equal(resolveKey(keymap, 'images', 'a'), undefined);
  });

  test('a panel key shadows the global key of the same name', () => {
    const {keymap} = buildKeymap();
    assert.equal(resolveKey(keymap, 'files', 'right'), 'expand');
    assert.equal(resolveKey(keymap, 'layers', 'right'), 'nextLayer');
    assert.equal(resolveKey(keymap, 'images', 's'), 'sort');
    assert.equal(resolveKey(keymap, 'files', 's'), 'sortBySize');
  });

  test('a remapped action loses its default keys and takes the new ones from other actions', () => {
    const {keymap, warnings} = buildKeymap({global: {quit: ['Q', 'ctrl+c'], prevLayer: 'h'}, images: {delete: 'x'}});
    assert.deepEqual(warnings, []);
    assert.equal(resolveKey(keymap, 'images', 'q'), undefined);
    assert.equal(resolveKey(keymap, 'images', 'Q'), 'quit');
    assert.equal(resolveKey(keymap, 'images', 'x'), 'delete');
    assert.equal(resolveKey(keymap, 'images', 'd'), undefined);
    assert.equal(keyFor(keymap, 'images', 'delete'), 'x');
    // Everything not remapped keeps working.
    assert.equal(resolveKey(keymap, 'images', 't'), 'tag');
    assert.equal(resolveKey(keymap, 'images', ']'), 'nextLayer');
    assert.equal(resolveKey(keymap, 'images', 'h'), 'prevLayer');
    assert.equal(resolveKey(keymap, 'images', '['), undefined);
  });

  test('typos in the config are reported and ignored instead of breaking the keys', () => {
    const {keymap, warnings} = buildKeymap({global: {quitt: 'x', help: 'ctrl+nothing'}, panels: {}});
    assert.equal(warnings.length, 3);
    assert.match(warnings.join('\n'), /unknown key scope "panels"/);
    assert.match(warnings.join('\n'), /unknown action "global.quitt"/);
    assert.match(warnings.join('\n'), /unknown key "ctrl\+nothing"/);
    assert.equal(resolveKey(keymap, 'images', 'q'), 'quit');
    // help was configured with no valid key: it is unbound, as the user asked, but reported.
    assert.equal(resolveKey(keymap, 'images', '?'), undefined);
  });

  test('key specs accept the spellings people write', () => {
    assert.equal(normalizeKeySpec('Esc'), 'escape');
    assert.equal(normalizeKeySpec('Return'), 'enter');
    assert.equal(normalizeKeySpec('Ctrl+C'), 'ctrl+c');
    assert.equal(normalizeKeySpec('Shift+Tab'), 'shift+tab');
    assert.equal(normalizeKeySpec(' '), 'space');
    assert.equal(normalizeKeySpec('G'), 'G');
    assert.equal(normalizeKeySpec('bogus'), undefined);
  });

  test('ink key events get the same names as the config uses', () => {
    assert.equal(keyNameOf('', {...noKey, tab: true, shift: true}), 'shift+tab');
    assert.equal(keyNameOf('', {...noKey, escape: true, meta: true}), 'escape');
    assert.equal(keyNameOf('c', {...noKey, ctrl: true}), 'ctrl+c');
    assert.equal(keyNameOf(' ', noKey), 'space');
    assert.equal(keyNameOf('G', {...noKey, shift: true}), 'G');
    assert.equal(keyNameOf('', {...noKey, upArrow: true}), 'up');
    assert.equal(keyNameOf('', {...noKey, return: true}), 'enter');
    assert.equal(displayKey('shift+tab'), 'Shift-Tab');
    assert.equal(displayKey('ctrl+c'), 'Ctrl-c');
  });
});
