// Runs every benchmark (or the ones named: `npm run bench -- build watch`), one after another, each in its own
// process so that memory figures are its own. Benchmarks print medians and ratios; they are not tests.
import {spawnSync} from 'node:child_process';
import {readdirSync} from 'node:fs';
import {join} from 'node:path';

const folder = import.meta.dirname;
const wanted = process.argv.slice(2);
const benches = readdirSync(folder)
  .filter(name => name.endsWith('.ts') && name !== 'run.ts')
  .filter(name => wanted.length === 0 || wanted.some(word => name.includes(word)))
  .sort();
let failed = 0;
for (const name of benches) {
  console.log(`\n=== ${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(folder, name)], {stdio: 'inherit'});
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
