import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import {highlight, type Line} from '../components/line.js';
import {fit, humanSize, instructionText} from '../format.js';
import {visibleSlice} from '../state/list.js';
import type {WasteState} from '../state/workbench.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly waste: WasteState;
  readonly width: number;
  readonly height: number;
  readonly focused: boolean;
  readonly theme: Theme;
};

export function wasteLines(props: Props): Line[] {
  const {waste, height, focused, theme} = props;
  const rows = Math.max(1, height - 5);
  if (waste.error) return [[{text: `cannot compute waste: ${waste.error}`, color: theme.danger}]];
  if (waste.loading || !waste.report) return [[{text: waste.imageId ? 'counting wasted bytes…' : 'no image selected', color: theme.muted}]];
  const {report} = waste;
  const efficiency = (report.efficiency * 100).toFixed(1);
  const lines: Line[] = [
    [
      {text: 'wasted '},
      {text: humanSize(report.wastedBytes), bold: true, color: report.wastedBytes > 0 ? theme.warning : theme.success},
      {text: ` of ${humanSize(report.totalBytes)}, efficiency `},
      {text: `${efficiency}%`, bold: true, color: report.efficiency >= 0.9 ? theme.success : theme.warning},
    ],
    [{text: 'copies a later layer overwrote or deleted; one copy per path is not waste', color: theme.muted}],
    [{text: fit('WASTED', 8, 'right') + ' ' + fit('COPIES', 6, 'right') + '  ' + fit('LAYER>BY', 9) + ' PATH  INSTRUCTION', color: theme.muted, bold: true}],
  ];
  if (report.items.length === 0) {
    lines.push([{text: 'nothing wasted: no file is overwritten or deleted by a later layer', color: theme.success}]);
    return lines;
  }
  visibleSlice(report.items, waste.list, rows).forEach((item, index) => {
    const why = [...new Set(item.createdBy.map(instructionText).filter(Boolean))].join('; ');
    const line: Line = [
      {text: fit(humanSize(item.bytes), 8, 'right') + ' ', color: theme.warning},
      {text: fit(`x${item.count}`, 6, 'right') + '  '},
      {text: fit(item.layers.map((layer, at) => `${layer}>${item.hiddenBy[at] ?? '?'}`).join(','), 9) + ' ', color: theme.muted},
      {text: item.path},
      {text: why ? `  ${why}` : '', color: theme.muted},
    ];
    const selected = waste.list.offset + index === waste.list.cursor;
    lines.push(selected ? highlight(line, focused, {text: theme.selectionText, background: theme.selectionBackground}) : line);
  });
  return lines;
}

function WastePanelView(props: Props): React.JSX.Element {
  const items = props.waste.report?.items.length;
  return (
    <Frame
      title="4 Waste"
      info={items === undefined ? undefined : `${items} paths · Enter: show in layer`}
      width={props.width}
      height={props.height}
      focused={props.focused}
      theme={props.theme}
      lines={wasteLines(props)}
    />
  );
}

export const WastePanel = memo(WastePanelView);
