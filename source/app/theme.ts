/**
 * Colours by role, not by hue, so that panels say what a thing is ("added", "danger") and a theme decides how it
 * looks. Changes always carry a glyph as well as a colour, so nothing depends on telling colours apart.
 */
import type {ChangeStatus} from '../../engine/index.js';

export interface Theme {
  readonly accent: string;
  readonly border: string;
  readonly focusBorder: string;
  readonly muted: string;
  readonly title: string;
  readonly selectionText: string;
  readonly selectionBackground: string;
  readonly added: string;
  readonly modified: string;
  readonly removed: string;
  readonly unchanged: string;
  readonly danger: string;
  readonly warning: string;
  readonly success: string;
  readonly cached: string;
  readonly miss: string;
}

export const defaultTheme: Theme = {
  accent: 'cyan',
  border: 'gray',
  focusBorder: 'cyan',
  muted: 'gray',
  title: 'white',
  selectionText: 'black',
  selectionBackground: 'cyan',
  added: 'green',
  modified: 'yellow',
  removed: 'red',
  unchanged: 'white',
  danger: 'red',
  warning: 'yellow',
  success: 'green',
  cached: 'green',
  miss: 'yellow',
};

/** The glyph in front of a file tree row: `+` added, `~` modified, `-` removed, a space for unchanged. */
export function changeGlyph(status: ChangeStatus): string {
  return status === 'added' ? '+' : status === 'modified' ? '~' : status === 'removed' ? '-' : ' ';
}

export function changeColor(theme: Theme, status: ChangeStatus): string {
  return theme[status];
}
