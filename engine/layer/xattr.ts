import {spawn} from 'node:child_process';

/**
 * Extended attributes through a helper process, because Node has no xattr API: `python3` (one process for a
 * whole batch) or, failing that, `getfattr`/`setfattr` from the attr package. Values are bytes; the layer code
 * carries them as UTF-8 text because tar-stream reads PAX records as text.
 */
export interface XattrWrite {
  path: string;
  name: string;
  value: string;
}

export interface XattrFailure extends XattrWrite {
  errno: string;
  message: string;
}

type Tool = 'python3' | 'attr' | null;
let detected: Promise<Tool> | undefined;

/** Which helper this machine has (cached). */
export function xattrTool(): Promise<Tool> {
  detected ??= (async () => {
    if (await runs('python3', ['-c', 'import os; os.getxattr'])) return 'python3';
    if (await runs('getfattr', ['--version'])) return 'attr';
    return null;
  })();
  return detected;
}

function runs(command: string, args: string[]): Promise<boolean> {
  return new Promise(resolve => {
    const child = spawn(command, args, {stdio: 'ignore'});
    child.on('error', () => resolve(false));
    child.on('close', code => resolve(code === 0));
  });
}

function run(command: string, args: string[], input: string): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {stdio: ['pipe', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', chunk => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', chunk => (stderr += chunk));
    child.on('error', reject);
    child.on('close', code => resolve({code: code ?? 1, stdout, stderr}));
    child.stdin.end(input);
  });
}

const PYTHON_SET = `
import json, os, sys
failures = []
for path, name, value in json.load(sys.stdin):
    try:
        os.setxattr(path, name, value.encode('utf-8'), follow_symlinks=False)
    except OSError as error:
        failures.append([path, name, value, __import__('errno').errorcode.get(error.errno, str(error.errno)), error.strerror])
print(json.dumps(failures))
`;

/**
 * Sets each attribute without following a final symlink. Returns the writes that failed (with their errno)
 * instead of throwing, so that the caller can decide which failures a policy tolerates. With no helper
 * available every write is returned as failed with errno `ENOTOOL`.
 */
export async function setXattrs(writes: XattrWrite[]): Promise<XattrFailure[]> {
  if (writes.length === 0) return [];
  const tool = await xattrTool();
  if (tool === 'python3') {
    const result = await run('python3', ['-c', PYTHON_SET], JSON.stringify(writes.map(w => [w.path, w.name, w.value])));
    if (result.code !== 0) throw new Error(`set xattrs: python3 failed: ${result.stderr.trim()}`);
    return (JSON.parse(result.stdout) as string[][]).map(([path, name, value, errno, message]) => ({
      path,
      name,
      value,
      errno,
      message,
    }));
  }
  if (tool === 'attr') {
    const failures: XattrFailure[] = [];
    for (const write of writes) {
      const value = `0s${Buffer.from(write.value, 'utf8').toString('base64')}`;
      const result = await run('setfattr', ['-h', '-n', write.name, '-v', value, '--', write.path], '');
      if (result.code !== 0) {
        const errno = /Operation not permitted/.test(result.stderr)
          ? 'EPERM'
          : /not supported/.test(result.stderr)
            ? 'ENOTSUP'
            : 'EIO';
        failures.push({...write, errno, message: result.stderr.trim()});
      }
    }
    return failures;
  }
  return writes.map(write => ({...write, errno: 'ENOTOOL', message: 'no python3 or setfattr to set xattrs'}));
}

const PYTHON_FIND = `
import json, os, sys
root, pattern = sys.argv[1], sys.argv[2]
import re
match = re.compile(pattern)
found = {}
try:
    names = [n for n in os.listxattr(root, follow_symlinks=False) if match.match(n)]
    if names:
        found['.'] = {n: os.getxattr(root, n, follow_symlinks=False).decode('utf-8', 'replace') for n in names}
except OSError:
    pass
for directory, dirs, files in os.walk(root):
    for name in dirs + files:
        path = os.path.join(directory, name)
        try:
            names = [n for n in os.listxattr(path, follow_symlinks=False) if match.match(n)]
        except OSError:
            continue
        if names:
            found[os.path.relpath(path, root)] = {n: os.getxattr(path, n, follow_symlinks=False).decode('utf-8', 'replace') for n in names}
print(json.dumps(found))
`;

/**
 * Every attribute whose name matches `pattern` (a regular expression source) on every path under `root`,
 * keyed by the path relative to `root`. Throws when no helper is available: callers that need the answer
 * (overlay opaque markers) must not guess.
 */
export async function findXattrs(root: string, pattern: string): Promise<Map<string, Record<string, string>>> {
  const tool = await xattrTool();
  if (tool === 'python3') {
    const result = await run('python3', ['-c', PYTHON_FIND, root, pattern], '');
    if (result.code !== 0) throw new Error(`read xattrs under ${root}: ${result.stderr.trim()}`);
    return new Map(Object.entries(JSON.parse(result.stdout) as Record<string, Record<string, string>>));
  }
  if (tool === 'attr') {
    const result = await run('getfattr', ['-R', '-P', '--absolute-names', '-d', '-m', pattern, '-e', 'base64', '--', root], '');
    if (result.code !== 0 && result.stdout === '') throw new Error(`read xattrs under ${root}: ${result.stderr.trim()}`);
    return parseGetfattr(result.stdout, root);
  }
  throw new Error('read xattrs: neither python3 nor getfattr (package attr) is installed');
}

/** Parses `getfattr -d -e base64` output: `# file: PATH` then `name=0sBASE64` lines, blank-line separated. */
export function parseGetfattr(output: string, root: string): Map<string, Record<string, string>> {
  const found = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (const line of output.split('\n')) {
    if (line.startsWith('# file: ')) {
      const path = line.slice('# file: '.length);
      current = {};
      found.set(path.startsWith(prefix) ? path.slice(prefix.length) : path, current);
    } else if (current && line.includes('=')) {
      const equals = line.indexOf('=');
      const raw = line.slice(equals + 1);
      const value = raw.startsWith('0s')
        ? Buffer.from(raw.slice(2), 'base64').toString('utf8')
        : raw.replace(/^"|"$/g, '');
      current[line.slice(0, equals)] = value;
    }
  }
  return found;
}
