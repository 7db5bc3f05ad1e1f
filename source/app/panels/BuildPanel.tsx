import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import type {Line} from '../components/line.js';
import {stepDuration} from '../format.js';
import {buildLines, type BuildLine} from '../state/build-log.js';
import type {BuildPanelState} from '../state/workbench.js';
import {visibleSlice} from '../state/list.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly build: BuildPanelState;
  /** A watch session runs: the panel is its rebuilds'. */
  readonly watching?: boolean;
  readonly width: number;
  readonly height: number;
  readonly focused: boolean;
  readonly theme: Theme;
};

function roleStyle(role: BuildLine['role'], theme: Theme): Omit<Line[number], 'text'> {
  switch (role) {
    case 'step':
      return {bold: true};
    case 'cached':
      return {color: theme.cached};
    case 'miss':
      return {color: theme.miss};
    case 'done':
      return {color: theme.success};
    case 'error':
      return {color: theme.danger, bold: true};
    case 'excerpt':
      return {color: theme.danger};
    case 'summary':
      return {color: theme.accent};
    case 'muted':
    case 'output':
      return {color: theme.muted};
  }
}

export function buildPanelLines(props: Props): Line[] {
  const {build, height, theme} = props;
  if (!build.log) return [[{text: props.watching ? 'watching: the first build starts once the context is read' : 'no build yet: press b on the Images panel', color: theme.muted}]];
  const all = buildLines(build.log, stepDuration);
  return visibleSlice(all, build.list, height - 2).map(line => [{text: line.text, ...roleStyle(line.role, theme)}]);
}

function BuildPanelView(props: Props): React.JSX.Element {
  const status = props.build.log?.status;
  return (
    <Frame
      title="5 Build"
      info={status ? `${status}${status === 'running' ? ' · x cancel' : ''}` : undefined}
      width={props.width}
      height={props.height}
      focused={props.focused}
      theme={props.theme}
      lines={buildPanelLines(props)}
    />
  );
}

export const BuildPanel = memo(BuildPanelView);
