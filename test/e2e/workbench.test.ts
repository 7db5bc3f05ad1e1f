/**
 * The workbench in a real terminal: tmux runs `strata ui` on a temp store, keys go in with send-keys and the
 * screen comes back with capture-pane, as a user would see it. Set STRATA_WRITE_CAPTURE=1 to save the 100x30
 * screen to test/e2e/workbench-capture.txt (the README's picture).
 */
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {mkdir, mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {createWorkbenchStore, waitFor, type WorkbenchStore} from '../app/helpers.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const socket = `strata-e2e-${process.pid}`;
const session = 'wb';
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

function tmux(...args: string[]): string {
  const result = spawnSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], {encoding: 'utf8'});
  if (result.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout;
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', session);
}

function keys(...names: string[]): void {
  for (const name of names) tmux('send-keys', '-t', session, name);
}

async function see(text: string | RegExp, timeoutMs = 15_000): Promise<string> {
  return waitFor(() => {
    const shown = screen();
    return (typeof text === 'string' ? shown.includes(text) : text.test(shown)) ? shown : undefined;
  }, timeoutMs, `"${String(text)}" in the pane; it shows:\n${screen()}`);
}

/** Sends keys one at a time, letting the workbench draw in between, as fingers do. */
async function typeKeys(...names: string[]): Promise<void> {
  for (const name of names) {
    keys(name);
    await new Promise(resolve => setTimeout(resolve, 80));
  }
}

