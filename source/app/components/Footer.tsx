import React, {memo} from 'react';
import {displayKey, type Action, type Keymap, type Scope} from '../keymap.js';
import {fitLine, type Line} from './line.js';
import {LinesView} from './LineView.js';
import type {Message, Overlay} from '../state/workbench.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly keymap: Keymap;
  readonly scope: Scope;
  readonly overlay?: Overlay;
  readonly message?: Message;
  readonly width: number;
  readonly theme: Theme;
};

/** The few keys worth a hint per panel; `?` lists them all. */
const HINTS: Record<Scope, readonly Action[]> = {
  global: [],
  images: ['open', 'filter', 'sort', 'delete', 'tag', 'build', 'inspect', 'nextLayer'],
  layers: ['nextLayer', 'prevLayer', 'open', 'showInstruction'],
  files: ['open', 'aggregate', 'hideUnchanged', 'sortBySize', 'find', 'findNext'],
  waste: ['open'],
  build: ['cancel', 'build'],
  inspect: ['back'],
};

const SHORT: Partial<Record<Action, string>> = {
  open: 'open', filter: 'filter', sort: 'sort', delete: 'delete', tag: 'tag', build: 'build', inspect: 'inspect',
  nextLayer: 'next layer', prevLayer: 'prev layer', aggregate: 'aggregate', hideUnchanged: 'changes only',
  sortBySize: 'by size', find: 'find', findNext: 'next match', cancel: 'cancel', back: 'back', showInstruction: 'full step',
  nextPanel: 'panels', help: 'help',
};

export function hintLine(keymap: Keymap, scope: Scope, theme: Theme): Line {
  const line: Line[number][] = [];
  for (const action of [...HINTS[scope], 'nextPanel' as Action, 'help' as Action]) {
    const binding = keymap.bindings.get(scope)?.find(entry => entry.action === action) ?? keymap.bindings.get('global')?.find(entry => entry.action === action);
    const key = binding?.keys[0];
    if (!key) continue;
    line.push({text: ` ${displayKey(key)}`, color: theme.accent, bold: true}, {text: ` ${SHORT[action] ?? action} `, color: theme.muted});
  }
  return line;
}

function FooterView({keymap, scope, overlay, message, width, theme}: Props): React.JSX.Element {
  let line: Line;
  if (overlay?.kind === 'prompt') {
    line = [
      {text: ` ${overlay.label} `, bold: true, color: theme.accent},
      {text: overlay.value},
      {text: ' ', inverse: true},
      {text: '  Enter ok · Esc cancel', color: theme.muted},
    ];
  } else if (message) {
    const color = message.tone === 'error' ? theme.danger : message.tone === 'success' ? theme.success : theme.title;
    line = [{text: ` ${message.text}`, color, bold: message.tone === 'error'}];
  } else {
    line = hintLine(keymap, scope, theme);
  }
  return <LinesView lines={[fitLine(line, width)]}/>;
}

export const Footer = memo(FooterView);
