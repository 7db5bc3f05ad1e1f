/**
 * What a key press means in the current state: a list of reducer actions and at most one effect for the engine
 * to carry out (delete, tag, build, read a file...). Pure, so every key of every panel is tested without a
 * terminal.
 */
import {humanSize, shortId, wrap} from '../format.js';
import {resolveKey, type Keymap, type Scope} from '../keymap.js';
import {
  imageRef,
  selectedImage,
  selectedLayerRow,
  selectedTreeRow,
  type Effect,
  type Overlay,
  type WorkbenchAction,
  type WorkbenchState,
} from './workbench.js';

export interface KeyOutcome {
  readonly actions: readonly WorkbenchAction[];
  readonly effect?: Effect;
}

const nothing: KeyOutcome = {actions: []};

function just(...actions: WorkbenchAction[]): KeyOutcome {
  return {actions};
}

function scopeOf(state: WorkbenchState): Scope {
  return state.focus;
}

/**
 * Parses the build prompt: `PATH [-t NAME:TAG]... [-f DOCKERFILE]`. The first word that is not a flag is the
 * context directory.
 */
export function parseBuildPrompt(value: string): {contextDir: string; tags: string[]; dockerfile?: string} {
  const words = value.trim().split(/\s+/).filter(Boolean);
  const tags: string[] = [];
  let contextDir = '';
  let dockerfile: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if ((word === '-t' || word === '--tag') && words[i + 1]) tags.push(words[++i]);
    else if ((word === '-f' || word === '--file') && words[i + 1]) dockerfile = words[++i];
    else if (!contextDir) contextDir = word;
  }
  return {contextDir: contextDir || '.', tags, dockerfile};
}

/** The confirmation for `d`: says exactly what goes (a tag, or the image and its bytes) and what stays. */
export function deleteConfirmation(state: WorkbenchState): Overlay | undefined {
  const image = selectedImage(state);
  if (!image) return undefined;
  const ref = imageRef(image);
  const id = shortId(image.id);
  const lines: string[] = [];
  let title: string;
  const tagged = !image.dangling && image.repository !== '<none>';
  if (tagged && image.repoTags.length > 1) {
    title = `Untag ${ref}?`;
    const others = image.repoTags.filter(tag => tag !== ref);
    lines.push(`Removes the tag ${ref}.`);
    lines.push(`Image ${id} stays: it is also tagged ${others.join(', ')}.`);
    return {kind: 'confirm', title, lines: [...lines, '', 'y untag · n or Esc cancel'], effect: {kind: 'delete', refs: [ref], force: false}};
  }
  title = tagged ? `Delete ${ref}?` : `Delete image ${id}?`;
  lines.push(tagged ? `Removes the tag ${ref} and deletes image ${id}:` : `Deletes the untagged image ${id}:`);
  lines.push(`${humanSize(image.size)}, its config and manifest; layers no other image uses go with it.`);
  const blockers: string[] = [];
  if (image.children.length > 0) blockers.push(`${image.children.length} image${image.children.length === 1 ? ' is' : 's are'} built on it`);
  if (image.containers.length > 0) blockers.push(`${image.containers.length} container${image.containers.length === 1 ? ' uses' : 's use'} it`);
  const effect: Effect = {kind: 'delete', refs: [tagged ? ref : image.id], force: false};
  if (blockers.length > 0) {
    lines.push(`In use: ${blockers.join(' and ')}. A plain delete will be refused; f forces it.`);
    return {kind: 'confirm', title, lines: [...lines, '', 'y delete · f force · n or Esc cancel'], effect, forceEffect: {...effect, force: true}};
  }
  return {kind: 'confirm', title, lines: [...lines, '', 'y delete · n or Esc cancel'], effect};
}

function editPrompt(value: string, keyName: string, input: string): string | undefined {
  if (keyName === 'backspace' || keyName === 'delete') return value.slice(0, -1);
  if (keyName === 'ctrl+u') return '';
  if (keyName === 'ctrl+w') return value.replace(/\S*\s*$/, '');
  if (keyName === 'space') return value + ' ';
  // A paste arrives as one input string; keep its printable characters.
  const printable = input.replace(/[\u0000-\u001f\u007f]/g, '');
  if (printable && !keyName.startsWith('ctrl+') && !keyName.startsWith('alt+')) return value + printable;
  return undefined;
}

