import {useEffect, useState} from 'react';
import {useStdout} from 'ink';

export interface TerminalSize {
  readonly columns: number;
  readonly rows: number;
}

/** The terminal's size, following resizes. `fixed` (tests, benchmarks) wins over the real terminal. */
export function useTerminalSize(fixed?: Partial<TerminalSize>): TerminalSize {
  const {stdout} = useStdout();
  const read = (): TerminalSize => ({
    columns: fixed?.columns ?? (stdout.columns || 80),
    rows: fixed?.rows ?? (stdout.rows || 24),
  });
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed?.columns !== undefined && fixed?.rows !== undefined) {
      setSize(read());
      return;
    }
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stdout, fixed?.columns, fixed?.rows]);
  return size;
}
