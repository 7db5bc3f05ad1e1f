import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import type {BuildEvent, WatchEvent} from '../../../engine/index.js';
import {buildKeymap} from '../../../source/app/keymap.js';
import {interpretKey} from '../../../source/app/state/keys.js';
import {watchStatusText} from '../../../source/app/state/watch-status.js';
import {initialState, reduce, selectedLayerRow, type WorkbenchAction, type WorkbenchState} from '../../../source/app/state/workbench.js';
import {hex, historyOf, image} from '../fixtures.js';

const now = new Date(2026, 11, 4, 14, 5, 9);
const {keymap} = buildKeymap();
const request = {contextDir: '/src/app', tags: ['app:dev']};

function run(state: WorkbenchState, ...actions: WorkbenchAction[]): WorkbenchState {
  return actions.reduce(reduce, state);
}

function press(state: WorkbenchState, keyName: string) {
  const outcome = interpretKey(state, keymap, keyName, keyName.length === 1 ? keyName : '');
  return {state: outcome.actions.reduce(reduce, state), effect: outcome.effect};
}

const event = (value: WatchEvent): WorkbenchAction => ({type: 'watch-event', event: value, now});
const step = {stage: '', total: 2, line: 2};
const copy = {...step, vertex: 1, index: 1, instruction: 'COPY src/ /app/src/'};
const readme = {...step, vertex: 2, index: 2, instruction: 'COPY README /app/'};

/** The build events of one rebuild: COPY src/ re-ran because of `reason`, COPY README after it. */
function rebuild(reason: string, imageId: string): BuildEvent[] {
  return [
    {type: 'build-started', contextDir: '/src/app', dockerfile: '/src/app/Dockerfile', stages: ['']},
    {type: 'step-started', ...copy},
    {type: 'step-miss', ...copy, reason},
    {type: 'step-done', ...copy, cached: false, durationMs: 40},
    {type: 'step-started', ...readme},
    {type: 'step-cached', ...readme},
    {type: 'step-done', ...readme, cached: true, durationMs: 0},
    {type: 'build-done', imageId, manifestDigest: hex('m'), tags: ['app:dev'], durationMs: 60, rebuilt: []},
  ];
}

function rebuilt(reason: string, imageId: string, latencyMs: number, previousImageId?: string): Extract<WatchEvent, {type: 'rebuilt'}> {
  return {
    type: 'rebuilt', imageId, previousImageId, imageChanged: true, tags: ['app:dev'], reason, changedPaths: [], latencyMs, buildMs: latencyMs - 5,
    steps: [{...copy, cached: false, reason, durationMs: 40}],
  };
}

function watching(): WorkbenchState {
  const images = [image({id: hex('1'), repository: 'app', tag: 'dev'})];
  return run(
    initialState({columns: 100, rows: 30, now}),
    {type: 'images-loaded', images, now},
    {type: 'watch-starting', request},
    event({type: 'watching', contextDir: '/src/app', dockerfile: '/src/app/Dockerfile', files: 2002, debounceMs: 50}),
  );
}