function promptKey(state: WorkbenchState, overlay: Extract<Overlay, {kind: 'prompt'}>, keyName: string, input: string): KeyOutcome {
  if (keyName === 'escape') {
    if (overlay.purpose === 'filter') return just({type: 'set-filter', filter: overlay.previous ?? ''}, {type: 'close-overlay'});
    return just({type: 'close-overlay'});
  }
  if (keyName === 'enter') {
    const value = overlay.value.trim();
    switch (overlay.purpose) {
      case 'filter':
        return just({type: 'close-overlay'});
      case 'find':
        return just({type: 'close-overlay'}, {type: 'find', query: value, next: false});
      case 'tag':
        if (!value || !overlay.source) return just({type: 'close-overlay'});
        return {actions: [{type: 'close-overlay'}], effect: {kind: 'tag', source: overlay.source, target: value}};
      case 'build': {
        const parsed = parseBuildPrompt(value);
        return {actions: [{type: 'close-overlay'}], effect: {kind: 'build', ...parsed}};
      }
      case 'watch': {
        const request = parseBuildPrompt(value);
        return {actions: [{type: 'close-overlay'}], effect: {kind: 'watch', request}};
      }
    }
  }
  const value = editPrompt(overlay.value, keyName, input);
  if (value === undefined || value === overlay.value) return nothing;
  const actions: WorkbenchAction[] = [{type: 'prompt-input', value}];
  // The image filter applies while typing, as lazydocker's does.
  if (overlay.purpose === 'filter') actions.push({type: 'set-filter', filter: value});
  return {actions};
}

function overlayKey(state: WorkbenchState, overlay: Overlay, keymap: Keymap, keyName: string, input: string): KeyOutcome {
  switch (overlay.kind) {
    case 'prompt':
      return promptKey(state, overlay, keyName, input);
    case 'confirm':
      if (keyName === 'y' || keyName === 'Y' || keyName === 'enter') return {actions: [{type: 'close-overlay'}], effect: overlay.effect};
      if ((keyName === 'f' || keyName === 'F') && overlay.forceEffect) return {actions: [{type: 'close-overlay'}], effect: overlay.forceEffect};
      if (keyName === 'n' || keyName === 'N' || keyName === 'escape' || keyName === 'q') return just({type: 'close-overlay'});
      return nothing;
    case 'help': {
      const action = resolveKey(keymap, scopeOf(state), keyName);
      if (keyName === 'escape' || keyName === 'enter' || action === 'help' || action === 'quit' || action === 'back') return just({type: 'close-overlay'});
      return nothing;
    }
    case 'file': {
      const action = resolveKey(keymap, 'global', keyName);
      if (keyName === 'escape' || keyName === 'enter' || keyName === 'q' || action === 'back') return just({type: 'close-overlay'});
      if (action === 'up') return just({type: 'move', delta: -1});
      if (action === 'down') return just({type: 'move', delta: 1});
      if (action === 'pageUp') return just({type: 'page', delta: -1});
      if (action === 'pageDown' || keyName === 'space') return just({type: 'page', delta: 1});
      if (action === 'top') return just({type: 'move-to', position: 'top'});
      if (action === 'bottom') return just({type: 'move-to', position: 'bottom'});
      return nothing;
    }
  }
}

