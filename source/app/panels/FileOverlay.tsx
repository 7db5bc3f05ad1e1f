import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import type {Line} from '../components/line.js';
import {visibleSlice} from '../state/list.js';
import type {Overlay} from '../state/workbench.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly overlay: Extract<Overlay, {kind: 'file'}>;
  readonly width: number;
  readonly height: number;
  readonly theme: Theme;
};

export function fileLines({overlay, height, theme}: Props): Line[] {
  if (overlay.error) return [[{text: `cannot read ${overlay.path}: ${overlay.error}`, color: theme.danger}]];
  if (overlay.loading) return [[{text: `reading ${overlay.path}…`, color: theme.muted}]];
  const lines: Line[] = [];
  if (overlay.note) lines.push([{text: overlay.note, color: theme.warning}]);
  const room = height - 2 - lines.length;
  const numberWidth = String(overlay.lines.length).length;
  visibleSlice(overlay.lines, overlay.list, room).forEach((text, index) => {
    lines.push([{text: String(overlay.list.offset + index + 1).padStart(numberWidth) + ' ', color: theme.muted}, {text}]);
  });
  return lines;
}

function FileOverlayView(props: Props): React.JSX.Element {
  const {overlay} = props;
  const range = overlay.lines.length > 0 ? `${overlay.list.offset + 1}-${Math.min(overlay.lines.length, overlay.list.offset + props.height - 2)}/${overlay.lines.length} · ` : '';
  return <Frame title={overlay.path} info={`${range}Esc closes`} width={props.width} height={props.height} focused theme={props.theme} lines={fileLines(props)}/>;
}

export const FileOverlay = memo(FileOverlayView);
