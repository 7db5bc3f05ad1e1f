/**
 * The workbench's watch mode over a real engine and a real watcher on a temp context: the status line, the
 * build panel streaming each rebuild, the layers of the watched image following it, a broken save and its fix.
 */
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdir, mkdtemp, rename, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import React from 'react';
import {render} from 'ink-testing-library';
import {Engine} from '../../engine/index.js';
import {App} from '../../source/app/App.js';
import {Header} from '../../source/app/components/Header.js';
import {defaultTheme} from '../../source/app/theme.js';
import {waitFor} from './helpers.js';

const dockerfile = 'FROM scratch\nCOPY src/ /app/src/\nCOPY README /app/\n';

describe('the watch status line at 80 columns', () => {
  test('keeps the news (when, how long, why) and lets the file count go', () => {
    const status = {text: 'rebuilt 14:05:09 in 98 ms: src/components/app.js changed · watching 2,002 files', tone: 'success' as const};
    const ui = render(<Header imageCount={3} live building={false} watch={status} width={80} theme={defaultTheme}/>);
    try {
      const line = (ui.lastFrame() ?? '').split('\n')[0] ?? '';
      assert.ok(line.length <= 80, `${line.length} columns`);
      assert.match(line, /rebuilt 14:05:09 in 98 ms: src\/components\/app\.js changed/);
    } finally {
      ui.unmount();
    }
  });
});

describe('watch mode in the workbench, for real', () => {
  let folder: string;
  let context: string;
  let engine: Engine;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'strata-watch-ui-'));
    context = join(folder, 'context');
    await mkdir(join(context, 'src'), {recursive: true});
    await writeFile(join(context, 'Dockerfile'), dockerfile);
    await writeFile(join(context, 'src', 'main.txt'), 'one\n');
    await writeFile(join(context, 'README'), 'readme\n');
    engine = await Engine.open({root: join(folder, 'store'), env: {}});
  });
  after(async () => {
    await engine.close();
    // A session cut short by a failed assertion may still be closing: its last files go with the retries.
    await rm(folder, {recursive: true, force: true, maxRetries: 10, retryDelay: 100});
  });

  /** Saves as editors do: a temporary file renamed over the old one. */
  async function save(path: string, content: string): Promise<void> {
    const target = join(context, path);
    await writeFile(`${target}.swp~`, content);
    await rename(`${target}.swp~`, target);
  }

  test('the status line, the build panel and the layers follow each save; a broken save keeps the image until it is fixed; w stops', async () => {
    const ui = render(<App engine={engine} cwd={folder} watch={{contextDir: 'context', tags: ['app:dev']}} columns={120} rows={32}/>);
    const frame = () => ui.lastFrame() ?? '';
    const see = (pattern: RegExp, what: string) => waitFor(() => (pattern.test(frame()) ? frame() : undefined), 30_000, `${what}; last frame:\n${frame()}`);
    try {
      let shown = await see(/rebuilt \d\d:\d\d:\d\d in \d+ m?s: watch started · watching 3 files/, 'the first build on the status line');
      assert.match(shown, /5 Build\s+done/);
      assert.match(shown, /built [0-9a-f]{12} in .*tagged app:dev/);
      const first = (await engine.listImages()).find(image => image.repoTags.includes('app:dev'))!.id;
      await see(new RegExp(`app\\s+dev\\s+${first.slice(7, 19)}`), 'the image listed');

      await save('src/main.txt', 'two\n');
      shown = await see(/rebuilt \d\d:\d\d:\d\d in \d+ m?s: src\/main\.txt changed/, 'the rebuild on the status line');
      assert.match(shown, /re-ran: src\/main\.txt changed/, 'the build panel shows why the step re-ran');
      const second = (await engine.listImages()).find(image => image.repoTags.includes('app:dev'))!.id;
      assert.notEqual(second, first);
      await see(new RegExp(`> app\\s+dev\\s+${second.slice(7, 19)}`), 'the new image selected');
      await see(/\sB\s+COPY src\/ \/app\/src\//, 'its layers, marked built now');

      await save('Dockerfile', 'FROM scratch\nCOPPY src/ /app/src/\n');
      shown = await see(new RegExp(`rebuild failed \\d\\d:\\d\\d:\\d\\d: Dockerfile changed · kept ${second.slice(7, 19)}`), 'the failure on the status line');
      assert.match(await see(/COPPY/, 'the excerpt'), /5 Build\s+failed/);
      assert.equal((await engine.listImages()).find(image => image.repoTags.includes('app:dev'))!.id, second, 'the tag stays on the good image');

      await save('Dockerfile', dockerfile);
      await see(/rebuilt \d\d:\d\d:\d\d in \d+ m?s: Dockerfile changed/, 'the recovery');

      ui.stdin.write('w');
      shown = await see(/stopped watching/, 'the end of the session');
      assert.doesNotMatch(shown.split('\n')[0] ?? '', /watching/, 'the status line is gone');
      await save('src/main.txt', 'three\n');
      await new Promise(resolve => setTimeout(resolve, 600));
      assert.equal((await engine.listImages()).find(image => image.repoTags.includes('app:dev'))!.id, second, 'nothing rebuilds once stopped');
    } finally {
      ui.unmount();
    }
  });
});
