import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import type {Line} from '../components/line.js';
import {shortId} from '../format.js';
import {visibleSlice} from '../state/list.js';
import type {InspectState} from '../state/workbench.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly inspect: InspectState;
  readonly width: number;
  readonly height: number;
  readonly focused: boolean;
  readonly theme: Theme;
};

export function inspectLines({inspect, height, theme}: Props): Line[] {
  if (inspect.error) return [[{text: `cannot inspect: ${inspect.error}`, color: theme.danger}]];
  if (inspect.loading) return [[{text: 'inspecting…', color: theme.muted}]];
  return visibleSlice(inspect.lines, inspect.list, height - 2).map(text => {
    const key = /^(\s*)("[^"]+")(:.*)$/.exec(text);
    return key ? [{text: key[1]}, {text: key[2], color: theme.accent}, {text: key[3]}] : [{text}];
  });
}

function InspectPanelView(props: Props): React.JSX.Element {
  const {inspect} = props;
  return (
    <Frame
      title="Inspect"
      info={inspect.ref ? `${shortId(inspect.ref)} · ${inspect.lines.length} lines · Esc back` : undefined}
      width={props.width}
      height={props.height}
      focused={props.focused}
      theme={props.theme}
      lines={inspectLines(props)}
    />
  );
}

export const InspectPanel = memo(InspectPanelView);
