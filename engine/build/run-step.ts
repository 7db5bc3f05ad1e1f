/**
 * RUN: one command in the parent state's rootfs (runIsolated), its changes turned into a layer.
 */
import type {Store} from '../store/store.js';
import {BuildError} from './errors.js';

export interface RunStepOptions {
  readonly lowerDirs: readonly string[];
  readonly scratchDir: string;
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: string;
  readonly network: 'host' | 'none';
  readonly signal?: AbortSignal;
  readonly store: Store;
  readonly onOutput: (line: string, stream: 'stdout' | 'stderr') => void;
  /** The command as the error message shows it. */
  readonly display: string;
}

export async function runStep(options: RunStepOptions): Promise<{diffId: string; size: number}> {
  void options;
  throw new BuildError('ERR_BUILD_RUN_UNAVAILABLE', 'RUN is not available yet');
}
