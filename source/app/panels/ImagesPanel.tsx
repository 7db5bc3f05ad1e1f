import React, {memo} from 'react';
import type {ImageSummary} from '../../../engine/index.js';
import {Frame} from '../components/Frame.js';
import {highlight, type Line, type Segment} from '../components/line.js';
import {fit, humanSize, shortId, timeAgo} from '../format.js';
import type {ImagesState} from '../state/workbench.js';
import {visibleSlice} from '../state/list.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly images: ImagesState;
  readonly width: number;
  readonly height: number;
  readonly rows: number;
  readonly focused: boolean;
  readonly now: Date;
  readonly theme: Theme;
};

interface Columns {
  readonly repository: number;
  readonly tag: number;
  readonly id: number;
  readonly created: number;
  readonly size: number;
  readonly note: number;
}

function columnsFor(width: number): Columns {
  // Inside the frame: a 2-column cursor mark, then six columns with 2 spaces between them.
  const room = width - 2 - 2 - 5 * 2;
  const fixed = {id: 12, created: 22, size: 8, note: 14};
  if (room - fixed.id - fixed.created - fixed.size - fixed.note < 24) {
    // Narrow terminal: "3 days ago" still fits; "Less than a second ago" is cut.
    fixed.created = 14;
    fixed.note = 10;
  }
  const rest = room - fixed.id - fixed.created - fixed.size - fixed.note;
  const tag = Math.max(4, Math.min(28, Math.floor(rest * 0.45)));
  return {...fixed, repository: Math.max(4, rest - tag), tag};
}

/** What the NOTE column says: dangling, or what uses the image (lazydocker#509 asks for exactly this). */
export function imageNote(image: ImageSummary): string {
  const uses: string[] = [];
  if (image.containers.length > 0) uses.push(`${image.containers.length} ctr`);
  if (image.children.length > 0) uses.push(`${image.children.length} child${image.children.length === 1 ? '' : 'ren'}`);
  if (uses.length > 0) return `used: ${uses.join(', ')}`;
  return image.dangling ? 'dangling' : '';
}

export function imageLine(image: ImageSummary, columns: Columns, now: Date, theme: Theme): Line {
  const dim = image.dangling || image.repository === '<none>';
  const note = imageNote(image);
  const segments: Segment[] = [
    {text: '  '},
    {text: fit(image.repository, columns.repository) + '  ', dim, bold: !dim},
    {text: fit(image.tag, columns.tag) + '  ', dim, color: dim ? undefined : theme.accent},
    {text: fit(shortId(image.id), columns.id) + '  ', color: theme.muted},
    {text: fit(timeAgo(image.created, now), columns.created) + '  '},
    {text: fit(humanSize(image.size), columns.size, 'right') + '  '},
    {text: fit(note, columns.note), color: note.startsWith('used') ? theme.warning : theme.muted},
  ];
  return segments;
}

export function imagesLines(props: Props): Line[] {
  const {images, width, rows, focused, now, theme} = props;
  const columns = columnsFor(width);
  const header: Line = [{
    text: '  ' + [
      fit('REPOSITORY', columns.repository), fit('TAG', columns.tag), fit('IMAGE ID', columns.id),
      fit('CREATED', columns.created), fit('SIZE', columns.size, 'right'), fit('NOTE', columns.note),
    ].join('  '),
    color: theme.muted,
    bold: true,
  }];
  const lines: Line[] = [header];
  if (images.error) {
    lines.push([{text: `  cannot list images: ${images.error}`, color: theme.danger}]);
    return lines;
  }
  if (!images.loaded) {
    lines.push([{text: '  loading images…', color: theme.muted}]);
    return lines;
  }
  if (images.visible.length === 0) {
    lines.push([{text: images.filter ? `  no image matches "${images.filter}" (Esc clears the filter)` : '  no images yet: press b to build one', color: theme.muted}]);
    return lines;
  }
  const shown = visibleSlice(images.visible, images.list, rows);
  shown.forEach((image, index) => {
    const line = imageLine(image, columns, now, theme);
    const selected = images.list.offset + index === images.list.cursor;
    lines.push(selected ? highlight([{text: '> '}, ...line.slice(1)], focused, {text: theme.selectionText, background: theme.selectionBackground}) : line);
  });
  return lines;
}

function ImagesPanelView(props: Props): React.JSX.Element {
  const {images} = props;
  const count = images.filter ? `${images.visible.length}/${images.all.length}` : `${images.all.length}`;
  const filter = images.filter ? ` · filter "${images.filter}"` : '';
  return (
    <Frame
      title="1 Images"
      info={`${count} · sort: ${images.sort}${filter}`}
      width={props.width}
      height={props.height}
      focused={props.focused}
      theme={props.theme}
      lines={imagesLines(props)}
    />
  );
}

export const ImagesPanel = memo(ImagesPanelView);
