// Node 20's test runner takes no globs: collect test files here and hand them to `node --test`.
// Usage: node test/run.mjs [filter...]   (a filter keeps files whose path contains it)
import {readdirSync} from 'node:fs';
import {join} from 'node:path';
import {spawnSync} from 'node:child_process';

const filters = process.argv.slice(2);
const files = readdirSync('test', {recursive: true, encoding: 'utf8'})
  .filter(file => /\.test\.tsx?$/.test(file) && !file.startsWith('bench'))
  .map(file => join('test', file))
  .filter(file => filters.length === 0 || filters.some(filter => file.includes(filter)))
  .sort();
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  {stdio: 'inherit'},
);
process.exit(result.status ?? 1);
