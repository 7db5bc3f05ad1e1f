import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import type {Line} from '../components/line.js';
import {wrap} from '../format.js';
import type {Overlay} from '../state/workbench.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly overlay: Extract<Overlay, {kind: 'confirm'}>;
  readonly width: number;
  readonly height: number;
  readonly theme: Theme;
};

function ConfirmOverlayView({overlay, width, height, theme}: Props): React.JSX.Element {
  const lines: Line[] = [];
  for (const text of overlay.lines) {
    for (const part of wrap(text, width - 4)) lines.push([{text: ' ' + part, color: text.includes('·') ? theme.accent : undefined}]);
  }
  return <Frame title={overlay.title} width={width} height={height} focused theme={{...theme, focusBorder: theme.danger, accent: theme.danger}} lines={lines}/>;
}

export const ConfirmOverlay = memo(ConfirmOverlayView);
