import React, {memo} from 'react';
import {fitLine, type Line} from './line.js';
import {LinesView} from './LineView.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly root?: string;
  readonly imageCount: number;
  readonly live: boolean;
  readonly building: boolean;
  readonly width: number;
  readonly theme: Theme;
};

function HeaderView({root, imageCount, live, building, width, theme}: Props): React.JSX.Element {
  const line: Line = [
    {text: ' strata ', bold: true, color: theme.selectionText, backgroundColor: theme.accent},
    {text: ` ${imageCount} image${imageCount === 1 ? '' : 's'}`},
    {text: root ? ` · ${root}` : '', color: theme.muted},
    {text: live ? ' · live' : '', color: theme.success},
    {text: building ? ' · building…' : '', color: theme.warning},
  ];
  const hint = '? help  q quit ';
  const left = fitLine(line, Math.max(0, width - hint.length));
  return <LinesView lines={[[...left, {text: hint, color: theme.muted}]]}/>;
}

export const Header = memo(HeaderView);