export function interpretKey(state: WorkbenchState, keymap: Keymap, keyName: string, input: string): KeyOutcome {
  // A Ctrl key bound to quit works from anywhere, also while typing into a prompt: there must always be a way out.
  if (state.overlay && keyName.startsWith('ctrl+') && resolveKey(keymap, 'global', keyName) === 'quit') {
    return {actions: [], effect: {kind: 'quit'}};
  }
  if (state.overlay) return overlayKey(state, state.overlay, keymap, keyName, input);
  const action = resolveKey(keymap, scopeOf(state), keyName);
  if (!action) return nothing;
  const image = selectedImage(state);
  switch (action) {
    case 'quit':
      return {actions: [], effect: {kind: 'quit'}};
    case 'help':
      return just({type: 'open-overlay', overlay: {kind: 'help'}});
    case 'nextPanel':
      return just({type: 'cycle-focus', delta: 1});
    case 'prevPanel':
      return just({type: 'cycle-focus', delta: -1});
    case 'focusImages':
      return just({type: 'focus', panel: 'images'});
    case 'focusLayers':
      return just({type: 'focus', panel: 'layers'});
    case 'focusFiles':
      return just({type: 'focus', panel: 'files'});
    case 'focusWaste':
      return just({type: 'focus', panel: 'waste'});
    case 'focusBuild':
      return just({type: 'focus', panel: 'build'});
    case 'up':
      return just({type: 'move', delta: -1});
    case 'down':
      return just({type: 'move', delta: 1});
    case 'pageUp':
      return just({type: 'page', delta: -1});
    case 'pageDown':
      return just({type: 'page', delta: 1});
    case 'top':
      return just({type: 'move-to', position: 'top'});
    case 'bottom':
      return just({type: 'move-to', position: 'bottom'});
    case 'prevLayer':
      return just({type: 'step-layer', delta: -1});
    case 'nextLayer':
      return just({type: 'step-layer', delta: 1});
    case 'refresh':
      return {actions: [{type: 'message', message: undefined}], effect: {kind: 'reload'}};
    case 'back':
      if (state.message) return just({type: 'message', message: undefined});
      if (state.focus === 'images' && state.images.filter) return just({type: 'set-filter', filter: ''});
      if (state.focus === 'inspect') return just({type: 'focus', panel: 'files'}, {type: 'focus', panel: 'images'});
      if (state.focus !== 'images') return just({type: 'focus', panel: state.focus === 'files' || state.focus === 'waste' ? 'layers' : 'images'});
      return nothing;
    case 'open':
      switch (state.focus) {
        case 'images':
          return just({type: 'focus', panel: 'layers'});
        case 'layers':
          return just({type: 'focus', panel: 'files'});
        case 'waste':
          return just({type: 'reveal-waste-item'});
        case 'files': {
          const row = selectedTreeRow(state);
          const request = state.files.request;
          if (!row || !request) return nothing;
          if (row.isDir) return just({type: 'fold'});
          if (row.node.status === 'removed') {
            return just({type: 'message', message: {text: `${row.node.path} was removed in this layer: nothing to show`, tone: 'info'}});
          }
          if (row.node.type !== 'file' && row.node.type !== 'hardlink') {
            const target = row.node.linkname ? ` -> ${row.node.linkname}` : '';
            return just({type: 'message', message: {text: `${row.node.path} is a ${row.node.type}${target}`, tone: 'info'}});
          }
          return {
            actions: [{type: 'open-overlay', overlay: {kind: 'file', path: row.node.path, loading: true, lines: [], list: {cursor: 0, offset: 0}}}],
            effect: {kind: 'read-file', imageId: request.imageId, layerIndex: request.layerIndex, path: row.node.path},
          };
        }
        default:
          return nothing;
      }
    case 'filter':
      return just({type: 'open-overlay', overlay: {kind: 'prompt', purpose: 'filter', label: 'Filter images:', value: state.images.filter, previous: state.images.filter}});
    case 'sort':
      return just({type: 'cycle-sort'});
    case 'delete': {
      const overlay = deleteConfirmation(state);
      return overlay ? just({type: 'open-overlay', overlay}) : nothing;
    }
    case 'tag':
      if (!image) return nothing;
      return just({
        type: 'open-overlay',
        overlay: {kind: 'prompt', purpose: 'tag', label: `Tag ${imageRef(image)} as:`, value: '', source: image.dangling ? image.id : imageRef(image)},
      });
    case 'build':
    case 'watch': {
      // `w` while watching stops; otherwise both ask for a context, offering the last one and the image's tag.
      if (action === 'watch' && state.watch) {
        return state.watch.phase === 'stopping' ? nothing : {actions: [{type: 'watch-stopping'}], effect: {kind: 'stop-watch'}};
      }
      // The build panel is the watch's while it runs: one builder at a time, and w stops it.
      if (state.watch) return just({type: 'message', message: {text: 'watching: w stops watching, then b builds', tone: 'info'}});
      const context = state.build.lastContext ?? '.';
      const tag = image && !image.dangling && image.repository !== '<none>' ? ` -t ${imageRef(image)}` : '';
      const label = action === 'build' ? 'Build context [-t name:tag] [-f Dockerfile]:' : 'Watch and rebuild context [-t name:tag] [-f Dockerfile]:';
      return just({type: 'open-overlay', overlay: {kind: 'prompt', purpose: action, label, value: `${context}${tag}`}});
    }
    case 'inspect':
      if (!image) return nothing;
      return {actions: [{type: 'inspect-started', ref: image.id}], effect: {kind: 'inspect', ref: image.id}};
    case 'showInstruction': {
      const row = selectedLayerRow(state);
      if (!row) return nothing;
      const lines = wrap(row.instruction || '(no instruction recorded)', Math.max(10, state.layout.width - 8));
      return just({type: 'open-overlay', overlay: {kind: 'file', path: `step ${row.position + 1}`, loading: false, lines, list: {cursor: 0, offset: 0}}});
    }
    case 'fold':
      return just({type: 'fold'});
    case 'collapse':
      return just({type: 'collapse-or-parent'});
    case 'expand':
      return just({type: 'fold', want: 'expand'});
    case 'aggregate':
      return just({type: 'toggle-aggregate'});
    case 'hideUnchanged':
      return just({type: 'toggle-hide-unchanged'});
    case 'sortBySize':
      return just({type: 'toggle-sort-by-size'});
    case 'find':
      return just({type: 'open-overlay', overlay: {kind: 'prompt', purpose: 'find', label: 'Find path:', value: state.files.query}});
    case 'findNext':
      return state.files.query ? just({type: 'find', query: state.files.query, next: true}) : nothing;
    case 'cancel':
      // A watch's rebuilds are the watch's: w stops it.
      if (state.watch) return just({type: 'message', message: {text: 'watching: w stops watching', tone: 'info'}});
      return state.build.log?.status === 'running' ? {actions: [], effect: {kind: 'cancel-build'}} : nothing;
  }
}
