import React, {memo} from 'react';
import {fitLine, type Line} from './line.js';
import {LinesView} from './LineView.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly root?: string;
  readonly imageCount: number;
  readonly live: boolean;
  readonly building: boolean;
  /** The watch status line, while watching: it takes the place of the image count and the store path. */
  readonly watch?: {readonly text: string; readonly tone: 'info' | 'busy' | 'success' | 'error'};
  readonly width: number;
  readonly theme: Theme;
};

function HeaderView({root, imageCount, live, building, watch, width, theme}: Props): React.JSX.Element {
  const watchColor = watch && {info: theme.accent, busy: theme.warning, success: theme.success, error: theme.danger}[watch.tone];
  // While watching, the status line is the header's news; the image count is in the Images panel's title.
  const line: Line = watch
    ? [
      {text: ' strata ', bold: true, color: theme.selectionText, backgroundColor: theme.accent},
      {text: ` ${watch.text}`, color: watchColor},
    ]
    : [
      {text: ' strata ', bold: true, color: theme.selectionText, backgroundColor: theme.accent},
      {text: ` ${imageCount} image${imageCount === 1 ? '' : 's'}`},
      {text: root ? ` · ${root}` : '', color: theme.muted},
      {text: live ? ' · live' : '', color: theme.success},
      {text: building ? ' · building…' : '', color: theme.warning},
    ];
  // While watching, the status line needs the room more (the footer says `? help` too).
  const hint = watch ? '' : '? help  q quit ';
  const left = fitLine(line, Math.max(0, width - hint.length));
  return <LinesView lines={[[...left, {text: hint, color: theme.muted}]]}/>;
}

export const Header = memo(HeaderView);
