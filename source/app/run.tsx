import React from 'react';
import {render} from 'ink';
import {readWorkbenchConfig, UserError} from '../../engine/index.js';
import {App} from './App.js';
import {tuneHeapForWorkbench} from './memory.js';
import type {WorkbenchEngine} from './engine-port.js';
import type {WatchRequest} from './state/watch-status.js';

export interface RunWorkbenchOptions {
  readonly engine: WorkbenchEngine;
  readonly root?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** See AppProps.buildContext. */
  readonly buildContext?: string;
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
  /** Watch this context from the start (see AppProps.watch). */
  readonly watch?: WatchRequest;
}

/** Alternate screen on/off and cursor shown: what a full-screen program owes the terminal it borrowed. */
const ENTER_ALT_SCREEN = '\u001B[?1049h\u001B[H';
const LEAVE_ALT_SCREEN = '\u001B[?25h\u001B[?1049l';

/**
 * Runs the workbench full screen until the user quits, then gives the terminal back exactly as it was: the
 * alternate screen is left (so the shell's scrollback reappears), the cursor is shown and raw mode is off,
 * also when the process is told to stop.
 */
export async function runWorkbench(options: RunWorkbenchOptions): Promise<void> {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  if (!stdin.isTTY || !stdout.isTTY) {
    throw new UserError('ERR_NOT_A_TERMINAL', 'open the workbench: stdin and stdout must be a terminal', {
      hint: 'for scripts use `strata images`, `strata history` or `strata history --waste`',
    });
  }
  const config = await readWorkbenchConfig(options.env);
  tuneHeapForWorkbench();
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    stdout.write(LEAVE_ALT_SCREEN);
  };
  stdout.write(ENTER_ALT_SCREEN);
  process.once('exit', restore);
  const instance = render(
    <App
      engine={options.engine}
      root={options.root}
      keys={config.config.keys}
      configPath={config.path}
      configWarnings={config.error ? [config.error] : []}
      cwd={options.cwd}
      buildContext={options.buildContext}
      watch={options.watch}
    />,
    {stdin, stdout, exitOnCtrlC: false, patchConsole: true, maxFps: 60},
  );
  const stop = (): void => instance.unmount();
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  try {
    await instance.waitUntilExit();
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
    process.off('exit', restore);
    restore();
  }
}
