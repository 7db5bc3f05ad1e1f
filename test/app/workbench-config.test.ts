import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, mkdir, readdir, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {readWorkbenchConfig, workbenchConfigPath} from '../../engine/workbench.js';
import {buildKeymap, resolveKey} from '../../source/app/keymap.js';

async function withConfigHome(run: (home: string) => Promise<void>): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'strata-config-'));
  try {
    await run(home);
  } finally {
    await rm(home, {recursive: true, force: true});
  }
}

describe('workbench config file', () => {
  test('keys remapped in $XDG_CONFIG_HOME/strata/config.json reach the keymap', async () => {
    await withConfigHome(async home => {
      await mkdir(join(home, 'strata'));
      await writeFile(join(home, 'strata', 'config.json'), JSON.stringify({keys: {global: {quit: 'Q'}, files: {sortBySize: ['o', 'ctrl+o']}}}));
      const result = await readWorkbenchConfig({XDG_CONFIG_HOME: home});
      assert.equal(result.path, join(home, 'strata', 'config.json'));
      assert.equal(result.error, undefined);
      const {keymap} = buildKeymap(result.config.keys);
      assert.equal(resolveKey(keymap, 'images', 'Q'), 'quit');
      assert.equal(resolveKey(keymap, 'files', 'ctrl+o'), 'sortBySize');
      assert.deepEqual(await readdir(join(home, 'strata')), ['config.json'], 'reading writes nothing');
    });
  });

  test('no config file means the default keys and no error', async () => {
    await withConfigHome(async home => {
      const result = await readWorkbenchConfig({XDG_CONFIG_HOME: home});
      assert.deepEqual(result.config, {});
      assert.equal(result.error, undefined);
      assert.deepEqual(await readdir(home), []);
    });
  });

  test('a broken config is reported, not thrown, so the workbench still opens', async () => {
    await withConfigHome(async home => {
      await mkdir(join(home, 'strata'));
      await writeFile(join(home, 'strata', 'config.json'), '{"keys": {"global": {"quit": 5}');
      const broken = await readWorkbenchConfig({XDG_CONFIG_HOME: home});
      assert.match(broken.error ?? '', /^read config .*config\.json: /);
      assert.deepEqual(broken.config, {});
      await writeFile(join(home, 'strata', 'config.json'), '{"keys": {"global": {"quit": 5, "help": "h"}}}');
      const wrongType = await readWorkbenchConfig({XDG_CONFIG_HOME: home});
      assert.match(wrongType.error ?? '', /"keys.global.quit" must be a key or a list of keys/);
      assert.deepEqual(wrongType.config.keys, {global: {help: 'h'}});
    });
  });

  test('without XDG_CONFIG_HOME the config lives under ~/.config', () => {
    assert.equal(workbenchConfigPath({HOME: '/home/u'}), '/home/u/.config/strata/config.json');
  });
});
