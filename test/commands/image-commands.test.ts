import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {readdir, readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {gzipSync} from 'node:zlib';
import {makeTar} from '../layer/helpers.js';
import {strata, tempRoot} from '../helpers/cli.js';

const rootfs = () =>
  makeTar([
    {name: 'bin/', type: 'dir', mode: 0o755},
    {name: 'bin/hello', content: '#!/bin/sh\necho hello\n', mode: 0o755},
    {name: 'etc/', type: 'dir', mode: 0o755},
    {name: 'etc/os-release', content: 'ID=strata-test\n'},
  ]);

async function fsckPasses(root: string) {
  const result = await strata(root, ['fsck']);
  assert.equal(result.code, 0, `fsck failed: ${result.stdout}${result.stderr}`);
}

describe('image commands', () => {
  let sandbox: Awaited<ReturnType<typeof tempRoot>>;
  let tarPath: string;
  let root: string;

  before(async () => {
    sandbox = await tempRoot();
    root = sandbox.root;
    tarPath = join(sandbox.base, 'rootfs.tar');
    await writeFile(tarPath, await rootfs());
    await writeFile(`${tarPath}.gz`, gzipSync(await rootfs()));
  });
  after(() => sandbox.cleanup());

  test('import turns a plain tar into a one-layer image and prints its ID', async () => {
    const result = await strata(root, ['import', tarPath, 'base:1', '-m', 'first import']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const history = await strata(root, ['history', 'base:1', '--format', '{{.Comment}}|{{.CreatedBy}}']);
    assert.equal(history.stdout, 'first import|\n');
    const inspect = JSON.parse((await strata(root, ['inspect', 'base:1'])).stdout);
    assert.equal(inspect.length, 1);
    assert.equal(inspect[0].Id, result.stdout.trim());
    assert.deepEqual(inspect[0].RepoTags, ['base:1']);
    assert.equal(inspect[0].RootFS.Layers.length, 1);
    assert.equal(inspect[0].Os, 'linux');
    await fsckPasses(root);
  });

  test('a gzip tar imports to the same layer as the plain one, stored uncompressed', async () => {
    const plain = JSON.parse((await strata(root, ['inspect', 'base:1'])).stdout)[0];
    const result = await strata(root, ['import', `${tarPath}.gz`, 'base:gz']);
    assert.equal(result.code, 0, result.stderr);
    const gz = JSON.parse((await strata(root, ['inspect', 'base:gz'])).stdout)[0];
    assert.deepEqual(gz.RootFS.Layers, plain.RootFS.Layers);
    assert.equal(gz.Size, plain.Size);
  });

  test('import from standard input with -', async () => {
    const result = await strata(root, ['import', '-', 'stdin:latest'], {stdin: await rootfs()});
    assert.equal(result.code, 0, result.stderr);
    assert.match((await strata(root, ['images', 'stdin'])).stdout, /^stdin\s+latest\s+[0-9a-f]{12}\s/m);
  });

  test('images prints docker columns, one row per tag', async () => {
    await strata(root, ['tag', 'base:1', 'other']);
    const result = await strata(root, ['images']);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    const id = JSON.parse((await strata(root, ['inspect', 'base:1'])).stdout)[0].Id.slice(7, 19);
    assert.ok(lines.some(line => new RegExp(`^base\\s+1\\s+${id}\\s+.+ ago\\s+\\d`).test(line)), result.stdout);
    assert.ok(lines.some(line => new RegExp(`^other\\s+latest\\s+${id}\\s`).test(line)), result.stdout);
  });

  test('images -q, --no-trunc, --format json and a template', async () => {
    const quiet = await strata(root, ['images', '-q', 'base']);
    assert.match(quiet.stdout, /^([0-9a-f]{12}\n)+$/);
    const full = await strata(root, ['images', '--no-trunc', '-q', 'base:1']);
    assert.match(full.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const json = await strata(root, ['images', '--format', 'json', 'base:1']);
    const object = JSON.parse(json.stdout);
    assert.equal(object.Repository, 'base');
    assert.equal(object.Tag, '1');
    assert.match(object.ID, /^[0-9a-f]{12}$/);
    assert.match(object.Size, /^\d+(\.\d+)?[kMG]?B$/);
    const template = await strata(root, ['images', '--format', '{{.Repository}}:{{.Tag}}', 'other']);
    assert.equal(template.stdout, 'other:latest\n');
    const table = await strata(root, ['images', '--format', 'table {{.Repository}}\t{{.Tag}}', 'other']);
    assert.match(table.stdout, /^REPOSITORY\s+TAG\nother\s+latest\n$/);
  });

  test('images filters by reference glob, dangling and label', async () => {
    const reference = await strata(root, ['images', '--filter', 'reference=ba*', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.deepEqual(reference.stdout.trim().split('\n').sort(), ['base:1', 'base:gz']);
    const dangling = await strata(root, ['images', '-f', 'dangling=true', '-q']);
    assert.equal(dangling.stdout, '');
    const bad = await strata(root, ['images', '-f', 'colour=blue']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, "Error: invalid filter 'colour'\n");
  });

  test('moving a tag leaves the old image dangling, shown as <none>', async () => {
    const first = (await strata(root, ['import', tarPath, 'moving:1', '-m', 'one'])).stdout.trim();
    const second = (await strata(root, ['import', tarPath, 'moving:1', '-m', 'two'])).stdout.trim();
    assert.notEqual(first, second);
    const dangling = await strata(root, ['images', '--filter', 'dangling=true', '--no-trunc', '--format', '{{.Repository}} {{.Tag}} {{.ID}}']);
    assert.equal(dangling.stdout, `<none> <none> ${first}\n`);
    const pruned = await strata(root, ['image', 'prune', '-f']);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, new RegExp(`deleted: ${first}`));
    assert.match(pruned.stdout, /Total reclaimed space: /);
    assert.equal((await strata(root, ['images', '-f', 'dangling=true', '-q'])).stdout, '');
    assert.equal((await strata(root, ['images', '-q', 'moving:1', '--no-trunc'])).stdout, `${second}\n`);
    await fsckPasses(root);
  });

  test('rmi of one of several tags only untags; the last tag deletes the image', async () => {
    const id = JSON.parse((await strata(root, ['inspect', 'other'])).stdout)[0].Id;
    const untag = await strata(root, ['rmi', 'other']);
    assert.equal(untag.stdout, 'Untagged: other:latest\n');
    assert.equal((await strata(root, ['inspect', 'base:1'])).code, 0);
    await strata(root, ['tag', 'base:1', 'again:1']);
    const byId = await strata(root, ['rmi', id.slice(7, 19)]);
    assert.equal(byId.code, 1);
    assert.match(byId.stderr, /unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories/);
    const forced = await strata(root, ['rmi', '-f', id.slice(7, 19)]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /^Untagged: base:1\nUntagged: again:1\nDeleted: sha256:/);
    assert.equal((await strata(root, ['inspect', 'base:1'])).code, 1);
    await fsckPasses(root);
  });

  test('history shows the image ID on the newest row, human and raw sizes', async () => {
    const result = await strata(root, ['history', 'base:gz']);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(lines[1], /^[0-9a-f]{12}\s+.+ ago\s+\d+(\.\d+)?[kM]?B\s+Imported from .*rootfs\.tar\.gz$/);
    const raw = await strata(root, ['history', '-H=false', '--format', '{{.Size}}', 'base:gz']);
    const size = JSON.parse((await strata(root, ['inspect', 'base:gz'])).stdout)[0].Size;
    assert.equal(raw.stdout, `${size}\n`);
  });

  test('inspect reports missing images after the found ones and exits 1', async () => {
    const result = await strata(root, ['inspect', 'base:gz', 'nothere']);
    assert.equal(result.code, 1);
    assert.equal(JSON.parse(result.stdout).length, 1);
    assert.equal(result.stderr, 'Error: No such image: nothere\n');
  });
});

describe('bad and hostile input gets one clear line, a non-zero exit and a store that fsck passes', () => {
  let sandbox: Awaited<ReturnType<typeof tempRoot>>;
  before(async () => {
    sandbox = await tempRoot();
    await writeFile(join(sandbox.base, 'ok.tar'), await rootfs());
    assert.equal((await strata(sandbox.root, ['import', join(sandbox.base, 'ok.tar'), 'keep:me'])).code, 0);
  });
  after(() => sandbox.cleanup());

  const cases: [string, () => Promise<string[]>, RegExp][] = [
    ['a missing archive', async () => ['import', join(sandbox.base, 'missing.tar')], /^Error: open .*missing\.tar: no such file\n$/],
    ['a file that is not a tar', async () => {
      await writeFile(join(sandbox.base, 'text.tar'), 'this is not a tar archive at all, just words\n'.repeat(30));
      return ['import', join(sandbox.base, 'text.tar')];
    }, /^Error: import .*text\.tar: .+\n$/],
    ['a truncated gzip', async () => {
      const gz = gzipSync(await rootfs());
      await writeFile(join(sandbox.base, 'cut.tar.gz'), gz.subarray(0, gz.length >> 1));
      return ['import', join(sandbox.base, 'cut.tar.gz')];
    }, /^Error: import .*cut\.tar\.gz: .+\n$/],
    ['a tar that climbs out with ..', async () => {
      await writeFile(join(sandbox.base, 'climb.tar'), await makeTar([{name: '../../etc/evil', content: 'x'}]));
      return ['import', join(sandbox.base, 'climb.tar'), 'evil:1'];
    }, /^Error: import .*climb\.tar: .*\.\.\/\.\.\/etc\/evil.*\n$/],
    ['an absolute path in a tar', async () => {
      await writeFile(join(sandbox.base, 'abs.tar'), await makeTar([{name: '/etc/passwd', content: 'x'}, {name: 'a/../../x', content: 'y'}]));
      return ['import', join(sandbox.base, 'abs.tar'), 'evil:2'];
    }, /^Error: import .*abs\.tar: .+\n$/],
    ['an invalid reference', async () => ['import', join(sandbox.base, 'ok.tar'), 'UPPER:case'], /^Error: invalid reference format: repository name must be lowercase\n$/],
    ['an unknown image for history', async () => ['history', 'ghost'], /^Error: No such image: ghost:latest\n$/],
    ['an unknown image for tag', async () => ['tag', 'ghost', 'x'], /^Error: No such image: ghost:latest\n$/],
    ['a bad tag target', async () => ['tag', 'keep:me', 'bad tag'], /^Error: invalid reference format.*\n$/],
    ['an unknown image for rmi', async () => ['rmi', 'ghost'], /^Error response from daemon: No such image: ghost:latest\n$/],
    ['a folder without a Dockerfile for dockerfile check', async () => ['dockerfile', 'check', sandbox.base], /^Error: read .*\/Dockerfile: no such file\n$/],
  ];
  for (const [name, args, expected] of cases) {
    test(`${name}`, async () => {
      const before = (await readFile(join(sandbox.root, 'index.json'), 'utf8'));
      const blobsBefore = (await readdir(join(sandbox.root, 'blobs', 'sha256'))).sort();
      const result = await strata(sandbox.root, await args());
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, expected);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, `more than one line: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'a stack trace was printed');
      assert.equal(await readFile(join(sandbox.root, 'index.json'), 'utf8'), before, 'the index changed');
      assert.deepEqual(await readdir(join(sandbox.root, 'tmp')), [], 'a temporary file was left behind');
      assert.deepEqual((await readdir(join(sandbox.root, 'blobs', 'sha256'))).sort(), blobsBefore, 'a refused input left a blob behind');
      await fsckPasses(sandbox.root);
      assert.equal((await strata(sandbox.root, ['images', '-q', 'keep:me'])).stdout.length, 13);
    });
  }
});
