import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {isEditorTemporary} from '../../engine/watch/index.js';
import {WatchRules} from '../../engine/watch/rules.js';
import {describeChanges} from '../../engine/watch/index.js';

describe('watch rules', () => {
  test('editor temporary files are recognised and ordinary names are not', () => {
    for (const name of ['src/.app.js.swp', '.main.swo', 'src/4913', 'notes.txt~', 'src/.#app.js', 'app.js___jb_tmp___', '#draft#', '.x.sublime-tmp.tmp', '.a.subl123.tmp']) {
      assert.equal(isEditorTemporary(name), true, name);
    }
    for (const name of ['src/app.js', 'swp', 'src/app.swp.js', '4913.txt', 'a#b', 'README.md']) assert.equal(isEditorTemporary(name), false, name);
  });

  test('excluded folders are not walked unless an exception reaches inside, and control files are always watched', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-watch-rules-'));
    try {
      const context = join(dir, 'ctx');
      await mkdir(context);
      await writeFile(join(context, '.dockerignore'), 'node_modules\nvendor\n!vendor/keep\n*.log\nDockerfile\n.dockerignore\n');
      const rules = new WatchRules({contextDir: context, dockerfilePath: join(context, 'Dockerfile'), skipDirs: [join(context, 'store')]});
      const loaded = await rules.load();
      assert.equal(loaded.file, join(context, '.dockerignore'));
      const dirStats = {isDirectory: () => true} as never;
      const fileStats = {isDirectory: () => false} as never;
      assert.equal(rules.isIgnoredPath(join(context, 'node_modules'), dirStats), true);
      assert.equal(rules.isIgnoredPath(join(context, 'vendor'), dirStats), false, 'an exception reaches into vendor');
      assert.equal(rules.isIgnoredPath(join(context, 'vendor/other.js'), fileStats), true);
      assert.equal(rules.isIgnoredPath(join(context, 'vendor/keep'), fileStats), false);
      assert.equal(rules.isIgnoredPath(join(context, 'debug.log'), fileStats), true);
      assert.equal(rules.isIgnoredPath(join(context, 'src/app.js'), fileStats), false);
      assert.equal(rules.isIgnoredPath(join(context, 'Dockerfile'), fileStats), false, 'the Dockerfile re-plans even when excluded');
      assert.equal(rules.isIgnoredPath(join(context, '.dockerignore'), fileStats), false);
      assert.equal(rules.isIgnoredPath(join(context, 'store'), dirStats), true, 'the store inside the context is never watched');
      assert.equal(rules.isIgnoredPath(join(dir, 'elsewhere.txt'), fileStats), true);
      assert.equal(rules.excludes('vendor/other.js', false), true);
      assert.equal(rules.excludes('vendor/keep', false), false);
      // A Dockerfile in an excluded folder is still watched; its neighbours are not.
      const nested = new WatchRules({contextDir: context, dockerfilePath: join(context, 'node_modules', 'build', 'Dockerfile')});
      await nested.load();
      assert.equal(nested.isIgnoredPath(join(context, 'node_modules'), dirStats), false);
      assert.equal(nested.isIgnoredPath(join(context, 'node_modules', 'build'), dirStats), false);
      assert.equal(nested.isIgnoredPath(join(context, 'node_modules', 'build', 'Dockerfile'), fileStats), false);
      assert.equal(nested.isIgnoredPath(join(context, 'node_modules', 'left-pad'), dirStats), true);
      assert.equal(nested.isIgnoredPath(join(context, 'node_modules', 'build', 'other.js'), fileStats), true);
      // A Dockerfile-specific ignore file wins, as the builder reads it.
      await writeFile(join(context, 'Dockerfile.dockerignore'), 'src\n');
      assert.equal((await rules.load()).file, join(context, 'Dockerfile.dockerignore'));
      assert.equal(rules.isIgnoredPath(join(context, 'src'), dirStats), true);
      assert.equal(rules.isIgnoredPath(join(context, 'node_modules'), dirStats), false);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  });

  test('change reasons name one path, or count several', () => {
    assert.equal(describeChanges([{display: 'src/a.js', how: 'changed'}]), 'src/a.js changed');
    assert.equal(describeChanges([{display: 'a', how: 'added'}, {display: 'b', how: 'added'}]), '2 paths added (a, b)');
    assert.equal(describeChanges(['a', 'b', 'c', 'd'].map(display => ({display, how: 'removed' as const}))), '4 paths removed (a, b, c, ...)');
    assert.equal(describeChanges([{display: 'a', how: 'added'}, {display: 'b', how: 'removed'}]), '2 paths changed (a, b)');
  });
});
