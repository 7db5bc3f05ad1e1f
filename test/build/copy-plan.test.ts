import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, utimes, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {Context} from '../../engine/build/context.js';
import {contextTree, planCopy, type CopyPlan} from '../../engine/build/copy.js';
import {RootfsView} from '../../engine/build/rootfs-view.js';

const old = new Date('2020-05-06T07:08:09Z');

/** A context (old files, so their hashes are trusted) and an image root holding /app. */
async function withContext(run: (dirs: {context: string; lower: string; hashFile: string}) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-copy-plan-'));
  try {
    const context = join(dir, 'context');
    const lower = join(dir, 'lower');
    await mkdir(join(lower, 'app'), {recursive: true});
    for (let index = 0; index < 40; index++) {
      const folder = join(context, 'src', `m${index % 4}`);
      await mkdir(folder, {recursive: true});
      await writeFile(join(folder, `f${index}.js`), `file ${index}\n`.repeat(index + 1));
      await utimes(join(folder, `f${index}.js`), old, old);
    }
    await writeFile(join(context, 'src', 'app.js'), 'edit 0\n');
    await utimes(join(context, 'src', 'app.js'), old, old);
    await chmod(join(context, 'src', 'm1', 'f1.js'), 0o755);
    await symlink('m0/f0.js', join(context, 'src', 'link.js'));
    await run({context, lower, hashFile: join(dir, 'hashes.json')});
    assert.deepEqual((await readdir(lower, {recursive: true})).sort(), ['app'], 'planning writes nothing into the image root');
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}

interface Options {
  dest?: string;
  chmod?: number;
  owner?: {uid: number; gid: number};
}

function plan(context: Context, lower: string, options: Options = {}): Promise<CopyPlan> {
  return planCopy({
    add: false, sources: ['.'], heredocs: [], dest: options.dest ?? '.', workdir: '/app', chmod: options.chmod, owner: options.owner,
    tree: contextTree(context), target: new RootfsView([lower]), scratchDir: tmpdir(),
  });
}

/** Everything a plan decides, in a form deepEqual compares by value. */
function outcome(result: CopyPlan): unknown {
  return {checksum: result.checksum, files: result.files, identities: result.identities, entries: result.entries};
}

describe('COPY plans on a warm context', () => {
  test('after an edit and its invalidation a warm context plans exactly what a fresh one does', () =>
    withContext(async ({context: dir, lower, hashFile}) => {
      const context = new Context(dir, {hashFile});
      const before = await plan(context, lower);
      assert.deepEqual(outcome(await plan(context, lower)), outcome(before), 'an unchanged context plans the same');

      await writeFile(join(dir, 'src', 'app.js'), 'edit 1, longer\n');
      await utimes(join(dir, 'src', 'app.js'), old, old);
      context.invalidate(['src/app.js']);
      const after = await plan(context, lower);
      assert.notEqual(after.checksum, before.checksum, 'the edit changes the COPY checksum');
      assert.notEqual(after.files['src/app.js'], before.files['src/app.js']);
      assert.notEqual(after.identities['app/src/app.js'], before.identities['app/src/app.js']);
      assert.deepEqual(outcome(after), outcome(await plan(new Context(dir), lower)), 'same result as a fresh context');
      const unchanged = Object.keys(before.files).filter(path => path !== 'src/app.js');
      assert.equal(unchanged.length, 46);
      for (const path of unchanged) assert.equal(after.files[path], before.files[path], `${path} keeps its checksum`);
    }));

  test('a file rewritten in the same second with the same size and mtime is read again after invalidate', () =>
    withContext(async ({context: dir, lower, hashFile}) => {
      const path = join(dir, 'src', 'app.js');
      // A whole-millisecond mtime of now, so that it can be put back exactly.
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      await writeFile(path, 'aaaa\n');
      await utimes(path, now, now);
      const context = new Context(dir, {hashFile});
      const first = await plan(context, lower);
      const before = await stat(path);
      // Same length, same inode, mtime put back: only the "racy" rule (hashed within the mtime's tick) tells.
      await writeFile(path, 'bbbb\n');
      await utimes(path, now, now);
      const after = await stat(path);
      assert.deepEqual([after.ino, after.size, after.mtimeMs], [before.ino, before.size, before.mtimeMs]);
      context.invalidate(['src/app.js']);
      const hashed = context.filesHashed;
      const second = await plan(context, lower);
      assert.equal(context.filesHashed, hashed + 1, 'only the edited file is read');
      assert.notEqual(second.files['src/app.js'], first.files['src/app.js']);
      assert.deepEqual(outcome(second), outcome(await plan(new Context(dir), lower)));
    }));

  test('an unchanged warm context reads no file again and the saved hashes serve a new process', () =>
    withContext(async ({context: dir, lower, hashFile}) => {
      const context = new Context(dir, {hashFile});
      const first = await plan(context, lower);
      assert.equal(context.filesHashed, 41, "every file read once (not the symlink)");
      await context.saveHashes();
      context.invalidate(['src/m2/f2.js']);
      await plan(context, lower);
      assert.equal(context.filesHashed, 41, 'an invalidated but unchanged old file is not read');
      const restarted = new Context(dir, {hashFile});
      assert.deepEqual(outcome(await plan(restarted, lower)), outcome(first));
      assert.equal(restarted.filesHashed, 0);
    }));

  test('the same folder copied to other places, owners or modes gets its own results each time', () =>
    withContext(async ({context: dir, lower}) => {
      const context = new Context(dir);
      const variants: Options[] = [
        {}, {dest: '/elsewhere/'}, {chmod: 0o600}, {owner: {uid: 7, gid: 8}}, {owner: {uid: 7, gid: 9}}, {dest: '/x/', chmod: 0o640}, {},
      ];
      const seen = new Set<string>();
      for (const options of variants) {
        const warm = await plan(context, lower, options);
        assert.deepEqual(outcome(warm), outcome(await plan(new Context(dir), lower, options)), JSON.stringify(options));
        seen.add(warm.checksum);
      }
      assert.equal(seen.size, variants.length - 1, 'each variant but the repeated one has its own checksum');
    }));

  test('a new file and a removed one show in the next plan after their invalidation', () =>
    withContext(async ({context: dir, lower}) => {
      const context = new Context(dir);
      await plan(context, lower);
      await writeFile(join(dir, 'src', 'm3', 'new.js'), 'new\n');
      await rm(join(dir, 'src', 'm0', 'f4.js'));
      context.invalidate(['src/m3/new.js', 'src/m0/f4.js']);
      const after = await plan(context, lower);
      assert.ok('src/m3/new.js' in after.files);
      assert.ok(!('src/m0/f4.js' in after.files));
      assert.ok(after.entries.some(entry => entry.path === 'app/src/m3/new.js'));
      assert.ok(!after.entries.some(entry => entry.path === 'app/src/m0/f4.js'));
      assert.deepEqual(outcome(after), outcome(await plan(new Context(dir), lower)));
    }));
});
