import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {join} from 'node:path';
import React from 'react';
import {render} from 'ink-testing-library';
import {Engine} from '../../engine/index.js';
import {App} from '../../source/app/App.js';
import {humanSize} from '../../source/app/format.js';
import {createWorkbenchStore, waitFor, type WorkbenchStore} from './helpers.js';

const KEY = {
  enter: '\r',
  escape: '\u001B',
  tab: '\t',
  shiftTab: '\u001B[Z',
  right: '\u001B[C',
  ctrlU: '\u0015',
};

type Ui = ReturnType<typeof render>;

let store: WorkbenchStore;
before(async () => {
  store = await createWorkbenchStore();
});
after(async () => {
  await store.cleanup();
});

function open(options: {columns?: number; rows?: number} = {}): Ui {
  return render(<App engine={store.engine} root={store.root} cwd={store.context} columns={options.columns ?? 100} rows={options.rows ?? 30}/>);
}

function frame(ui: Ui): string {
  return ui.lastFrame() ?? '';
}

async function see(ui: Ui, text: string | RegExp, what = String(text)): Promise<string> {
  return waitFor(() => {
    const shown = frame(ui);
    return (typeof text === 'string' ? shown.includes(text) : text.test(shown)) ? shown : undefined;
  }, 5000, `"${what}" on screen; last frame:\n${frame(ui)}`);
}

async function press(ui: Ui, ...keys: string[]): Promise<void> {
  for (const key of keys) {
    ui.stdin.write(key);
    await new Promise(resolve => setTimeout(resolve, 15));
  }
}

async function typeText(ui: Ui, text: string): Promise<void> {
  await press(ui, ...text);
}

/** The engine pieces that compute trees and waste land separately; until then those tests say so and skip. */
async function engineCan(what: 'layerTree' | 'waste'): Promise<boolean> {
  try {
    if (what === 'layerTree') await store.engine.layerTree('web:latest', 0, {aggregate: false});
    else await store.engine.waste('web:latest');
    return true;
  } catch (error) {
    return !/is not a function/.test((error as Error).message);
  }
}

function row(shown: string, text: string): string {
  return shown.split('\n').find(line => line.includes(text)) ?? '';
}

/** Waits for the files panel to show layer `layer` with a row naming `name`. */
async function seeTreeRow(ui: Ui, layer: number, name: string): Promise<string> {
  return waitFor(() => {
    const shown = frame(ui);
    return new RegExp(`Files\\s+layer ${layer}\\b`).test(shown) && treeRow(shown, name) ? shown : undefined;
  }, 5000, `layer ${layer} tree with ${name}; last frame:\n${frame(ui)}`);
}

/** The file tree row naming `name` (the right-hand panel, after the layers panel's border). */
function treeRow(shown: string, name: string): string {
  return shown.split('\n').map(line => line.split('││')[1] ?? '').find(line => line.includes(name)) ?? '';
}