describe('workbench in a real terminal', {skip: hasTmux ? false : 'tmux not installed'}, () => {
  let store: WorkbenchStore;
  let scratch: string;

  before(async () => {
    store = await createWorkbenchStore();
    scratch = await mkdtemp(join(tmpdir(), 'strata-e2e-'));
    tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', '-c', repo, 'bash --norc --noprofile');
    tmux('set-option', '-t', session, 'status', 'off');
  });

  after(async () => {
    try {
      tmux('kill-server');
    } catch {
      // Already gone.
    }
    await rm(scratch, {recursive: true, force: true});
    await store.cleanup();
  });

  test('select an image, step through its layers, open the help, resize and quit back to the shell', async () => {
    const before = join(scratch, 'stty-before');
    const afterQuit = join(scratch, 'stty-after');
    // The markers are computed by the shell so that the typed command line itself never matches them.
    keys(`PS1='$ '; stty -g > ${before}; clear; echo shell-before-$((20+6))`, 'Enter');
    await see('shell-before-26');

    // CI=true would make Ink print only the last frame; XDG_CONFIG_HOME keeps the user's keymap out.
    const command = `env -u CI XDG_CONFIG_HOME=${scratch} node --import tsx source/cli.ts --root ${store.root} ui`;
    keys(command, 'Enter');
    // The whole first frame (a capture can come while the terminal is still being drawn).
    const first = await see(/web-child[\s\S]*2 Layers[\s\S]*3 Files/, 60_000);
    assert.match(first, /1 Images/);
    assert.ok(!first.includes('shell-before-26'), 'the workbench has the whole screen');

    // Select web:latest (third row) and see its steps.
    await typeKeys('j', 'j');
    const selected = await see(/ENV MODE=production[\s\S]*COPY data-v1\.bin/);
    assert.match(selected.split('\n').find(line => line.startsWith('│>') && line.includes('latest')) ?? '', /web\s+latest/);
    assert.match(selected, /COPY data-v1\.bin/);

    // Step through the layers: `]` skips the config-only ENV step.
    await typeKeys(']');
    await see(/Files\s+layer 1/);
    await see(/-- layer 1/);
    await typeKeys(']');
    const third = await see(/Files\s+layer 2/);
    // The list numbers layers as the Files panel does; the config-only steps have no number.
    assert.match(third, />\s+2\s+\S+\s+(C |B |  )?\s*COPY data-v2\.bin/);
    assert.match(third, /│\s+-\s+ENV MODE=production/);
    await typeKeys('[');
    // The tree of layer 1: the file it added, marked + as well as coloured.
    const stepped = await see(/Files\s+layer 1[\s\S]*\+\s+`-- data\.bin/);
    assert.match(stepped, /\+\s+`-- data\.bin\s+5kB/);

    // Everything up to this layer: the files of layer 0 show as unchanged, layer 1's file as added.
    await typeKeys('3', 'a');
    const aggregated = await see(/all layers up to here[\s\S]*hello\.txt/);
    assert.match(aggregated, /\+\s+\|-- data\.bin/);
    if (process.env.STRATA_WRITE_CAPTURE === '1') {
      await writeFile(join(repo, 'test', 'e2e', 'workbench-capture.txt'), aggregated.replace(/\s+$/gm, '') + '\n');
    }
    await typeKeys('a', '1');

    await typeKeys('?');
    const help = await see('Help: Images keys');
    assert.match(help, /filter by name, tag or ID/);
    assert.match(help, /Keys are remappable in .*strata\/config\.json/);
    await typeKeys('Escape');
    await see('1 Images');

    // A smaller terminal re-lays the panels; nothing wraps.
    tmux('resize-window', '-t', session, '-x', '80', '-y', '24');
    const small = await see(/╭─ 1 Images[^\n]*╮\n/);
    const lines = small.split('\n');
    assert.ok(lines.every(line => line.length <= 80), 'no line is wider than 80 columns');
    await waitFor(() => screen().split('\n').some(line => /^╰─+╯$/.test(line) && line.length === 80) || undefined, 10_000, 'full-width bottom border at 80 columns');

    await typeKeys('q');
    await see('shell-before-26');
    keys(`stty -g > ${afterQuit}; echo shell-after-$((20+7))`, 'Enter');
    const restored = await see('shell-after-27');
    assert.ok(!restored.includes('1 Images'), 'the workbench is gone from the screen');
    assert.equal(tmux('display-message', '-p', '-t', session, '#{alternate_on}').trim(), '0', 'the alternate screen is left');
    assert.equal(await readFile(afterQuit, 'utf8'), await readFile(before, 'utf8'), 'the terminal modes are as they were');
    assert.equal(tmux('display-message', '-p', '-t', session, '#{pane_current_command}').trim(), 'bash', 'the workbench process ended');
  });

  test('strata ui --watch rebuilds on a save, shows it on the status line and in the build panel, and q stops it all', async () => {
    const context = join(scratch, 'watched');
    await mkdir(join(context, 'src'), {recursive: true});
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY src/ /app/src/\n');
    await writeFile(join(context, 'src', 'main.txt'), 'one\n');
    tmux('resize-window', '-t', session, '-x', '100', '-y', '30');
    // At the shell prompt, whatever the test before left (q ends a workbench it left open).
    keys('q');
    keys('C-u', `clear; echo shell-ready-$((40+2))`, 'Enter');
    await see('shell-ready-42');
    const command = `env -u CI XDG_CONFIG_HOME=${scratch} node --import tsx source/cli.ts --root ${store.root} ui --watch ${context} -t watched:dev`;
    keys(command, 'Enter');
    await see(/rebuilt \d\d:\d\d:\d\d in \d+ m?s: watch started · watching 2 files[\s\S]*5 Build\s+done/, 60_000);
    await see(/> watched\s+dev/);
    await writeFile(join(context, 'src', 'main.txt'), 'two\n');
    await see(/rebuilt \d\d:\d\d:\d\d in \d+ m?s: src\/main\.txt changed[\s\S]*re-ran: src\/main\.txt changed/);
    await typeKeys('q');
    await waitFor(() => tmux('display-message', '-p', '-t', session, '#{pane_current_command}').trim() === 'bash' || undefined, 15_000, 'the workbench and its watch to end');
    assert.deepEqual((await readdir(join(store.root, 'tmp'))).filter(name => name.startsWith('spare-')), [], 'no spare layer file is left behind');
  });

  test('the demo (npm start): w offers the demo project and its image, and watching it starts from the cached build', async () => {
    tmux('resize-window', '-t', session, '-x', '120', '-y', '32');
    keys('q');
    keys('C-u', `clear; echo shell-ready-$((40+3))`, 'Enter');
    await see('shell-ready-43');
    const demoRoot = join(scratch, 'demo-store');
    keys(`env -u CI XDG_CONFIG_HOME=${scratch} node --import tsx source/cli.ts --root ${demoRoot} demo`, 'Enter');
    const opened = await see(/> demo\s+latest\s+([0-9a-f]{12})[\s\S]*2 Layers/, 120_000);
    const demoId = /> demo\s+latest\s+([0-9a-f]{12})/.exec(opened)![1]!;
    await typeKeys('w');
    // Relative to where npm start runs (the package folder), with the selected image's tag.
    await see('Watch and rebuild context [-t name:tag] [-f Dockerfile]: fixtures/demo -t demo:latest');
    await typeKeys('Enter');
    const watching = await see(/rebuilt \d\d:\d\d:\d\d in \d+ m?s: watch started \(every step cached\) · watching (\d+) files/, 60_000);
    const files = Number(/watching (\d+) files/.exec(watching)![1]);
    assert.ok(files > 0 && files < 20, `the demo project's files, not the package's (${files})`);
    assert.match(watching, new RegExp(`> demo\\s+latest\\s+${demoId}`), 'every step cached: the same image');
    await typeKeys('w');
    await see(/stopped watching/);
    await typeKeys('q');
    await waitFor(() => tmux('display-message', '-p', '-t', session, '#{pane_current_command}').trim() === 'bash' || undefined, 15_000, 'the demo to end');
  });

  test('strata ui --watch of a folder that does not exist says so on one line, before taking the screen', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'source/cli.ts', '--root', store.root, 'ui', '--watch', join(scratch, 'nope')], {cwd: repo, encoding: 'utf8'});
    assert.notEqual(result.status, 0);
    assert.equal(result.stdout, '');
    assert.match(result.stderr.trim(), /^Error: watch \S+nope: no such folder/);
    assert.equal(result.stderr.trim().split('\n').length <= 2, true, `one line (and its hint): ${result.stderr}`);
    const stray = spawnSync(process.execPath, ['--import', 'tsx', 'source/cli.ts', '--root', store.root, 'ui', '-t', 'app:dev'], {cwd: repo, encoding: 'utf8'});
    assert.notEqual(stray.status, 0);
    assert.match(stray.stderr.trim(), /^Error: strata ui: -t names what --watch builds, and there is no --watch/);
  });
});
