// Child process for the concurrency tests: tags the image `base` as `<prefix>:<i>` for i < count.
// argv: root prefix count lockStaleMs
import {Store} from '../../../engine/store/index.js';

const [root, prefix, count, lockStaleMs] = process.argv.slice(2);
const store = await Store.open(root, {create: false, lockStaleMs: Number(lockStaleMs)});
const base = await store.resolveImage('base');
for (let i = 0; i < Number(count); i++) {
  await store.tag(base.id, `${prefix}:${i}`);
  if (i === 0) process.stdout.write('started\n');
}
process.stdout.write('done\n');