describe('workbench', () => {
  test('the images panel lists each image with tag, short ID, age, size and marks', async () => {
    const ui = open();
    try {
      const shown = await see(ui, 'web-child');
      const images = await store.engine.listImages();
      const web = images.find(image => image.repository === 'web')!;
      const webRow = row(shown, `web  `);
      assert.match(webRow, /web\s+latest\s+[0-9a-f]{12}\s+/);
      assert.ok(webRow.includes(web.id.slice(7, 19)));
      assert.ok(webRow.includes(humanSize(web.size)));
      assert.match(webRow, /used: 1 child/);
      assert.match(row(shown, '<none>'), /dangling/);
      assert.match(shown, /ago/);
      // Every (image, tag) pair is a row, sorted by name with untagged last.
      const order = ['api  ', 'web  ', 'web-child', '<none>'].map(text => shown.indexOf(text));
      assert.deepEqual([...order].sort((a, b) => a - b), order);
      assert.equal(images.length, 5, 'looking changes nothing');
    } finally {
      ui.unmount();
    }
  });

  test('selecting an image shows its steps base first, config-only steps included', async () => {
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'j', 'j');
      const shown = await see(ui, 'ENV MODE=production');
      const steps = ['COPY app/ /app/', 'ENV MODE=production', 'COPY data-v1.bin', 'COPY data-v2.bin', 'LABEL org.example.rol'];
      const positions = steps.map(step => shown.indexOf(step));
      assert.ok(positions.every(position => position > 0), shown);
      assert.deepEqual([...positions].sort((a, b) => a - b), positions);
      assert.match(row(shown, 'ENV MODE=production'), /\s-\s+ENV/, 'a config-only step has no size');
    } finally {
      ui.unmount();
    }
  });

  test('] and [ step through the layers and the file tree follows', async t => {
    if (!(await engineCan('layerTree'))) return t.skip('engine layerTree not available yet');
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'j', 'j');
      await seeTreeRow(ui, 0, 'hello.txt');
      await press(ui, ']');
      const second = await seeTreeRow(ui, 1, 'data.bin');
      assert.match(treeRow(second, 'data.bin'), /^\+ /, 'an added file is marked + (not only by colour)');
      await press(ui, ']');
      const third = await seeTreeRow(ui, 2, 'data.bin');
      assert.match(treeRow(third, 'data.bin'), /^~ /, 'a rewritten file is marked ~');
      await press(ui, '[', '[');
      await see(ui, /Files\s+layer 0/);
    } finally {
      ui.unmount();
    }
  });

  test('Enter on a file shows its text, and a binary file gets a note', async t => {
    if (!(await engineCan('layerTree'))) return t.skip('engine layerTree not available yet');
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'j', 'j');
      await see(ui, 'hello.txt');
      await press(ui, '3', '/');
      await typeText(ui, 'hello.txt');
      await press(ui, KEY.enter);
      await see(ui, /▾? ?hello\.txt/);
      await press(ui, KEY.enter);
      await see(ui, 'hello from v1');
      await press(ui, KEY.escape);
      await press(ui, '/', KEY.ctrlU);
      await typeText(ui, 'logo.png');
      await press(ui, KEY.enter, KEY.enter);
      await see(ui, /binary file, 11 bytes/);
    } finally {
      ui.unmount();
    }
  });

  test('the waste panel shows the overwritten copy, its layer and instruction', async t => {
    if (!(await engineCan('waste'))) return t.skip('engine waste not available yet');
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'j', 'j', '4');
      const shown = await see(ui, /efficiency \d+(\.\d)?%/);
      assert.match(shown, /data\.bin/);
      assert.match(shown, /5kB/);
    } finally {
      ui.unmount();
    }
  });

  test('? lists every key of the focused panel and Esc closes it', async () => {
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, '?');
      const help = await see(ui, 'Help: Images keys');
      for (const text of ['filter by name, tag or ID', 'delete or untag', 'tag the image', 'build a context', 'inspect the image', 'quit', 'next panel']) {
        assert.ok(help.includes(text), `help mentions "${text}"`);
      }
      await press(ui, KEY.escape);
      await see(ui, '1 Images');
      await press(ui, KEY.tab, KEY.tab, '?');
      const files = await see(ui, 'Help: Files keys');
      assert.match(files, /this layer only \/ all up to here/);
      assert.match(files, /find a path/);
    } finally {
      ui.unmount();
    }
  });

  test('d says what will go and deletes only after y', async () => {
    const extra = await Engine.open({root: store.root, env: {}});
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'G', 'd');
      const dangling = (await store.engine.listImages()).find(image => image.dangling)!;
      const confirm = await see(ui, 'Delete image');
      assert.ok(confirm.includes(`Delete image ${dangling.id.slice(7, 19)}?`));
      assert.ok(confirm.includes(humanSize(dangling.size)));
      await press(ui, 'n');
      await see(ui, '2 Layers');
      assert.equal((await extra.listImages()).length, 5, 'n keeps the image');
      await press(ui, 'd', 'y');
      await see(ui, `deleted ${dangling.id.slice(7, 19)}`);
      const left = await extra.listImages();
      assert.equal(left.length, 4);
      assert.ok(!left.some(image => image.id === dangling.id));
      assert.ok(left.some(image => image.repository === 'web'), 'the other images stay');
    } finally {
      ui.unmount();
      await extra.close();
    }
  });

  test('t tags the selected image and the list shows the new tag', async () => {
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 't');
      await see(ui, 'Tag api:1.0 as:');
      await typeText(ui, 'api:2.0');
      await press(ui, KEY.enter);
      await see(ui, 'tagged api:1.0 as api:2.0');
      await see(ui, /api\s+2\.0/);
      const tags = (await store.engine.listImages()).flatMap(image => image.repoTags);
      assert.ok(tags.includes('api:2.0'));
      assert.ok(tags.includes('api:1.0'), 'the source tag stays');
      await store.engine.removeImages(['api:2.0']);
    } finally {
      ui.unmount();
    }
  });

  test('/ filters the images while typing and Esc clears it', async () => {
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, '/');
      await typeText(ui, 'child');
      const filtered = await see(ui, /1\/\d+ · sort: name · filter "child"/);
      assert.ok(!row(filtered, 'api  ').includes('api'));
      await press(ui, KEY.enter, KEY.escape);
      await see(ui, /api\s+1\.0/);
    } finally {
      ui.unmount();
    }
  });

  test('a change made by another process shows up without a key press', async () => {
    const other = await Engine.open({root: store.root, env: {}});
    const ui = open();
    try {
      await see(ui, 'web-child');
      await other.tag('web:latest', 'web:elsewhere');
      await see(ui, 'elsewhere');
      await other.removeImages(['web:elsewhere']);
      await waitFor(() => !frame(ui).includes('elsewhere'), 5000, 'the tag to go');
    } finally {
      ui.unmount();
      await other.close();
    }
  });

  test('b builds a context and streams each step with its cache verdict', async () => {
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'j', 'j', 'b');
      await see(ui, '. -t web:latest');
      await press(ui, KEY.ctrlU);
      await typeText(ui, `${store.context} -t web:rebuilt`);
      await press(ui, KEY.enter);
      const shown = await see(ui, /built [0-9a-f]{12} in/);
      assert.match(shown, /5 Build/);
      assert.match(shown, /COPY app\/ \/app\//);
      assert.match(shown, /CACHED/);
      assert.ok((await store.engine.listImages()).some(image => image.repoTags.includes('web:rebuilt')));
      // The built image is selected and its steps carry the verdicts: C for a cache hit.
      const selected = await see(ui, /> web\s+rebuilt/);
      assert.match(await see(ui, /\sC\s+COPY app\/ \/app\//), /\sC\s+COPY data-v2\.bin/);
      assert.ok(selected.includes('rebuilt'));
      await store.engine.removeImages(['web:rebuilt']);
    } finally {
      ui.unmount();
    }
  });

  test('a failing build shows the error with the Dockerfile line as an excerpt', async () => {
    const before = (await store.engine.listImages()).length;
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'b', KEY.ctrlU);
      await typeText(ui, `${store.context} -f ${join(store.context, 'Dockerfile.bad')} -t broken:1`);
      await press(ui, KEY.enter);
      const shown = await see(ui, /error: /);
      assert.match(shown, /5 Build\s+failed/);
      assert.match(shown, /COPPY/, 'the offending line is shown');
      assert.match(shown, /\b3\b.*COPPY/, 'with its line number');
      const after = await store.engine.listImages();
      assert.equal(after.length, before, 'a failed build adds no image');
      assert.ok(!after.some(image => image.repository === 'broken'));
    } finally {
      ui.unmount();
    }
  });

  test('i shows the image as docker inspect does and Esc goes back', async () => {
    const ui = open();
    try {
      await see(ui, 'web-child');
      await press(ui, 'i');
      const shown = await see(ui, '"RepoTags"');
      assert.match(shown, /Inspect/);
      await press(ui, KEY.escape);
      await see(ui, '3 Files');
    } finally {
      ui.unmount();
    }
  });

  test('at 80x24 every panel fits and no line is wider than the terminal', async () => {
    const ui = open({columns: 80, rows: 24});
    try {
      const shown = await see(ui, 'web-child');
      const lines = shown.split('\n');
      assert.ok(lines.length <= 23, `${lines.length} lines`);
      assert.ok(lines.every(line => line.length <= 80), 'no line wraps');
      for (const panel of ['1 Images', '2 Layers', '3 Files', '? help']) assert.ok(shown.includes(panel), panel);
    } finally {
      ui.unmount();
    }
  });

  test('at 80x24 the help still lists every key of the Images panel', async () => {
    const ui = open({columns: 80, rows: 24});
    try {
      await see(ui, 'web-child');
      await press(ui, '?');
      const help = await see(ui, 'Help: Images keys');
      for (const text of ['show the layers', 'filter by name', 'sort by name', 'delete or untag', 'tag the image', 'build a context', 'inspect the image', 'previous layer', 'next layer', 'quit', 'reload from the store']) {
        assert.ok(help.includes(text), `"${text}" in the help at 80x24`);
      }
      assert.ok(help.split('\n').every(line => line.length <= 80));
    } finally {
      ui.unmount();
    }
  });

  test('keys remapped in the config drive the panels and the help shows the new keys', async () => {
    const ui = render(<App engine={store.engine} root={store.root} keys={{images: {filter: 'f', sort: ['o']}}} columns={100} rows={30}/>);
    try {
      await see(ui, 'web-child');
      await press(ui, '/');
      assert.ok(!frame(ui).includes('Filter images:'), 'the old key does nothing');
      await press(ui, 'f');
      await see(ui, 'Filter images:');
      await press(ui, KEY.escape, 'o');
      await see(ui, 'sort: size');
      await press(ui, '?');
      const help = await see(ui, 'Help: Images keys');
      assert.match(help, / f\s+filter by name, tag or ID/);
      assert.match(help, / o\s+sort by name, size or age/);
    } finally {
      ui.unmount();
    }
  });
});
