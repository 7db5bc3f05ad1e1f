import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import {lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {spawnSync} from 'node:child_process';
import {join} from 'node:path';
import {chainOf, startSeed, type SeedReuse} from '../../engine/build/snapshot-seed.js';
import type {LayerEntry} from '../../engine/layer/index.js';
import {Snapshots} from '../../engine/snapshot/index.js';
import {placingSnapshot} from '../../engine/snapshot/snapshots.js';
import {Store} from '../../engine/store/index.js';
import {putLayer} from '../runtime/fixtures.js';

const isRoot = process.getuid?.() === 0;
const time = (seconds: number) => new Date(1_700_000_000_000 + seconds * 1000);

function dir(path: string, mode = 0o755, seconds = 1, uid = 0, gid = 0): LayerEntry {
  return {path, type: 'dir', mode, uid, gid, mtime: time(seconds)};
}
function file(path: string, content: string, mode = 0o644, seconds = 2, uid = 0, gid = 0): LayerEntry {
  return {path, type: 'file', mode, uid, gid, content: Buffer.from(content), size: Buffer.byteLength(content), mtime: time(seconds)};
}
function symlink(path: string, linkname: string, seconds = 3): LayerEntry {
  return {path, type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname, mtime: time(seconds)};
}

/** Identities as CopyPlan makes them: content checksum, mode, owner and mtime of every file entry. */
function identitiesOf(entries: readonly LayerEntry[]): Record<string, string> {
  const identities: Record<string, string> = {};
  for (const entry of entries) {
    if (entry.type !== 'file') continue;
    const checksum = createHash('sha256').update(entry.content ?? '').digest('hex');
    identities[entry.path] = `${checksum}|${entry.mode.toString(8)}|${entry.uid}:${entry.gid}|${entry.mtime?.getTime() ?? 0}`;
  }
  return identities;
}

interface Member {
  readonly line: string;
  readonly ino: number;
  readonly nlink: number;
}

/**
 * Every path under `root` with its type, mode, owner, mtime and content or link target (the root folder's
 * mtime left out: it is when the folder was made), plus its inode and link count.
 */
async function members(root: string): Promise<Map<string, Member>> {
  const found = new Map<string, Member>();
  async function walk(relative: string): Promise<void> {
    const path = relative === '' ? root : join(root, relative);
    const stats = await lstat(path);
    const type = stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : stats.isFile() ? 'file' : 'other';
    const detail = stats.isSymbolicLink()
      ? `-> ${await readlink(path)}`
      : stats.isFile()
        ? createHash('sha256').update(await readFile(path)).digest('hex')
        : '';
    const mtime = relative === '' ? '' : String(stats.mtimeMs);
    found.set(relative || '.', {line: [type, (stats.mode & 0o7777).toString(8), `${stats.uid}:${stats.gid}`, mtime, detail].join(' '), ino: stats.ino, nlink: stats.nlink});
    if (stats.isDirectory()) for (const name of await readdir(path)) await walk(relative === '' ? name : `${relative}/${name}`);
  }
  await walk('');
  return found;
}

function lines(tree: Map<string, Member>): string[] {
  return [...tree].map(([path, member]) => `${path}: ${member.line}`).sort();
}

describe('seeding a rebuilt COPY snapshot from the earlier one', {skip: isRoot ? false : 'seeding snapshots needs root'}, () => {
  let scratch: string;
  let stores = 0;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'strata-seed-'));
  });
  after(async () => {
    await rm(scratch, {recursive: true, force: true});
  });

  /** A fresh store: the same layers in two tests must not find each other's snapshots. */
  async function freshStore(): Promise<{store: Store; snapshots: Snapshots}> {
    const store = await Store.open(join(scratch, `store-${++stores}`));
    return {store, snapshots: new Snapshots(store)};
  }

  /** The snapshot of a one-layer image made of `entries`, extracted by Snapshots.ensure in `into`. */
  async function extracted(into: {store: Store; snapshots: Snapshots}, entries: LayerEntry[]): Promise<string> {
    const diffId = await putLayer(into.store, entries);
    const [folder] = await into.snapshots.ensure([diffId]);
    return folder!;
  }

  /**
   * Seed the snapshot of `now` from the extracted snapshot of `earlier`, as a rebuild does, and check that it
   * equals a fresh extraction of `now`, that unchanged files are links to the earlier snapshot's and changed
   * ones are not, and that the earlier snapshot kept everything but the link counts of the linked files.
   */
  async function rebuild(earlier: LayerEntry[], now: LayerEntry[], options: {expectLinked: string[]; expectView: boolean; earlierDir?: string}): Promise<string> {
    const fresh = await members(await extracted(await freshStore(), now));
    const {store, snapshots} = await freshStore();
    const earlierDir = options.earlierDir ?? (await extracted({store, snapshots}, earlier));
    const before = await members(earlierDir);
    const reuse: SeedReuse = {dir: earlierDir, previous: identitiesOf(earlier), current: identitiesOf(now)};
    const seed = await startSeed(snapshots, now, reuse);
    assert.ok(seed, 'the change set can be seeded');
    const lowers = await seed.view;
    assert.equal(lowers !== undefined, options.expectView, 'a view is offered where the entries keep every earlier name');
    if (lowers) {
      assert.equal(lowers[0], earlierDir);
      const shown = await overlaid(lowers);
      if (shown) assert.deepEqual(lines(shown), lines(fresh), 'the view shows what a fresh extraction holds');
    }
    const diffId = await putLayer(store, now);
    assert.equal(await seed.finish(chainOf([], diffId)), true);
    const seeded = snapshots.pathOf(chainOf([], diffId).chainId);

    const got = await members(seeded);
    assert.deepEqual(lines(got), lines(fresh));
    const linked = [...got].filter(([path, member]) => member.line.startsWith('file ') && before.get(path)?.ino === member.ino).map(([path]) => path);
    assert.deepEqual(linked.sort(), options.expectLinked.map(path => path).sort());

    const after = await members(earlierDir);
    assert.deepEqual(lines(after), lines(before), 'the earlier snapshot is unchanged');
    for (const [path, member] of before) {
      const extra = options.expectLinked.includes(path) ? 1 : 0;
      assert.equal(after.get(path)?.nlink, member.nlink + extra, `link count of ${path}`);
      assert.equal(after.get(path)?.ino, member.ino);
    }
    const leftovers = (await readdir(snapshots.root)).filter(name => name.startsWith('.tmp'));
    assert.deepEqual(leftovers, [], 'no temporary folder is left');
    return seeded;
  }

  /** What an overlay of `lowers` (lowest first) shows; undefined where overlay cannot be mounted here. */
  async function overlaid(lowers: readonly string[]): Promise<Map<string, Member> | undefined> {
    const target = await mkdtemp(join(scratch, 'mount-'));
    const mounted = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...lowers].reverse().join(':')}`, target], {encoding: 'utf8'});
    if (mounted.status !== 0) {
      console.log(`# overlay view not compared: mount failed: ${mounted.stderr.trim()}`);
      return undefined;
    }
    try {
      return await members(target);
    } finally {
      spawnSync('umount', [target]);
    }
  }

  const base = (): LayerEntry[] => [
    dir('app'),
    dir('app/src', 0o755, 5),
    file('app/src/main.js', 'main 1'),
    file('app/src/util.js', 'util 1'),
    file('app/readme.md', 'readme'),
    symlink('app/current', 'src/main.js'),
  ];
  const replace = (entries: LayerEntry[], path: string, by?: LayerEntry): LayerEntry[] =>
    entries.flatMap(entry => (entry.path === path ? (by ? [by] : []) : [entry]));

  test('a modified file is written afresh and the unchanged ones are links to the earlier snapshot', async () => {
    await rebuild(base(), replace(base(), 'app/src/main.js', file('app/src/main.js', 'main 2', 0o644, 9)), {
      expectView: true, expectLinked: ['app/src/util.js', 'app/readme.md'],
    });
  });

  test('an added file appears and its folder gets the entry times', async () => {
    await rebuild(base(), [...base(), file('app/src/added.js', 'new', 0o600, 7, 1000, 1000)], {
      expectView: true, expectLinked: ['app/src/main.js', 'app/src/util.js', 'app/readme.md'],
    });
  });

  test('a removed file is not in the seeded snapshot', async () => {
    await rebuild(base(), replace(base(), 'app/src/util.js'), {expectView: false, expectLinked: ['app/src/main.js', 'app/readme.md']});
  });

  test('a file replaced by a folder and back is a file again with its own content', async () => {
    const asFolder = [...replace(base(), 'app/readme.md', dir('app/readme.md', 0o700, 4)), file('app/readme.md/inner.txt', 'inner')];
    const seeded = await rebuild(base(), asFolder, {expectView: true, expectLinked: ['app/src/main.js', 'app/src/util.js']});
    // Back again, from the seeded snapshot as the earlier one: inner.txt is gone, so no view.
    await rebuild(asFolder, base(), {expectView: false, expectLinked: ['app/src/main.js', 'app/src/util.js'], earlierDir: seeded});
  });

  test('a retargeted symlink points at its new target', async () => {
    await rebuild(base(), replace(base(), 'app/current', symlink('app/current', 'src/util.js', 8)), {
      expectView: true, expectLinked: ['app/src/main.js', 'app/src/util.js', 'app/readme.md'],
    });
  });

  test('a chmod-only change gets the new mode, setuid kept, without touching the earlier file', async () => {
    await rebuild(base(), replace(base(), 'app/src/main.js', file('app/src/main.js', 'main 1', 0o4755)), {
      expectView: true, expectLinked: ['app/src/util.js', 'app/readme.md'],
    });
  });

  test('a folder whose mode and owner changed gets the new ones', async () => {
    await rebuild(base(), replace(base(), 'app/src', dir('app/src', 0o750, 6, 1000, 1000)), {
      expectView: true, expectLinked: ['app/src/main.js', 'app/src/util.js', 'app/readme.md'],
    });
  });

  test('a file in a new nested folder is made with its folders', async () => {
    await rebuild(base(), [...base(), dir('app/lib', 0o755, 3), dir('app/lib/deep', 0o711, 4), file('app/lib/deep/x.js', 'x')], {
      expectView: true, expectLinked: ['app/src/main.js', 'app/src/util.js', 'app/readme.md'],
    });
  });

  test('files copied from host paths, as COPY gives them, are copied where changed and linked where not', async () => {
    const host = await mkdtemp(join(scratch, 'host-'));
    const fromHost = async (path: string, content: string, seconds: number): Promise<LayerEntry> => {
      const source = join(host, path.replaceAll('/', '_') + `-${seconds}`);
      await writeFile(source, content);
      return {path, type: 'file', mode: 0o640, uid: 0, gid: 0, size: Buffer.byteLength(content), sourcePath: source, mtime: time(seconds)};
    };
    const earlier = [dir('srv'), await fromHost('srv/a.txt', 'a', 1), await fromHost('srv/b.txt', 'b', 1)];
    const now = [dir('srv'), earlier[1]!, await fromHost('srv/b.txt', 'b changed', 2), await fromHost('srv/c.txt', 'c', 2)];
    const sources = await Promise.all(now.filter(entry => entry.sourcePath).map(entry => readFile(entry.sourcePath!, 'utf8')));
    await rebuild(earlier, now, {expectView: true, expectLinked: ['srv/a.txt']});
    assert.deepEqual(await Promise.all(now.filter(entry => entry.sourcePath).map(entry => readFile(entry.sourcePath!, 'utf8'))), sources, 'sources unchanged');
  });

  test('with a view, the links wait for finish; finish or abandon asked before the view is made still settle', async () => {
    const {store, snapshots} = await freshStore();
    const earlierDir = await extracted({store, snapshots}, base());
    const now = replace(base(), 'app/src/main.js', file('app/src/main.js', 'main 2', 0o644, 9));
    const reuse: SeedReuse = {dir: earlierDir, previous: identitiesOf(base()), current: identitiesOf(now)};
    const diffId = await putLayer(store, now);
    const layer = chainOf([], diffId);
    const temporaries = async () => (await readdir(snapshots.root)).filter(name => name.startsWith('.tmp'));

    const waiting = await startSeed(snapshots, now, reuse);
    assert.ok(waiting?.view && waiting.ready);
    assert.ok(await waiting.view, 'a view is offered');
    const [folder] = (await temporaries()).filter(name => !name.endsWith('-view'));
    assert.ok(folder);
    // The seeding thread answers in order: once this later job is done, an eager seed would have linked.
    const later = await startSeed(snapshots, now, reuse);
    await later!.abandon();
    assert.deepEqual(await readdir(join(snapshots.root, folder, 'diff')), [], 'no link is made before finish');
    let settled = false;
    void waiting.ready.then(() => (settled = true));
    await new Promise(resolve => setTimeout(resolve, 50));
    assert.equal(settled, false, 'the linked folder is not ready while the links wait');
    assert.equal(await waiting.finish(layer), true);
    assert.equal(settled, true);
    assert.deepEqual(lines(await members(snapshots.pathOf(layer.chainId))), lines(await members(await extracted(await freshStore(), now))));

    // Asked at once, before the thread has said whether it made a view.
    await snapshots.remove(layer.chainId);
    const eager = await startSeed(snapshots, now, reuse);
    assert.equal(await eager!.finish(layer), true, 'finish asked before the view is made completes');
    assert.deepEqual(lines(await members(snapshots.pathOf(layer.chainId))), lines(await members(await extracted(await freshStore(), now))));
    const dropped = await startSeed(snapshots, now, reuse);
    await dropped!.abandon();
    assert.deepEqual(await temporaries(), [], 'nothing is left of the abandoned seeds');
  });

  test('ensure waits for a snapshot this process is still placing instead of extracting it', async () => {
    const {store, snapshots} = await freshStore();
    // A layer whose blob is not in the store: extracting it would fail.
    const diffId = `sha256:${createHash('sha256').update('never stored').digest('hex')}`;
    const dir = snapshots.pathOf(chainOf([], diffId).chainId);
    let place!: () => void;
    placingSnapshot(dir, new Promise<void>(resolve => (place = resolve)).then(async () => {
      await mkdir(dir, {recursive: true});
      await writeFile(join(dir, 'placed.txt'), 'by the seed');
    }));
    const ensured = snapshots.ensure([diffId]);
    await new Promise(resolve => setTimeout(resolve, 20));
    place();
    assert.deepEqual(await ensured, [dir]);
    assert.equal(await readFile(join(dir, 'placed.txt'), 'utf8'), 'by the seed');
    // One nobody places is extracted: here its blob is missing, which is an error (not a crash), leaving nothing.
    await assert.rejects(new Snapshots(store).ensure([`sha256:${'0'.repeat(64)}`]), /read blob sha256:0+: not found/);
    assert.deepEqual((await readdir(snapshots.root)).filter(name => name.startsWith('.tmp')), []);
  });

  test('a file identical by identity but missing from the earlier snapshot drops the seed, leaving nothing', async () => {
    const {store, snapshots} = await freshStore();
    const earlierDir = await extracted({store, snapshots}, base());
    const before = await members(earlierDir);
    const now = [...base(), file('app/ghost.js', 'ghost')];
    // The earlier build claims a file its snapshot does not hold.
    const reuse: SeedReuse = {dir: earlierDir, previous: identitiesOf(now), current: identitiesOf(now)};
    const seed = await startSeed(snapshots, now, reuse);
    assert.ok(seed);
    assert.equal(await seed.view, undefined, 'no view shows the earlier snapshot without the file');
    const diffId = await putLayer(store, now);
    assert.equal(await seed.finish(chainOf([], diffId)), false);
    await assert.rejects(lstat(snapshots.pathOf(chainOf([], diffId).chainId)), {code: 'ENOENT'});
    assert.deepEqual((await readdir(snapshots.root)).filter(name => name.startsWith('.tmp')), []);
    assert.deepEqual(lines(await members(earlierDir)), lines(before));
  });
});
