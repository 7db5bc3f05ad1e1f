import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {dirname, join, relative, resolve} from 'node:path';

const repo = resolve(import.meta.dirname, '..');

/** Static imports (not `import()`, which loads lazily) of one module, as written. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/^\s*(?:import|export)\s+(?:type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    if (/^\s*(?:import|export)\s+type\s/.test(match[0])) continue;
    found.push(match[1]);
  }
  for (const match of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push(match[1]);
  return found;
}

function resolveLocal(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base]) {
    if (existsSync(candidate) && candidate.match(/\.tsx?$/)) return candidate;
  }
  return undefined;
}

/** Every package a module reaches through static imports of local files. */
function reachablePackages(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith('.')) {
        const local = resolveLocal(file, specifier);
        if (local) queue.push(local);
      } else if (!specifier.startsWith('node:')) {
        packages.set(specifier, relative(repo, file));
      }
    }
  }
  return packages;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(repo, folder), {recursive: true, encoding: 'utf8'})
    .filter(name => /\.tsx?$/.test(name))
    .map(name => join(repo, folder, name));
}

test('commands that draw no UI load neither ink nor react', () => {
  const packages = reachablePackages(join(repo, 'source', 'cli.ts'));
  for (const name of ['ink', 'react', 'ink-table', 'yoga-layout']) {
    assert.ok(!packages.has(name), `${name} is loaded at start-up through ${packages.get(name)}`);
  }
  assert.ok(packages.has('commander'), 'the walk found the command line');
});

test('the engine never imports react or ink', () => {
  for (const file of sourceFiles('engine')) {
    const imports = staticImports(file).concat([...readFileSync(file, 'utf8').matchAll(/import\(['"]([^'"]+)['"]\)/g)].map(m => m[1]));
    for (const specifier of imports) {
      assert.ok(!/^(ink|react|ink-table|ink-testing-library)(\/|$)/.test(specifier), `${relative(repo, file)} imports ${specifier}`);
    }
  }
});

test('source/ reaches the engine only through engine/index.ts and never touches files or processes itself', () => {
  for (const file of sourceFiles('source')) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from\s+|import\()['"]([^'"]+)['"]/g)) {
      const specifier = match[1];
      assert.ok(!/^node:(fs|child_process)(\/|$)|^(fs|child_process)$/.test(specifier), `${relative(repo, file)} imports ${specifier}`);
      if (specifier.startsWith('.')) {
        const target = relative(repo, resolve(dirname(file), specifier));
        if (target.startsWith('engine')) assert.equal(target, 'engine/index.js', `${relative(repo, file)} imports ${specifier}`);
      }
    }
  }
});
