import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, readdir, readFile, rename, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {BuildCache, flushCacheWrites, pruneCache} from '../../engine/build/cache.js';
import type {LayerMapEntry} from '../../engine/layer/index.js';

async function withRoot(run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'strata-cache-memo-'));
  try {
    await run(root);
    const left = (await readdir(root, {recursive: true})).filter(name => name.endsWith('.tmp'));
    assert.deepEqual(left, [], 'no temporary file is left behind');
  } finally {
    await rm(root, {recursive: true, force: true});
  }
}

const key = 'sha256:' + 'a'.repeat(64);
const members = (sig: string): LayerMapEntry[] => [
  {path: 'app', sig: 'dir|493|0|0|0||||0|0', offset: 0, length: 512},
  {path: 'app/x.js', sig, offset: 512, length: 1024},
];
const companion = (root: string, suffix: string) => join(root, 'cache', 'records', 'a'.repeat(64) + suffix);

describe('build cache companions in memory', () => {
  test('a map is served only for the layer it was written for, from memory as from disk', () =>
    withRoot(async root => {
      const cache = new BuildCache(root);
      await cache.putRecordMap(key, 'sha256:one', members('file|420|0|0|0||3|first'));
      assert.deepEqual(await cache.getRecordMap(key, 'sha256:one'), members('file|420|0|0|0||3|first'));
      assert.equal(await cache.getRecordMap(key, 'sha256:two'), undefined, 'another layer gets no map');

      await cache.putRecordMap(key, 'sha256:two', members('file|420|0|0|0||3|second'));
      assert.equal(await cache.getRecordMap(key, 'sha256:one'), undefined, 'the rewritten record no longer serves the first layer');
      assert.deepEqual(await cache.getRecordMap(key, 'sha256:two'), members('file|420|0|0|0||3|second'));
      // Another cache object of the same store (the next build) sees the same.
      const next = new BuildCache(root);
      assert.equal(await next.getRecordMap(key, 'sha256:one'), undefined);
      assert.deepEqual(await next.getRecordMap(key, 'sha256:two'), members('file|420|0|0|0||3|second'));
      const onDisk = JSON.parse(await readFile(companion(root, '.map.json'), 'utf8'));
      assert.deepEqual(onDisk, {format: 1, diffId: 'sha256:two', members: members('file|420|0|0|0||3|second')}, 'the file holds what was written last');
    }));

  test('a companion replaced or rewritten by another process is read again', () =>
    withRoot(async root => {
      const cache = new BuildCache(root);
      await cache.putRecordFiles(key, {'app/x.js': 'mine'});
      assert.deepEqual(await cache.getRecordFiles(key), {'app/x.js': 'mine'});

      // Another process renames its own file over it (as every writer does).
      const other = companion(root, '.files.json') + '.other.tmp';
      await writeFile(other, JSON.stringify({'app/x.js': 'theirs'}));
      await rename(other, companion(root, '.files.json'));
      assert.deepEqual(await cache.getRecordFiles(key), {'app/x.js': 'theirs'});

      // Rewritten in place, same length.
      await writeFile(companion(root, '.files.json'), JSON.stringify({'app/x.js': 'THEIRS'}));
      assert.deepEqual(await cache.getRecordFiles(key), {'app/x.js': 'THEIRS'});

      await cache.putRecordMap(key, 'sha256:one', members('mine'));
      const stored = companion(root, '.map.json') + '.other.tmp';
      await writeFile(stored, JSON.stringify({format: 1, diffId: 'sha256:one', members: members('theirs')}));
      await rename(stored, companion(root, '.map.json'));
      assert.deepEqual(await cache.getRecordMap(key, 'sha256:one'), members('theirs'));
    }));

  test('a removed, damaged or pruned companion is a miss, and writing after a prune works', () =>
    withRoot(async root => {
      const cache = new BuildCache(root);
      await cache.putRecordFiles(key, {'app/x.js': 'one'});
      await cache.putRecordMap(key, 'sha256:one', members('one'));
      await rm(companion(root, '.files.json'));
      assert.equal(await cache.getRecordFiles(key), undefined);
      await writeFile(companion(root, '.map.json'), '{"format":1,');
      assert.equal(await cache.getRecordMap(key, 'sha256:one'), undefined, 'damaged: a miss, not an error');

      await cache.putRecordFiles(key, {'app/x.js': 'two'});
      await pruneCache(root);
      assert.equal(await cache.getRecordFiles(key), undefined, 'pruned: forgotten');
      await cache.putRecordFiles(key, {'app/x.js': 'three'});
      assert.deepEqual(JSON.parse(await readFile(companion(root, '.files.json'), 'utf8')), {'app/x.js': 'three'});
      assert.deepEqual(await new BuildCache(root).getRecordFiles(key), {'app/x.js': 'three'});
    }));

  test('a deferring cache serves what it holds back at once, in the whole process, and writes it on flush', () =>
    withRoot(async root => {
      const deferring = new BuildCache(root, {deferWrites: true});
      await deferring.putRecordFiles(key, {'app/x.js': 'held'});
      await deferring.putRecordMap(key, 'sha256:one', members('held'));
      await deferring.putStepInputs('step', {key, instruction: 'COPY . .', parent: '', first: true, args: {}, files: {'app/x.js': 'held'}});
      await assert.rejects(readFile(companion(root, '.files.json')), {code: 'ENOENT'}, 'nothing written yet');
      const other = new BuildCache(root);
      assert.deepEqual(await other.getRecordFiles(key), {'app/x.js': 'held'}, 'another cache of this process sees it');
      assert.deepEqual(await other.getRecordMap(key, 'sha256:one'), members('held'));
      assert.equal((await other.getStepInputs('step'))?.files?.['app/x.js'], 'held');
      flushCacheWrites();
      assert.deepEqual(JSON.parse(await readFile(companion(root, '.files.json'), 'utf8')), {'app/x.js': 'held'});
      assert.deepEqual(JSON.parse(await readFile(companion(root, '.map.json'), 'utf8')).members, members('held'));
      assert.deepEqual(await new BuildCache(root).getRecordFiles(key), {'app/x.js': 'held'});
      // Held back again, then pruned before the flush: gone for good.
      await deferring.putRecordFiles(key, {'app/x.js': 'later'});
      assert.deepEqual(await other.getRecordFiles(key), {'app/x.js': 'later'}, 'the newest write wins over the file');
      await pruneCache(root);
      assert.equal(await other.getRecordFiles(key), undefined, 'a prune drops what was held back');
      flushCacheWrites();
      await assert.rejects(readFile(companion(root, '.files.json')), {code: 'ENOENT'}, 'and a flush does not bring it back');
    }));

  test('identities keep a file named __proto__ as an ordinary entry through a round trip', () =>
    withRoot(async root => {
      const cache = new BuildCache(root);
      const files = Object.fromEntries([['__proto__', 'odd'], ['app/x.js', 'x']]) as Record<string, string>;
      await cache.putRecordFiles(key, files);
      const back = await new BuildCache(root).getRecordFiles(key);
      assert.deepEqual(Object.keys(back!), ['__proto__', 'app/x.js']);
      assert.equal(Object.getPrototypeOf(back), Object.prototype);
    }));
});
