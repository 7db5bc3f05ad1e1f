import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {
  initialState,
  reduce,
  selectedImage,
  selectedLayerRow,
  wantedFiles,
  type WorkbenchAction,
  type WorkbenchState,
} from '../../../source/app/state/workbench.js';
import {hex, historyOf, image, tree} from '../fixtures.js';

const now = new Date('2026-11-22T12:00:00Z');

function run(state: WorkbenchState, ...actions: WorkbenchAction[]): WorkbenchState {
  return actions.reduce(reduce, state);
}

const images = [
  image({id: hex('a'), repository: 'web', tag: 'latest', size: 5_000_000, created: '2026-11-22T11:00:00Z'}),
  image({id: hex('b'), size: 9_000_000, created: '2026-11-20T11:00:00Z'}),
  image({id: hex('c'), repository: 'api', tag: '1.0', size: 1_000_000, created: '2026-11-21T11:00:00Z'}),
  image({id: hex('c'), repository: 'api', tag: 'latest', size: 1_000_000, created: '2026-11-21T11:00:00Z'}),
];

const steps = historyOf([
  {createdBy: '/bin/sh -c #(nop) ADD file:abc in / ', size: 3000},
  {createdBy: '/bin/sh -c #(nop)  ENV PATH=/usr/bin', size: 0, empty: true},
  {createdBy: 'COPY app/ /app/ # buildkit', size: 200},
  {createdBy: 'RUN npm ci # buildkit', size: 900},
]);

function loaded(): WorkbenchState {
  return run(initialState({columns: 100, rows: 30, now}), {type: 'images-loaded', images, now});
}

