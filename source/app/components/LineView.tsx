import React, {createContext, useContext} from 'react';
import {Text} from 'ink';
import {lineToString, type Line} from './line.js';

/** Whether to emit colour codes: off when the output is not a colour terminal (pipes, tests) or NO_COLOR is set. */
export const ColorContext = createContext(false);

type Props = {
  readonly lines: readonly Line[];
};

/** Lines drawn as one text node (see lineToString for why). */
export function LinesView({lines}: Props): React.JSX.Element {
  const colors = useContext(ColorContext);
  return <Text>{lines.map(line => lineToString(line, colors)).join('\n')}</Text>;
}