describe('watch mode in the workbench', () => {
  test('w asks for a context to watch, offering the selected image\'s tag, and Enter starts watching it', () => {
    const state = run(initialState({columns: 100, rows: 30, now}), {type: 'images-loaded', images: [image({id: hex('1'), repository: 'app', tag: 'dev'})], now});
    const asked = press(state, 'w').state;
    assert.equal(asked.overlay?.kind, 'prompt');
    assert.equal(asked.overlay?.kind === 'prompt' && asked.overlay.value, '. -t app:dev');
    const started = press(asked, 'enter');
    assert.deepEqual(started.effect, {kind: 'watch', request: {contextDir: '.', tags: ['app:dev'], dockerfile: undefined}});
    assert.equal(started.state.overlay, undefined);
  });

  test('b and w offer the context the workbench was opened with (the demo\'s project) until a build here names another', () => {
    const images = [image({id: hex('1'), repository: 'demo', tag: 'latest'})];
    const state = run(initialState({columns: 100, rows: 30, now, lastContext: 'fixtures/demo'}), {type: 'images-loaded', images, now});
    const offered = (key: string, from: WorkbenchState) => {
      const overlay = press(from, key).state.overlay;
      return overlay?.kind === 'prompt' ? overlay.value : undefined;
    };
    assert.equal(offered('w', state), 'fixtures/demo -t demo:latest');
    assert.equal(offered('b', state), 'fixtures/demo -t demo:latest');
    const built = run(state, {type: 'build-started', contextDir: 'other', tags: []});
    assert.equal(offered('b', built), 'other -t demo:latest');
  });

  test('the status line says how many files are watched, then each rebuild: when, how long, and why', () => {
    let state = watching();
    assert.deepEqual(watchStatusText(state.watch!), {text: 'watching 2,002 files', tone: 'info'});
    state = run(state, ...rebuild('no cache record', hex('1')).map(value => event(value)));
    assert.equal(watchStatusText(state.watch!).text, 'rebuilding… · watching 2,002 files');
    state = run(state, event(rebuilt('watch started', hex('1'), 900)));
    assert.equal(watchStatusText(state.watch!).text, 'rebuilt 14:05:09 in 900 ms: watch started · watching 2,002 files');
    state = run(state, ...rebuild('src/app.js changed', hex('2')).map(value => event(value)), event(rebuilt('src/app.js changed', hex('2'), 98, hex('1'))));
    assert.deepEqual(watchStatusText(state.watch!), {text: 'rebuilt 14:05:09 in 98 ms: src/app.js changed · watching 2,002 files', tone: 'success'});
    assert.equal(state.watch!.rebuilds, 1, 'the first build is not a rebuild');
  });

  test('each rebuild streams into a build log of its own, and its verdicts mark the layers', () => {
    let state = run(watching(), ...rebuild('no cache record', hex('1')).map(value => event(value)), event(rebuilt('watch started', hex('1'), 900)));
    assert.equal(state.right, 'build', 'the build panel shows the watch');
    state = run(state, {type: 'focus', panel: 'layers'});
    const second = rebuild('src/app.js changed', hex('2'));
    state = run(state, event(second[0]), event(second[1]), event(second[2]));
    assert.equal(state.build.log?.status, 'running');
    assert.deepEqual(state.build.log?.steps.map(view => [view.instruction, view.reason]), [['COPY src/ /app/src/', 'src/app.js changed']], 'a new log, not the first build\'s');
    assert.equal(state.focus, 'layers', 'a rebuild does not take the focus');
    state = run(state, ...second.slice(3).map(value => event(value)), event(rebuilt('src/app.js changed', hex('2'), 98, hex('1'))));
    assert.equal(state.build.log?.status, 'done');
    assert.equal(state.build.verdicts.get('COPY src/ /app/src/'), 'built');
    assert.equal(state.build.verdicts.get('COPY README /app/'), 'cached');
  });

  test('a failed rebuild says so on the status line and shows its Dockerfile excerpt; the next good one recovers', () => {
    let state = run(watching(), ...rebuild('no cache record', hex('1')).map(value => event(value)), event(rebuilt('watch started', hex('1'), 900)));
    // A Dockerfile that does not parse fails before the build starts: its log is still its own.
    state = run(
      state,
      event({type: 'build-failed', error: 'unknown instruction: COPPY', code: 'ERR_DOCKERFILE_SYNTAX', excerpt: 'Dockerfile:2\n   2 | >>> COPPY src/ /app/src/', durationMs: 3}),
      event({type: 'rebuild-failed', error: 'unknown instruction: COPPY', code: 'ERR_DOCKERFILE_SYNTAX', keptImageId: hex('1'), reason: 'Dockerfile changed', changedPaths: ['Dockerfile']}),
    );
    const status = watchStatusText(state.watch!);
    assert.equal(status.tone, 'error');
    assert.equal(status.text, `rebuild failed 14:05:09: Dockerfile changed · kept ${'1'.repeat(12)} · watching 2,002 files`);
    assert.equal(state.build.log?.status, 'failed');
    assert.match(state.build.log?.excerpt ?? '', /COPPY/);
    assert.deepEqual(state.build.log?.steps, [], 'none of the last good build\'s steps');
    state = run(state, ...rebuild('Dockerfile changed', hex('3')).map(value => event(value)), event(rebuilt('Dockerfile changed', hex('3'), 120, hex('1'))));
    assert.equal(watchStatusText(state.watch!).tone, 'success');
    // Back to the last good Dockerfile: every step a cache hit, and the status line says so.
    state = run(state, event({...rebuilt('Dockerfile changed', hex('1'), 12, hex('3')), steps: []}));
    assert.equal(watchStatusText(state.watch!).text, 'rebuilt 14:05:09 in 12 ms: Dockerfile changed (every step cached) · watching 2,002 files');
  });

  test('a first build that fails says no image is kept, and the watcher\'s own errors show until the next rebuild', () => {
    let state = run(
      watching(),
      event({type: 'build-failed', error: 'unknown instruction: COPPY', code: 'ERR_DOCKERFILE_SYNTAX', durationMs: 3}),
      event({type: 'rebuild-failed', error: 'unknown instruction: COPPY', code: 'ERR_DOCKERFILE_SYNTAX', reason: 'watch started', changedPaths: []}),
    );
    assert.equal(watchStatusText(state.watch!).text, 'rebuild failed 14:05:09: watch started · no image yet · watching 2,002 files');
    state = run(state, event({type: 'watch-error', error: 'watch /src/app/big: ENOSPC'}));
    assert.deepEqual(watchStatusText(state.watch!), {text: 'watch error: watch /src/app/big: ENOSPC · watching 2,002 files', tone: 'error'});
    state = run(state, ...rebuild('Dockerfile changed', hex('3')).map(value => event(value)), event(rebuilt('Dockerfile changed', hex('3'), 120)));
    assert.equal(watchStatusText(state.watch!).tone, 'success');
  });

  test('b while watching says w stops first, and builds nothing', () => {
    const outcome = press(run(watching(), {type: 'focus', panel: 'images'}), 'b');
    assert.equal(outcome.effect, undefined);
    assert.equal(outcome.state.overlay, undefined);
    assert.match(outcome.state.message?.text ?? '', /w stops watching, then b builds/);
  });

  test('w while watching stops it, x says so, and the end of the session clears the status line', () => {
    const state = watching();
    const stopping = press(state, 'w');
    assert.deepEqual(stopping.effect, {kind: 'stop-watch'});
    assert.equal(stopping.state.watch?.phase, 'stopping');
    assert.equal(watchStatusText(stopping.state.watch!).text, 'watch: stopping…');
    assert.equal(press(stopping.state, 'w').effect, undefined, 'asked once');
    const cancel = press(run(state, {type: 'focus', panel: 'build'}), 'x');
    assert.equal(cancel.effect, undefined);
    assert.equal(cancel.state.message?.text, 'watching: w stops watching');
    const ended = run(stopping.state, {type: 'watch-ended'});
    assert.equal(ended.watch, undefined);
    assert.equal(ended.message?.text, 'stopped watching');
    assert.match(run(state, {type: 'watch-ended', error: 'watch /nope: no such folder'}).message?.text ?? '', /no such folder/);
  });

  test('the rebuilt image takes the place of the one it replaced, at the same step', () => {
    const history = historyOf([{createdBy: 'COPY src/ /app/src/ # buildkit', size: 3000}, {createdBy: 'COPY README /app/ # buildkit', size: 2000}]);
    const first = image({id: hex('1'), repository: 'app', tag: 'dev'});
    let state = run(initialState({columns: 100, rows: 30, now}), {type: 'images-loaded', images: [first], now});
    state = run(state, {type: 'detail-loaded', imageId: hex('1'), ...history}, {type: 'focus', panel: 'layers'}, {type: 'move', delta: 1});
    assert.equal(selectedLayerRow(state)?.position, 1);
    const second = image({id: hex('2'), repository: 'app', tag: 'dev'});
    // As the workbench does: the step is noted, the list reloads (the replaced image is gone), the new one is selected.
    const position = selectedLayerRow(state)?.position;
    state = run(state, {type: 'images-loaded', images: [second], now}, {type: 'select-image', id: hex('2'), ref: 'app:dev', layerPosition: position});
    state = run(state, {type: 'detail-loaded', imageId: hex('2'), ...history});
    assert.equal(state.detail.imageId, hex('2'));
    assert.equal(selectedLayerRow(state)?.position, 1, 'the same step of the new image');
  });
});
