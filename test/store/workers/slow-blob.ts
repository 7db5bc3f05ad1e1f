// Child process for the crash tests: streams a blob into the store slowly and never finishes by itself
// (the parent kills it). argv: root
import {Store} from '../../../engine/store/index.js';

const [root] = process.argv.slice(2);
const store = await Store.open(root, {create: false});
const writer = store.content.createBlobWriter();
const chunk = Buffer.alloc(64 * 1024, 0x61);
let announced = false;
const tick = () => {
  writer.write(chunk, () => {
    if (!announced) {
      announced = true;
      process.stdout.write('writing\n');
    }
    setTimeout(tick, 5);
  });
};
tick();
