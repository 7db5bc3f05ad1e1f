/**
 * Key bindings of the workbench: named actions per scope, the defaults (what lazydocker and dive users already
 * know), and the remapping read from `$XDG_CONFIG_HOME/strata/config.json`.
 *
 * A key is named as a short string: a printable character as itself (`q`, `?`, `G`, `[`), or one of `up`,
 * `down`, `left`, `right`, `pageup`, `pagedown`, `home`, `end`, `enter`, `escape`, `tab`, `shift+tab`, `space`,
 * `backspace`, `delete`, optionally prefixed with `ctrl+` or `alt+` (`ctrl+c`, `alt+x`).
 *
 * Lookup goes from the focused panel's scope to the global scope, so a panel key shadows a global one.
 */
import type {Key} from 'ink';

export type Scope = 'global' | 'images' | 'layers' | 'files' | 'waste' | 'build' | 'inspect';

/** Every action with the keys that trigger it by default, and the line the help overlay shows. */
const DEFAULTS = {
  global: {
    quit: {keys: ['q', 'ctrl+c'], help: 'quit'},
    help: {keys: ['?'], help: 'show or hide this help'},
    nextPanel: {keys: ['tab'], help: 'next panel'},
    prevPanel: {keys: ['shift+tab'], help: 'previous panel'},
    focusImages: {keys: ['1'], help: 'go to Images'},
    focusLayers: {keys: ['2'], help: 'go to Layers'},
    focusFiles: {keys: ['3'], help: 'go to Files'},
    focusWaste: {keys: ['4'], help: 'go to Waste'},
    focusBuild: {keys: ['5'], help: 'go to Build output'},
    up: {keys: ['k', 'up'], help: 'move up'},
    down: {keys: ['j', 'down'], help: 'move down'},
    pageUp: {keys: ['pageup', 'ctrl+u'], help: 'page up'},
    pageDown: {keys: ['pagedown', 'ctrl+d'], help: 'page down'},
    top: {keys: ['g', 'home'], help: 'go to the top'},
    bottom: {keys: ['G', 'end'], help: 'go to the bottom'},
    back: {keys: ['escape'], help: 'close, clear or go back'},
    prevLayer: {keys: ['['], help: 'previous layer'},
    nextLayer: {keys: [']'], help: 'next layer'},
    refresh: {keys: ['r', 'ctrl+r'], help: 'reload from the store'},
    watch: {keys: ['w'], help: 'watch a context and rebuild on every save, or stop watching'},
  },
  images: {
    open: {keys: ['enter'], help: 'show the layers of the image'},
    filter: {keys: ['/'], help: 'filter by name, tag or ID'},
    sort: {keys: ['s'], help: 'sort by name, size or age'},
    delete: {keys: ['d'], help: 'delete or untag (asks first)'},
    tag: {keys: ['t'], help: 'tag the image'},
    build: {keys: ['b'], help: 'build a context (asks the path)'},
    inspect: {keys: ['i'], help: 'inspect the image (JSON)'},
    prevLayer: {keys: ['left'], help: 'previous layer'},
    nextLayer: {keys: ['right'], help: 'next layer'},
  },
  layers: {
    open: {keys: ['enter'], help: 'show the files of the layer'},
    prevLayer: {keys: ['left', 'h'], help: 'previous layer'},
    nextLayer: {keys: ['right', 'l'], help: 'next layer'},
    showInstruction: {keys: ['v'], help: 'show the whole instruction'},
    inspect: {keys: ['i'], help: 'inspect the image (JSON)'},
  },
  files: {
    open: {keys: ['enter'], help: 'fold a folder, or show a file'},
    fold: {keys: ['space'], help: 'fold or unfold a folder'},
    collapse: {keys: ['left', 'h'], help: 'fold, or go to the parent'},
    expand: {keys: ['right', 'l'], help: 'unfold the folder'},
    aggregate: {keys: ['a'], help: 'this layer only / all up to here'},
    hideUnchanged: {keys: ['u'], help: 'hide or show unchanged files'},
    sortBySize: {keys: ['s'], help: 'sort by size or by name'},
    find: {keys: ['/'], help: 'find a path'},
    findNext: {keys: ['n'], help: 'next match'},
  },
  waste: {
    open: {keys: ['enter'], help: 'show the file in its layer'},
  },
  build: {
    cancel: {keys: ['x'], help: 'cancel the running build'},
    build: {keys: ['b'], help: 'build again'},
  },
  inspect: {},
} as const satisfies Record<Scope, Record<string, {keys: readonly string[]; help: string}>>;

type Defaults = typeof DEFAULTS;
export type Action = {[S in Scope]: keyof Defaults[S]}[Scope] & string;

export interface Binding {
  readonly action: Action;
  readonly keys: readonly string[];
  readonly help: string;
}

export interface Keymap {
  /** scope -> key name -> action */
  readonly byKey: ReadonlyMap<Scope, ReadonlyMap<string, Action>>;
  /** scope -> bindings in declaration order, for the help overlay and the hint bar */
  readonly bindings: ReadonlyMap<Scope, readonly Binding[]>;
}

/** The shape of the `keys` section of config.json: scope -> action -> key or keys. */
export type KeyConfig = Partial<Record<string, Record<string, string | readonly string[]>>>;

export const SCOPES: readonly Scope[] = ['global', 'images', 'layers', 'files', 'waste', 'build', 'inspect'];

const NAMED_KEYS = new Set([
  'up', 'down', 'left', 'right', 'pageup', 'pagedown', 'home', 'end', 'enter', 'escape', 'tab', 'shift+tab',
  'space', 'backspace', 'delete',
]);

