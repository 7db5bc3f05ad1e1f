import React from 'react';
import {Box} from 'ink';
import {fitLine, type Line} from './line.js';
import {LinesView} from './LineView.js';
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

/** The title line drawn over the top border: ` 1 Images  2000 · sort: name `. */
export function titleLine({title, info, width, focused, theme}: Pick<Props, 'title' | 'info' | 'width' | 'focused' | 'theme'>): Line {
  const room = Math.max(0, width - 4);
  const label = ` ${title} `.slice(0, room);
  const extra = info && label.length + info.length + 2 <= room ? ` ${info} ` : '';
  return [{text: label, color: focused ? theme.accent : theme.title, bold: focused}, {text: extra, color: theme.muted}];
}

/** The rows inside the border, each cut or padded to the inner width so nothing wraps. */
export function contentLines(lines: readonly Line[], width: number, height: number): Line[] {
  const inner = Math.max(0, width - 2);
  const rows: Line[] = [];
  for (let i = 0; i < height - 2; i++) rows.push(fitLine(lines[i] ?? [], inner));
  return rows;
}

/**
 * A panel with a rounded border and its title in the top edge, as lazydocker draws it. The border is Ink's
 * own (drawn without measuring text); the content is one text node of ASCII-width lines, which Ink measures
 * on its fast path. Those two choices are what keep a key press cheap with thousands of rows behind it.
 */
export function Frame(props: Props): React.JSX.Element {
  const {width, height, focused, theme} = props;
  return (
    <Box width={width} height={height} flexShrink={0} borderStyle="round" borderColor={focused ? theme.focusBorder : theme.border} flexDirection="column">
      <Box position="absolute" marginTop={-1} marginLeft={1} height={1}>
        <LinesView lines={[titleLine(props)]}/>
      </Box>
      <LinesView lines={contentLines(props.lines, width, height)}/>
    </Box>
  );
}
