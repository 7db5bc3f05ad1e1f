import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {buildKeymap} from '../../../source/app/keymap.js';
import {deleteConfirmation, interpretKey, parseBuildPrompt} from '../../../source/app/state/keys.js';
import {initialState, reduce, type WorkbenchState} from '../../../source/app/state/workbench.js';
import {hex, historyOf, image, tree} from '../fixtures.js';

const now = new Date('2026-11-22T12:00:00Z');
const {keymap} = buildKeymap();

function press(state: WorkbenchState, keyName: string, input = keyName.length === 1 ? keyName : '') {
  const outcome = interpretKey(state, keymap, keyName, input);
  return {state: outcome.actions.reduce(reduce, state), effect: outcome.effect};
}

function typeText(state: WorkbenchState, text: string): WorkbenchState {
  for (const char of text) state = press(state, char === ' ' ? 'space' : char, char).state;
  return state;
}

function withImages(...list: ReturnType<typeof image>[]): WorkbenchState {
  return reduce(initialState({columns: 100, rows: 30, now}), {type: 'images-loaded', images: list, now});
}

describe('key handling', () => {
  test('q quits and ? opens the help, which Esc closes', () => {
    const state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    assert.deepEqual(press(state, 'q').effect, {kind: 'quit'});
    const help = press(state, '?').state;
    assert.equal(help.overlay?.kind, 'help');
    assert.equal(press(help, 'q').effect, undefined, 'q closes the help instead of quitting');
    assert.equal(press(help, 'escape').state.overlay, undefined);
  });

  test('deleting the only tag of an image says the image and its size go', () => {
    const state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest', size: 5_230_000}));
    const confirm = deleteConfirmation(state);
    assert.equal(confirm?.kind, 'confirm');
    if (confirm?.kind !== 'confirm') return;
    assert.equal(confirm.title, 'Delete web:latest?');
    assert.match(confirm.lines.join('\n'), /deletes image aaaaaaaaaaaa/);
    assert.match(confirm.lines.join('\n'), /5\.23MB/);
    const asked = press(state, 'd').state;
    assert.equal(asked.overlay?.kind, 'confirm');
    assert.equal(press(asked, 'n').effect, undefined);
    assert.equal(press(asked, 'n').state.overlay, undefined);
    assert.deepEqual(press(asked, 'y').effect, {kind: 'delete', refs: ['web:latest'], force: false});
  });

  test('deleting one of several tags says only the tag goes', () => {
    const state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest', repoTags: ['web:latest', 'web:1.2']}));
    const confirm = deleteConfirmation(state);
    assert.ok(confirm?.kind === 'confirm');
    assert.equal(confirm.title, 'Untag web:latest?');
    assert.match(confirm.lines.join('\n'), /stays: it is also tagged web:1\.2/);
  });

  test('an image other images are built on needs f to force', () => {
    const state = withImages(image({id: hex('a'), repository: 'base', tag: '1', children: [hex('b')]}));
    const asked = press(state, 'd').state;
    assert.ok(asked.overlay?.kind === 'confirm');
    assert.match(asked.overlay.lines.join('\n'), /1 image is built on it/);
    assert.deepEqual(press(asked, 'f').effect, {kind: 'delete', refs: ['base:1'], force: true});
  });

  test('t asks for a tag and Enter tags the selected image', () => {
    let state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    state = press(state, 't').state;
    assert.ok(state.overlay?.kind === 'prompt');
    assert.equal(state.overlay.label, 'Tag web:latest as:');
    state = typeText(state, 'web:v2x');
    state = press(state, 'backspace').state;
    const {effect, state: after} = press(state, 'enter');
    assert.deepEqual(effect, {kind: 'tag', source: 'web:latest', target: 'web:v2'});
    assert.equal(after.overlay, undefined);
  });

  test('/ filters the images while typing and Esc restores the list', () => {
    let state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}), image({id: hex('b'), repository: 'api', tag: 'latest'}));
    state = press(state, '/').state;
    state = typeText(state, 'ap');
    assert.deepEqual(state.images.visible.map(i => i.repository), ['api']);
    const kept = press(state, 'enter').state;
    assert.equal(kept.overlay, undefined);
    assert.equal(kept.images.filter, 'ap');
    const restored = press(state, 'escape').state;
    assert.equal(restored.images.visible.length, 2);
    // Esc on the panel clears a kept filter too.
    assert.equal(press(kept, 'escape').state.images.visible.length, 2);
  });

  test('b offers the last context tagged as the selected image and parses the answer', () => {
    const state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    const asked = press(state, 'b').state;
    assert.ok(asked.overlay?.kind === 'prompt');
    assert.equal(asked.overlay.value, '. -t web:latest');
    assert.deepEqual(press(asked, 'enter').effect, {kind: 'build', contextDir: '.', tags: ['web:latest'], dockerfile: undefined});
    assert.deepEqual(parseBuildPrompt('./demo -f Dockerfile.dev -t a:1 -t a:2'), {contextDir: './demo', tags: ['a:1', 'a:2'], dockerfile: 'Dockerfile.dev'});
  });

  test('Enter on a file reads it from the layer; on a folder it folds', () => {
    let state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    state = reduce(state, {type: 'detail-loaded', imageId: hex('a'), ...historyOf([{createdBy: 'COPY . /app', size: 10}])});
    state = reduce(state, {type: 'tree-loaded', request: state.files.request!, tree: tree({app: {'a.txt': 3, 'gone.txt': 'removed'}})});
    state = press(state, '3').state;
    assert.equal(state.focus, 'files');
    const folded = press(state, 'enter').state;
    assert.equal(folded.files.rows.length, 1);
    state = press(state, 'j').state;
    const opened = press(state, 'enter');
    assert.deepEqual(opened.effect, {kind: 'read-file', imageId: hex('a'), layerIndex: 0, path: '/app/a.txt'});
    assert.equal(opened.state.overlay?.kind, 'file');
    const shown = reduce(opened.state, {type: 'file-loaded', path: '/app/a.txt', file: {path: '/app/a.txt', size: 3, binary: false, content: Buffer.from('hi\n'), truncated: false}});
    assert.ok(shown.overlay?.kind === 'file');
    assert.deepEqual(shown.overlay.lines, ['hi']);
    const removed = press(press(state, 'j').state, 'enter');
    assert.equal(removed.effect, undefined);
    assert.match(removed.state.message?.text ?? '', /removed in this layer/);
  });

  test('a binary file shows a note instead of its bytes', () => {
    let state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    state = reduce(state, {type: 'open-overlay', overlay: {kind: 'file', path: '/bin/x', loading: true, lines: [], list: {cursor: 0, offset: 0}}});
    state = reduce(state, {type: 'file-loaded', path: '/bin/x', file: {path: '/bin/x', size: 12000, binary: true, content: Buffer.alloc(10), truncated: true}});
    assert.ok(state.overlay?.kind === 'file');
    assert.equal(state.overlay.note, 'binary file, 12000 bytes: not shown');
    assert.deepEqual(state.overlay.lines, []);
  });

  test('Ctrl-C quits even while typing into a prompt, where q is just a letter', () => {
    let state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    state = press(state, 't').state;
    const typed = press(state, 'q');
    assert.equal(typed.effect, undefined);
    assert.ok(typed.state.overlay?.kind === 'prompt');
    assert.equal(typed.state.overlay.value, 'q');
    assert.deepEqual(press(state, 'ctrl+c', 'c').effect, {kind: 'quit'});
  });

  test('a paste arrives as one input and lands whole in the prompt', () => {
    let state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    state = press(state, 't').state;
    state = press(state, '', 'registry.local:5000/team/web:1.2').state;
    assert.ok(state.overlay?.kind === 'prompt');
    assert.equal(state.overlay.value, 'registry.local:5000/team/web:1.2');
    assert.deepEqual(press(state, 'enter').effect, {kind: 'tag', source: 'web:latest', target: 'registry.local:5000/team/web:1.2'});
  });

  test('Enter on a waste item selects the layer holding the copy and finds the file there', () => {
    let state = withImages(image({id: hex('a'), repository: 'web', tag: 'latest'}));
    state = reduce(state, {type: 'detail-loaded', imageId: hex('a'), ...historyOf([
      {createdBy: 'COPY a /a', size: 10},
      {createdBy: 'COPY big.bin /app/big.bin', size: 5000},
      {createdBy: 'RUN chown -R 1000 /app', size: 5000},
    ])});
    state = press(state, '4').state;
    state = reduce(state, {type: 'waste-loaded', imageId: hex('a'), report: {
      totalBytes: 10010, wastedBytes: 5000, userWastedBytes: 5000, efficiency: 0.5,
      items: [{path: 'app/big.bin', bytes: 5000, count: 1, layers: [1], createdBy: ['COPY big.bin /app/big.bin'], hiddenBy: [2]}],
    }});
    state = press(state, 'enter').state;
    assert.equal(state.focus, 'files');
    assert.deepEqual(state.files.request, {imageId: hex('a'), layerIndex: 1, aggregate: false});
    state = reduce(state, {type: 'tree-loaded', request: state.files.request!, tree: {
      name: '', path: '', type: 'dir', size: 5000, status: 'modified', children: [
        {name: 'app', path: 'app', type: 'dir', size: 5000, status: 'added', children: [
          {name: 'big.bin', path: 'app/big.bin', type: 'file', size: 5000, status: 'added'},
        ]},
      ],
    }});
    assert.equal(state.files.rows.at(state.files.list.cursor)!.node.path, 'app/big.bin');
  });
});