/** Normalises a key spec from the config (`Ctrl+C`, `Esc`, `Return`) to the names this module uses; undefined when invalid. */
export function normalizeKeySpec(spec: string): string | undefined {
  if (typeof spec !== 'string' || spec.length === 0) return undefined;
  if (spec.length === 1) return spec === ' ' ? 'space' : spec;
  const lower = spec.toLowerCase();
  const aliases: Record<string, string> = {esc: 'escape', return: 'enter', pgup: 'pageup', pgdn: 'pagedown', 'backtab': 'shift+tab'};
  const named = aliases[lower] ?? lower;
  if (NAMED_KEYS.has(named)) return named;
  const modifier = /^(ctrl|alt)\+(.+)$/.exec(lower);
  if (modifier) {
    const rest = spec.slice(modifier[1].length + 1);
    const base = rest.length === 1 ? rest.toLowerCase() : (aliases[rest.toLowerCase()] ?? rest.toLowerCase());
    if (rest.length === 1 || NAMED_KEYS.has(base)) return `${modifier[1]}+${base}`;
  }
  return undefined;
}

/** Names the key ink reported, in the same notation as the bindings. Empty string for keys we do not name. */
export function keyNameOf(input: string, key: Key): string {
  if (key.escape) return 'escape';
  if (key.tab) return key.shift ? 'shift+tab' : 'tab';
  const named =
    key.upArrow ? 'up' : key.downArrow ? 'down' : key.leftArrow ? 'left' : key.rightArrow ? 'right'
      : key.pageUp ? 'pageup' : key.pageDown ? 'pagedown' : key.home ? 'home' : key.end ? 'end'
        : key.return ? 'enter' : key.backspace ? 'backspace' : key.delete ? 'delete' : undefined;
  const prefix = key.ctrl ? 'ctrl+' : key.meta ? 'alt+' : '';
  if (named) return prefix + named;
  if (input === ' ') return prefix + 'space';
  if (input.length === 1) return prefix + (key.ctrl ? input.toLowerCase() : input);
  return '';
}

/**
 * Builds the keymap: for each scope, the configured keys of an action replace its default keys; a key taken by a
 * configured action is removed from the defaults of other actions in the same scope. Unknown scopes, actions
 * and key names are reported in `warnings` and otherwise ignored, so a typo never locks the user out.
 */
export function buildKeymap(config?: KeyConfig): {keymap: Keymap; warnings: string[]} {
  const warnings: string[] = [];
  const byKey = new Map<Scope, Map<string, Action>>();
  const bindings = new Map<Scope, Binding[]>();
  for (const scope of Object.keys(config ?? {})) {
    if (!SCOPES.includes(scope as Scope)) warnings.push(`unknown key scope "${scope}" (known: ${SCOPES.join(', ')})`);
  }
  for (const scope of SCOPES) {
    const defaults = DEFAULTS[scope] as Record<string, {keys: readonly string[]; help: string}>;
    const overrides = new Map<string, string[]>();
    for (const [action, value] of Object.entries(config?.[scope] ?? {})) {
      if (!(action in defaults)) {
        warnings.push(`unknown action "${scope}.${action}" (known: ${Object.keys(defaults).join(', ')})`);
        continue;
      }
      const specs = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
      const keys: string[] = [];
      for (const spec of specs) {
        const name = normalizeKeySpec(spec);
        if (name) keys.push(name);
        else warnings.push(`unknown key "${String(spec)}" for "${scope}.${action}"`);
      }
      overrides.set(action, keys);
    }
    const taken = new Set([...overrides.values()].flat());
    const scopeKeys = new Map<string, Action>();
    const scopeBindings: Binding[] = [];
    for (const [action, {keys: defaultKeys, help}] of Object.entries(defaults)) {
      const keys = overrides.get(action) ?? defaultKeys.filter(key => !taken.has(key));
      for (const key of keys) if (!scopeKeys.has(key)) scopeKeys.set(key, action as Action);
      scopeBindings.push({action: action as Action, keys, help});
    }
    byKey.set(scope, scopeKeys);
    bindings.set(scope, scopeBindings);
  }
  return {keymap: {byKey, bindings}, warnings};
}

/** The action a key triggers in the focused scope, falling back to the global scope. */
export function resolveKey(keymap: Keymap, scope: Scope, keyName: string): Action | undefined {
  if (!keyName) return undefined;
  return keymap.byKey.get(scope)?.get(keyName) ?? keymap.byKey.get('global')?.get(keyName);
}

/** The first key bound to an action (as the hint bar shows it), or undefined when the user unbound it. */
export function keyFor(keymap: Keymap, scope: Scope, action: Action): string | undefined {
  const binding = keymap.bindings.get(scope)?.find(entry => entry.action === action)
    ?? keymap.bindings.get('global')?.find(entry => entry.action === action);
  return binding?.keys[0];
}

/** The key names shown to users: `enter` reads better as `Enter`, `[` stays `[`. */
export function displayKey(key: string): string {
  const pretty: Record<string, string> = {
    up: '↑', down: '↓', left: '←', right: '→', enter: 'Enter', escape: 'Esc', tab: 'Tab', 'shift+tab': 'Shift-Tab',
    space: 'Space', pageup: 'PgUp', pagedown: 'PgDn', home: 'Home', end: 'End', backspace: 'Backspace', delete: 'Del',
  };
  const modifier = /^(ctrl|alt)\+(.+)$/.exec(key);
  if (modifier && key !== 'shift+tab') return `${modifier[1] === 'ctrl' ? 'Ctrl' : 'Alt'}-${pretty[modifier[2]] ?? modifier[2]}`;
  return pretty[key] ?? key;
}
