import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import {highlight, type Line} from '../components/line.js';
import {fit, humanSize, stepKey, timeAgo, wrap} from '../format.js';
import {visibleSlice} from '../state/list.js';
import type {DetailState, LayerRow} from '../state/workbench.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly detail: DetailState;
  readonly verdicts: ReadonlyMap<string, 'cached' | 'built'>;
  readonly width: number;
  readonly height: number;
  readonly rows: number;
  readonly detailRows: number;
  readonly focused: boolean;
  readonly now: Date;
  readonly theme: Theme;
};

function rowLine(row: LayerRow, verdict: 'cached' | 'built' | undefined, theme: Theme): Line {
  const mark = verdict === 'cached' ? 'C' : verdict === 'built' ? 'B' : ' ';
  return [
    {text: '  '},
    // The layer's number, as the Files panel and the detail line name it; steps that made no layer have none.
    {text: fit(row.layerIndex === undefined ? '' : String(row.layerIndex), 3, 'right') + ' ', color: theme.muted},
    {text: fit(row.emptyLayer ? '-' : humanSize(row.size), 7, 'right') + ' ', dim: row.emptyLayer},
    {text: mark + ' ', color: verdict === 'cached' ? theme.cached : theme.miss},
    {text: row.instruction || '(no instruction recorded)', dim: row.emptyLayer},
  ];
}

/** The lines under the list: created time, cache verdict, size and the whole instruction, wrapped. */
function detailLines(row: LayerRow | undefined, verdict: 'cached' | 'built' | undefined, width: number, count: number, now: Date, theme: Theme): Line[] {
  if (count <= 0) return [];
  if (!row) return Array.from({length: count}, () => []);
  const facts = [
    row.layerIndex === undefined ? 'config only' : `layer ${row.layerIndex}`,
    row.created ? `created ${timeAgo(row.created, now)}` : undefined,
    verdict === 'cached' ? 'CACHED' : verdict === 'built' ? 'built' : undefined,
  ].filter(Boolean).join(', ');
  const lines: Line[] = [[{text: `-- ${facts} `.padEnd(width, '-'), color: theme.muted}]];
  const text = wrap(row.instruction, width - 1);
  const room = count - 1;
  const shown = text.slice(0, room);
  if (text.length > room && room > 0) shown[room - 1] = shown[room - 1].slice(0, width - 12) + '… (v: all)';
  for (const part of shown) lines.push([{text: part}]);
  return lines;
}

export function layersLines(props: Props): Line[] {
  const {detail, rows, focused, theme, verdicts, width, detailRows, now} = props;
  const inner = width - 2;
  const lines: Line[] = [[{text: '    # ' + fit('SIZE', 7, 'right') + '   CREATED BY', color: theme.muted, bold: true}]];
  const list: Line[] = [];
  if (detail.error) list.push([{text: `  cannot read history: ${detail.error}`, color: theme.danger}]);
  else if (detail.loading) list.push([{text: '  loading layers…', color: theme.muted}]);
  else if (!detail.imageId) list.push([{text: '  no image selected', color: theme.muted}]);
  else {
    visibleSlice(detail.rows, detail.list, rows).forEach((row, index) => {
      const line = rowLine(row, verdicts.get(stepKey(row.instruction)), theme);
      const selected = detail.list.offset + index === detail.list.cursor;
      list.push(selected ? highlight([{text: '> '}, ...line.slice(1)], focused, {text: theme.selectionText, background: theme.selectionBackground}) : line);
    });
  }
  while (list.length < rows) list.push([]);
  lines.push(...list);
  const row = detail.rows[detail.list.cursor];
  lines.push(...detailLines(detail.loading ? undefined : row, row ? verdicts.get(stepKey(row.instruction)) : undefined, inner, detailRows, now, theme));
  return lines;
}

function LayersPanelView(props: Props): React.JSX.Element {
  const count = props.detail.rows.length;
  const layers = props.detail.rows.filter(row => row.layerIndex !== undefined).length;
  return (
    <Frame
      title="2 Layers"
      info={count > 0 ? `${layers} layers, ${count} steps · [ ] step` : undefined}
      width={props.width}
      height={props.height}
      focused={props.focused}
      theme={props.theme}
      lines={layersLines(props)}
    />
  );
}

export const LayersPanel = memo(LayersPanelView);
