import type {Command} from 'commander';
import type {Engine} from '../../engine/index.js';

/** What every command gets: where to write, the environment, the clock and the engine (opened on first use). */
export interface CliContext {
  readonly stdout: {write(text: string): unknown; isTTY?: boolean};
  readonly stderr: {write(text: string): unknown};
  readonly stdin: NodeJS.ReadableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
  /** The engine over the store that `--root` / STRATA_ROOT / XDG_DATA_HOME names. */
  engine(): Promise<Engine>;
  /** The store root those settings resolve to. */
  root(): string;
}

export type RegisterCommand = (program: Command, context: CliContext) => void;

/** Collect a repeatable option into an array (`-t a -t b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