describe('workbench reducer', () => {
  test('images sort by name with untagged images last, then by size and by age', () => {
    let state = loaded();
    assert.deepEqual(state.images.visible.map(i => `${i.repository}:${i.tag}`), ['api:1.0', 'api:latest', 'web:latest', '<none>:<none>']);
    state = reduce(state, {type: 'cycle-sort'});
    assert.equal(state.images.sort, 'size');
    assert.deepEqual(state.images.visible.map(i => i.size), [9_000_000, 5_000_000, 1_000_000, 1_000_000]);
    state = reduce(state, {type: 'cycle-sort'});
    assert.equal(state.images.sort, 'age');
    assert.equal(state.images.visible[0].repository, 'web');
    assert.equal(state.images.all.length, 4);
  });

  test('the selection stays on the same image when the list is re-sorted, filtered or reloaded', () => {
    let state = run(loaded(), {type: 'move', delta: 2});
    assert.equal(selectedImage(state)?.repository, 'web');
    state = reduce(state, {type: 'cycle-sort'});
    assert.equal(selectedImage(state)?.repository, 'web');
    state = reduce(state, {type: 'set-filter', filter: 'we'});
    assert.deepEqual(state.images.visible.map(i => i.repository), ['web']);
    assert.equal(selectedImage(state)?.repository, 'web');
    state = reduce(state, {type: 'images-loaded', images: [image({id: hex('e'), repository: 'aaa', tag: 'x'}), ...images], now});
    assert.equal(selectedImage(state)?.repository, 'web');
    state = reduce(state, {type: 'set-filter', filter: ''});
    assert.equal(selectedImage(state)?.repository, 'web');
    assert.equal(state.images.visible.length, 5);
  });

  test('filtering by ID prefix finds untagged images', () => {
    const state = reduce(loaded(), {type: 'set-filter', filter: 'bbbb'});
    assert.deepEqual(state.images.visible.map(i => i.id), [hex('b')]);
  });

  test('selecting an image asks for its layers, and a late answer for another image is dropped', () => {
    let state = loaded();
    assert.equal(state.detail.imageId, hex('c'));
    assert.equal(state.detail.loading, true);
    state = reduce(state, {type: 'move', delta: 2});
    assert.equal(state.detail.imageId, hex('a'));
    state = reduce(state, {type: 'detail-loaded', imageId: hex('c'), ...steps});
    assert.equal(state.detail.rows.length, 0);
    assert.equal(state.detail.loading, true);
    state = reduce(state, {type: 'detail-loaded', imageId: hex('a'), ...steps});
    assert.deepEqual(state.detail.rows.map(row => row.instruction), ['ADD file:abc in /', 'ENV PATH=/usr/bin', 'COPY app/ /app/', 'RUN npm ci']);
    assert.deepEqual(state.detail.rows.map(row => row.layerIndex), [0, undefined, 1, 2]);
    assert.deepEqual(wantedFiles(state), {imageId: hex('a'), layerIndex: 0, aggregate: false});
  });

  test('[ and ] step through layers, skipping steps that changed only the config', () => {
    let state = run(loaded(), {type: 'detail-loaded', imageId: hex('c'), ...steps});
    state = reduce(state, {type: 'step-layer', delta: 1});
    assert.equal(selectedLayerRow(state)?.instruction, 'COPY app/ /app/');
    assert.equal(state.files.request?.layerIndex, 1);
    state = reduce(state, {type: 'step-layer', delta: 1});
    assert.equal(state.files.request?.layerIndex, 2);
    const last = state;
    state = reduce(state, {type: 'step-layer', delta: 1});
    assert.equal(state, last, 'stepping past the top layer changes nothing');
    state = run(state, {type: 'step-layer', delta: -1}, {type: 'step-layer', delta: -1});
    assert.equal(state.files.request?.layerIndex, 0);
  });

  test('a metadata-only step shows no tree and asks for none', () => {
    let state = run(loaded(), {type: 'detail-loaded', imageId: hex('c'), ...steps}, {type: 'focus', panel: 'layers'}, {type: 'move', delta: 1});
    assert.equal(selectedLayerRow(state)?.emptyLayer, true);
    assert.equal(state.files.request, undefined);
    assert.equal(state.files.loading, false);
    state = reduce(state, {type: 'move', delta: 1});
    assert.equal(state.files.request?.layerIndex, 1);
  });

  test('a tree for a layer the user has left is dropped; the right one becomes rows', () => {
    let state = run(loaded(), {type: 'detail-loaded', imageId: hex('c'), ...steps});
    const first = state.files.request!;
    state = reduce(state, {type: 'step-layer', delta: 1});
    state = reduce(state, {type: 'tree-loaded', request: first, tree: tree({old: 1})});
    assert.equal(state.files.rows.length, 0);
    assert.equal(state.files.loading, true);
    state = reduce(state, {type: 'tree-loaded', request: state.files.request!, tree: tree({app: {'a.js': 1}})});
    assert.deepEqual([...state.files.rows].map(row => row.node.path), ['/app', '/app/a.js']);
    assert.equal(state.files.loading, false);
  });

  test('toggling aggregate asks for the other tree of the same layer', () => {
    let state = run(loaded(), {type: 'detail-loaded', imageId: hex('c'), ...steps});
    state = reduce(state, {type: 'toggle-aggregate'});
    assert.deepEqual(state.files.request, {imageId: hex('c'), layerIndex: 0, aggregate: true});
    assert.equal(state.files.loading, true);
  });

  test('the cursor stays on the same path when stepping to a layer that has it', () => {
    let state = run(loaded(), {type: 'detail-loaded', imageId: hex('c'), ...steps});
    state = reduce(state, {type: 'tree-loaded', request: state.files.request!, tree: tree({app: {'a.js': 1, 'b.js': 2}})});
    state = run(state, {type: 'focus', panel: 'files'}, {type: 'move', delta: 2});
    assert.equal(state.files.rows.at(state.files.list.cursor)!.node.path, '/app/b.js');
    state = reduce(state, {type: 'step-layer', delta: 1});
    state = reduce(state, {type: 'tree-loaded', request: state.files.request!, tree: tree({app: {'b.js': 5, 'c.js': 2}})});
    assert.equal(state.files.rows.at(state.files.list.cursor)!.node.path, '/app/b.js');
  });

  test('find unfolds the folders above the match and selects it', () => {
    let state = run(loaded(), {type: 'detail-loaded', imageId: hex('c'), ...steps});
    state = reduce(state, {type: 'tree-loaded', request: state.files.request!, tree: tree({app: {lib: {'deep.js': 1}}, etc: {x: 1}})});
    state = run(state, {type: 'focus', panel: 'files'}, {type: 'fold'});
    assert.deepEqual([...state.files.rows].map(row => row.node.path), ['/app', '/etc', '/etc/x']);
    state = reduce(state, {type: 'find', query: 'deep', next: false});
    assert.equal(state.files.rows.at(state.files.list.cursor)!.node.path, '/app/lib/deep.js');
    assert.equal(state.files.rows.length, 5);
    state = reduce(state, {type: 'find', query: 'nope', next: false});
    assert.equal(state.message?.tone, 'error');
    assert.equal(state.files.rows.at(state.files.list.cursor)!.node.path, '/app/lib/deep.js');
  });

  test('tab cycles the panels and includes Build only after a build started', () => {
    let state = loaded();
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      state = reduce(state, {type: 'cycle-focus', delta: 1});
      seen.push(state.focus);
    }
    assert.deepEqual(seen, ['layers', 'files', 'waste', 'images', 'layers']);
    assert.equal(reduce(state, {type: 'focus', panel: 'build'}).focus, 'layers');
    state = reduce(state, {type: 'build-started', contextDir: '/ctx', tags: ['web:dev']});
    assert.equal(state.focus, 'build');
    assert.equal(reduce(state, {type: 'cycle-focus', delta: -1}).focus, 'waste');
    assert.equal(reduce(state, {type: 'cycle-focus', delta: 1}).focus, 'images');
  });

  test('a smaller terminal keeps the cursor inside the shrunken window', () => {
    const many = Array.from({length: 50}, (_, i) => image({id: hex((i % 10).toString()).slice(0, -2) + String(i).padStart(2, '0'), repository: `r${String(i).padStart(2, '0')}`, tag: 'latest'}));
    let state = run(initialState({columns: 100, rows: 30, now}), {type: 'images-loaded', images: many, now}, {type: 'move-to', position: 'bottom'});
    assert.equal(state.images.list.cursor, 49);
    state = reduce(state, {type: 'resize', columns: 80, rows: 24});
    const {cursor, offset} = state.images.list;
    assert.equal(cursor, 49);
    assert.ok(cursor >= offset && cursor < offset + state.layout.imagesRows);
    assert.equal(state.layout.height, 23);
  });

  test('build events stream into the build panel and the verdicts reach the layers panel', () => {
    let state = reduce(loaded(), {type: 'build-started', contextDir: '/ctx', tags: ['web:dev']});
    const ref = {vertex: 2, stage: '', index: 2, total: 3, instruction: 'RUN make', line: 3};
    state = run(state,
      {type: 'build-event', event: {type: 'step-started', ...ref, vertex: 1, index: 1, instruction: 'FROM base'}},
      {type: 'build-event', event: {type: 'step-cached', ...ref, vertex: 1, index: 1, instruction: 'FROM base'}},
      {type: 'build-event', event: {type: 'step-done', ...ref, vertex: 1, index: 1, instruction: 'FROM base', cached: true, durationMs: 1}},
      {type: 'build-event', event: {type: 'step-started', ...ref}},
      {type: 'build-event', event: {type: 'step-miss', ...ref, reason: 'src/app.js changed'}},
      {type: 'build-event', event: {type: 'step-output', ...ref, stream: 'stdout', line: 'compiling'}},
      {type: 'build-event', event: {type: 'step-done', ...ref, cached: false, durationMs: 1500}},
      {type: 'build-event', event: {type: 'build-done', imageId: hex('f'), manifestDigest: hex('e'), tags: ['web:dev'], durationMs: 1600, rebuilt: []}},
    );
    assert.equal(state.build.log?.status, 'done');
    assert.deepEqual(state.build.log?.steps.map(step => [step.state, step.reason]), [['cached', undefined], ['built', 'src/app.js changed']]);
    assert.equal(state.build.verdicts.get('RUN make'), 'built');
    assert.equal(state.build.verdicts.get('FROM base'), 'cached');
  });

  test('after a build the built image is selected, by tag when it has several', () => {
    let state = loaded();
    state = reduce(state, {type: 'select-image', id: hex('c'), ref: 'api:latest'});
    assert.equal(selectedImage(state)?.tag, 'latest');
    assert.equal(state.detail.imageId, hex('c'));
    state = reduce(state, {type: 'select-image', id: hex('a')});
    assert.equal(selectedImage(state)?.repository, 'web');
    assert.equal(reduce(state, {type: 'select-image', id: hex('9')}), state, 'an unknown image changes nothing');
  });
});
