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

/** The first line typed on `input` (for "Are you sure? [y/N]" prompts); empty at end of input. */
export async function readAnswer(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise(resolve => {
    let text = '';
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes('\n')) finish();
    };
    const finish = () => {
      input.off('data', onData);
      input.off('end', finish);
      input.pause?.();
      resolve(text.split('\n')[0] ?? '');
    };
    input.on('data', onData);
    input.on('end', finish);
    input.resume?.();
  });
}
