import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import {highlight, type Line} from '../components/line.js';
import {fit, humanSize} from '../format.js';
import type {TreeRow} from '../state/tree-view.js';
import type {FilesState, LayerRow} from '../state/workbench.js';
import {changeColor, changeGlyph, type Theme} from '../theme.js';

type Props = {
  readonly files: FilesState;
  readonly layer?: LayerRow;
  readonly width: number;
  readonly height: number;
  readonly focused: boolean;
  readonly theme: Theme;
};

const SIZE_WIDTH = 8;

export function treeRowLine(row: TreeRow, width: number, theme: Theme): Line {
  const {node} = row;
  const color = changeColor(theme, node.status);
  const fold = row.isDir ? (row.expanded ? 'v ' : '> ') : '';
  const name = node.name + (row.isDir ? '/' : '') + (node.linkname ? ` -> ${node.linkname}` : '');
  const size = node.status === 'removed' ? '' : humanSize(row.size);
  const nameWidth = Math.max(1, width - 2 - row.guide.length - fold.length - SIZE_WIDTH - 1);
  return [
    {text: changeGlyph(node.status) + ' ', color, bold: node.status !== 'unchanged'},
    {text: row.guide, color: theme.muted},
    {text: fold, color: theme.muted},
    {text: fit(name, nameWidth), color: node.status === 'unchanged' ? undefined : color, dim: node.status === 'unchanged' && !row.isDir},
    {text: ' ' + fit(size, SIZE_WIDTH, 'right'), color: theme.muted},
  ];
}

export function filesLines(props: Props): Line[] {
  const {files, layer, width, height, focused, theme} = props;
  const inner = width - 2;
  const rows = Math.max(1, height - 3);
  const toggles = [
    files.aggregate ? 'a: all layers up to here' : 'a: this layer only',
    files.hideUnchanged ? 'u: changes only' : 'u: all',
    files.sortBySize ? 's: by size' : 's: by name',
  ].join('  ');
  const lines: Line[] = [[{text: toggles, color: theme.muted}]];
  if (!layer) {
    lines.push([{text: 'no layer selected', color: theme.muted}]);
  } else if (layer.layerIndex === undefined) {
    lines.push([{text: `${layer.instruction || 'this step'}`, color: theme.muted}]);
    lines.push([{text: 'changed only the image config: no files', color: theme.muted}]);
  } else if (files.error) {
    lines.push([{text: `cannot read the layer: ${files.error}`, color: theme.danger}]);
  } else if (files.loading || !files.tree) {
    lines.push([{text: 'reading the layer…', color: theme.muted}]);
  } else if (files.rows.length === 0) {
    lines.push([{text: files.hideUnchanged ? 'no changes in this view (u shows all)' : 'this layer has no files', color: theme.muted}]);
  } else {
    files.rows.slice(files.list.offset, files.list.offset + rows).forEach((row, index) => {
      const line = treeRowLine(row, inner, theme);
      const selected = files.list.offset + index === files.list.cursor;
      lines.push(selected ? highlight(line, focused, {text: theme.selectionText, background: theme.selectionBackground}) : line);
    });
  }
  return lines;
}

function FilesPanelView(props: Props): React.JSX.Element {
  const {files, layer} = props;
  const where = layer?.layerIndex === undefined ? '' : `layer ${layer.layerIndex}`;
  const count = files.tree && files.rows.length > 0 ? ` · ${files.list.cursor + 1}/${files.rows.length}` : '';
  const legend = ' · + added ~ modified - removed';
  return (
    <Frame
      title="3 Files"
      info={`${where}${count}${props.width >= 70 ? legend : ''}`}
      width={props.width}
      height={props.height}
      focused={props.focused}
      theme={props.theme}
      lines={filesLines(props)}
    />
  );
}

export const FilesPanel = memo(FilesPanelView);
