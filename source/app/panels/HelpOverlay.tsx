import React, {memo} from 'react';
import {Frame} from '../components/Frame.js';
import {fitLine, type Line} from '../components/line.js';
import {displayKey, type Action, type Binding, type Keymap, type Scope} from '../keymap.js';
import type {Theme} from '../theme.js';

type Props = {
  readonly keymap: Keymap;
  readonly scope: Scope;
  readonly configPath?: string;
  readonly warnings: readonly string[];
  readonly width: number;
  readonly height: number;
  readonly theme: Theme;
};

const PANEL_NAMES: Record<Scope, string> = {
  global: 'Everywhere', images: 'Images', layers: 'Layers', files: 'Files', waste: 'Waste', build: 'Build', inspect: 'Inspect',
};

/** The five "go to panel" keys read better as one row. */
const PANEL_JUMPS: readonly Action[] = ['focusImages', 'focusLayers', 'focusFiles', 'focusWaste', 'focusBuild'];

function sectionLines(name: Scope, bindings: readonly Binding[], shadowed: ReadonlySet<string>, keyWidth: number, theme: Theme): Line[] {
  const lines: Line[] = [[{text: `${PANEL_NAMES[name]}${name === 'global' ? '' : ' panel'}`, bold: true, color: theme.accent}]];
  const row = (keys: readonly string[], help: string): void => {
    const label = keys.length > 0 ? keys.map(displayKey).join(', ') : '(unbound)';
    lines.push([{text: ' ' + label.padEnd(keyWidth - 1) + ' ', color: keys.length > 0 ? theme.title : theme.muted, bold: true}, {text: help}]);
  };
  const jumps = bindings.filter(binding => PANEL_JUMPS.includes(binding.action));
  for (const binding of bindings) {
    const keys = binding.keys.filter(key => !shadowed.has(key));
    if (jumps.length > 0 && binding === jumps[0]) {
      const keys = jumps.map(jump => jump.keys.filter(key => !shadowed.has(key))[0] ?? '·');
      const label = keys.join('') === '12345' ? '1-5' : keys.map(displayKey).join(' ');
      lines.push([{text: ' ' + label.padEnd(keyWidth - 1) + ' ', color: theme.title, bold: true}, {text: 'go to Images, Layers, Files, Waste, Build'}]);
      continue;
    }
    if (jumps.includes(binding)) continue;
    row(keys, binding.help);
  }
  return lines;
}

/**
 * Every key of the focused panel, then the keys that work everywhere (minus those the panel takes over), as
 * the keymap has them after remapping. Side by side when one column is not tall enough.
 */
export function helpLines({keymap, scope, configPath, warnings, width, height, theme}: Props): Line[] {
  const panelBindings = scope === 'global' ? [] : (keymap.bindings.get(scope) ?? []);
  const panelKeys = new Set(panelBindings.flatMap(binding => binding.keys));
  const footer: Line[] = [[{text: `Keys are remappable in ${configPath ?? '$XDG_CONFIG_HOME/strata/config.json'}`, color: theme.muted}]];
  for (const warning of warnings) footer.push([{text: `config: ${warning}`, color: theme.warning}]);
  const room = height - 2 - footer.length - 1;
  const inner = width - 2;
  const single = [
    ...(panelBindings.length > 0 ? sectionLines(scope, panelBindings, new Set(), 16, theme) : []),
    ...sectionLines('global', keymap.bindings.get('global') ?? [], panelKeys, 16, theme),
  ];
  if (single.length <= room || panelBindings.length === 0) return [...single.slice(0, room), [], ...footer];
  const column = Math.floor(inner / 2);
  const left = sectionLines(scope, panelBindings, new Set(), 14, theme);
  const right = sectionLines('global', keymap.bindings.get('global') ?? [], panelKeys, 14, theme);
  const rows: Line[] = [];
  for (let i = 0; i < Math.min(room, Math.max(left.length, right.length)); i++) {
    rows.push([...fitLine(left[i] ?? [], column - 1), {text: ' '}, ...(right[i] ?? [])]);
  }
  return [...rows, [], ...footer];
}

function HelpOverlayView(props: Props): React.JSX.Element {
  return (
    <Frame
      title={`Help: ${PANEL_NAMES[props.scope]} keys`}
      info="Esc or ? closes"
      width={props.width}
      height={props.height}
      focused
      theme={props.theme}
      lines={helpLines(props)}
    />
  );
}

export const HelpOverlay = memo(HelpOverlayView);
