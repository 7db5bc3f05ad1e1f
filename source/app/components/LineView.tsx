import React from 'react';
import {Text} from 'ink';
import type {Line} from './line.js';

type Props = {
  readonly line: Line;
};

/** One screen line of coloured segments. */
export function LineView({line}: Props): React.JSX.Element {
  return (
    <Text wrap="truncate">
      {line.map((segment, index) => (
        <Text
          key={index}
          color={segment.color}
          backgroundColor={segment.backgroundColor}
          bold={segment.bold}
          dimColor={segment.dim}
          inverse={segment.inverse}
        >
          {segment.text}
        </Text>
      ))}
    </Text>
  );
}
