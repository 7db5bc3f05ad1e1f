import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {once} from 'node:events';
import {readFile, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import {makeTar} from '../layer/helpers.js';
import {spawnStrata, strata, tempRoot} from '../helpers/cli.js';

describe('store integrity through the command line', () => {
  let sandbox: Awaited<ReturnType<typeof tempRoot>>;
  before(async () => {
    sandbox = await tempRoot();
  });
  after(() => sandbox.cleanup());

  test('a corrupted blob makes fsck exit non-zero and name it', async () => {
    const root = join(sandbox.base, 'corrupt');
    await writeFile(join(sandbox.base, 'small.tar'), await makeTar([{name: 'a.txt', content: 'hello\n'}]));
    assert.equal((await strata(root, ['import', join(sandbox.base, 'small.tar'), 'victim:1'])).code, 0);
    const layer = JSON.parse((await strata(root, ['inspect', 'victim:1'])).stdout)[0].RootFS.Layers[0] as string;
    const path = join(root, 'blobs', 'sha256', layer.slice(7));
    const bytes = await readFile(path);
    bytes[600] ^= 0xff;
    await writeFile(path, bytes);
    const result = await strata(root, ['fsck']);
    assert.equal(result.code, 1);
    assert.ok(result.stdout.includes(layer), `fsck did not name ${layer}: ${result.stdout}`);
    assert.equal(await readFile(path).then(b => b.equals(bytes)), true, 'fsck changed the blob');
  });

  test('killing strata import at any moment leaves a store that fsck passes', {timeout: 120_000}, async () => {
    const root = join(sandbox.base, 'killed');
    const big = join(sandbox.base, 'big.tar');
    const files = Array.from({length: 400}, (_, index) => ({name: `data/file-${index}.bin`, content: Buffer.alloc(64 * 1024, index % 251)}));
    await writeFile(big, await makeTar(files));
    assert.equal((await strata(root, ['import', big, 'survivor:1'])).code, 0);
    const survivor = (await strata(root, ['images', '-q', '--no-trunc', 'survivor:1'])).stdout;
    const delays = [30, 80, 150, 250, 400, 600, 900];
    let killedMidway = 0;
    for (const delay of delays) {
      const child = spawnStrata(['--root', root, 'import', big, `killed:${delay}`]);
      const exited = once(child, 'exit');
      await new Promise(resolve => setTimeout(resolve, delay));
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        killedMidway++;
      }
      await exited;
      const fsck = await strata(root, ['fsck']);
      assert.equal(fsck.code, 0, `after a kill at ${delay} ms: ${fsck.stdout}${fsck.stderr}`);
      assert.equal((await strata(root, ['images', '-q', '--no-trunc', 'survivor:1'])).stdout, survivor, 'an image was lost');
    }
    assert.ok(killedMidway >= 3, `only ${killedMidway} imports were still running when killed`);
  });
});
