import React from 'react';
import {Box, Text} from 'ink';
import {fitLine, type Line} from './line.js';
import {LineView} from './LineView.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly title: string;
  /** Shown after the title in the top border (sort order, counts, toggles). */
  readonly info?: string;
  readonly width: number;
  readonly height: number;
  readonly focused: boolean;
  readonly theme: Theme;
  /** Exactly the rows inside the frame; missing rows are drawn empty, extra rows are dropped. */
  readonly lines: readonly Line[];
};

/**
 * A panel: a rounded border with the title in the top edge, as lazydocker draws its panels. Draws its own
 * border from text so that every row has a known width and the frame costs one text node per row.
 */
export function Frame({title, info, width, height, focused, theme, lines}: Props): React.JSX.Element {
  const inner = Math.max(0, width - 2);
  const borderColor = focused ? theme.focusBorder : theme.border;
  const label = ` ${title} `;
  const extra = info ? ` ${info} ` : '';
  const room = Math.max(0, inner - 1);
  const head = (label + (extra.length > 0 && label.length + extra.length <= room ? extra : '')).slice(0, room);
  const rows: Line[] = [];
  for (let i = 0; i < height - 2; i++) rows.push(fitLine(lines[i] ?? [], inner));
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0}>
      <Text wrap="truncate">
        <Text color={borderColor}>╭─</Text>
        <Text color={focused ? theme.accent : theme.title} bold={focused}>{head.slice(0, label.length)}</Text>
        <Text color={theme.muted}>{head.slice(label.length)}</Text>
        <Text color={borderColor}>{'─'.repeat(Math.max(0, room - head.length))}╮</Text>
      </Text>
      {rows.map((line, index) => (
        <Text key={index} wrap="truncate">
          <Text color={borderColor}>│</Text>
          <LineView line={line}/>
          <Text color={borderColor}>│</Text>
        </Text>
      ))}
      <Text color={borderColor} wrap="truncate">{'╰' + '─'.repeat(inner) + '╯'}</Text>
    </Box>
  );
}
