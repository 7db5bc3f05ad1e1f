import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, type ChildProcess} from 'node:child_process';
import {readdir, readFile} from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import {dirname, join} from 'node:path';
import {Store} from '../../engine/store/index.js';
import {makeImage, makeTempStore} from './helpers.js';

const workers = join(dirname(fileURLToPath(import.meta.url)), 'workers');
const lockStaleMs = 2000;

function startWorker(script: string, args: string[]): {child: ChildProcess; lines: string[]; waitFor(line: string): Promise<void>; exit: Promise<number | null>} {
  const child = spawn(process.execPath, ['--import', 'tsx', join(workers, script), ...args], {stdio: ['ignore', 'pipe', 'pipe']});
  const lines: string[] = [];
  let stderr = '';
  const waiters: {line: string; resolve: () => void}[] = [];
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    for (const line of text.split('\n').filter(Boolean)) {
      lines.push(line);
      for (const waiter of waiters.filter(candidate => candidate.line === line)) waiter.resolve();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exit = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
  return {
    child,
    lines,
    exit: exit.then(code => {
      if (code !== 0 && code !== null) throw new Error(`worker ${script} exited ${code}: ${stderr}`);
      return code;
    }),
    waitFor: line => new Promise<void>((resolve, reject) => {
      if (lines.includes(line)) return resolve();
      waiters.push({line, resolve});
      exit.then(() => (lines.includes(line) ? resolve() : reject(new Error(`worker ${script} ended before "${line}": ${stderr}`))));
    }),
  };
}

describe('the store across processes', () => {
  test('concurrent tagging from several processes loses no tag', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      const base = await makeImage(store, {tags: ['base']});
      const processes = 4;
      const perProcess = 25;
      const running = Array.from({length: processes}, (_, n) => startWorker('tag-loop.ts', [store.root, `w${n}`, String(perProcess), String(lockStaleMs)]));
      // Meanwhile a reader keeps reading index.json without the lock: it must always see a whole index.
      let finished = false;
      let reads = 0;
      const reader = (async () => {
        while (!finished) {
          const index = JSON.parse(await readFile(store.paths.index, 'utf8'));
          assert.ok(Array.isArray(index.manifests));
          reads++;
          await new Promise(resolve => setTimeout(resolve, 2));
        }
      })();
      await Promise.all(running.map(worker => worker.exit)).finally(() => (finished = true));
      await reader;
      assert.ok(reads > 0);
      const tags = (await store.resolveImage('base')).tags;
      assert.equal(tags.length, 1 + processes * perProcess);
      for (let n = 0; n < processes; n++) {
        for (let i = 0; i < perProcess; i++) assert.ok(tags.includes(`w${n}:${i}`), `w${n}:${i}`);
      }
      const index = JSON.parse(await readFile(store.paths.index, 'utf8'));
      assert.equal(index.manifests.length, 1 + processes * perProcess, 'one entry per tag, no duplicates');
      assert.deepEqual(await readdir(store.paths.tmp), [], 'no index temporaries left behind');
      assert.deepEqual((await store.listImages()).map(image => image.id), [base.id]);
      assert.deepEqual(await store.fsck(), []);
    } finally {
      await cleanup();
    }
  });

  test('a process killed while streaming a blob leaves no partial blob and fsck passes', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await makeImage(store, {tags: ['before']});
      const blobsBefore = await store.content.listBlobs();
      const worker = startWorker('slow-blob.ts', [store.root]);
      await worker.waitFor('writing');
      await new Promise(resolve => setTimeout(resolve, 50));
      worker.child.kill('SIGKILL');
      await worker.exit;
      assert.deepEqual(await store.content.listBlobs(), blobsBefore, 'no blob appeared');
      const leftovers = await readdir(store.paths.tmp);
      assert.equal(leftovers.length, 1, 'the interrupted write stays in tmp/');
      assert.deepEqual(await store.fsck(), []);
      assert.equal((await store.resolveImage('before')).tags[0], 'before:latest');
      const result = await store.gc({tmpMaxAgeMs: 0});
      assert.deepEqual(result.removedTemporary, leftovers);
      assert.deepEqual(result.removed, []);
      assert.deepEqual(await readdir(store.paths.tmp), []);
    } finally {
      await cleanup();
    }
  });

  test('a process killed while tagging leaves a readable index and its lock is taken over', async () => {
    const {store, cleanup} = await makeTempStore();
    try {
      await makeImage(store, {tags: ['base']});
      const worker = startWorker('tag-loop.ts', [store.root, 'killed', '100000', String(lockStaleMs)]);
      await worker.waitFor('started');
      await new Promise(resolve => setTimeout(resolve, 150));
      worker.child.kill('SIGKILL');
      await worker.exit;
      const tags = (await store.resolveImage('base')).tags;
      assert.ok(tags.length >= 2, 'tags made before the kill are there');
      assert.deepEqual(await store.fsck(), []);
      // Whether or not the worker died holding the lock, a new writer gets it (after the stale time at most).
      const reopened = await Store.open(store.root, {lockStaleMs});
      const started = Date.now();
      await reopened.tag('base', 'after:kill');
      assert.ok(Date.now() - started < lockStaleMs * 4, 'lock taken over within the stale time');
      assert.ok((await reopened.resolveImage('base')).tags.includes('after:kill'));
      assert.deepEqual(await reopened.fsck(), []);
    } finally {
      await cleanup();
    }
  });
});
