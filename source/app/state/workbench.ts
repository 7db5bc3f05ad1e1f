/**
 * The workbench's whole UI state and the one pure reducer over a union of actions. Engine results come in as
 * `*-loaded` actions carrying the key they were asked for, so a late answer for an image the user has already
 * left is dropped instead of shown.
 *
 * Derived data that is costly (sorted and filtered images, tree rows) is computed here when its inputs change,
 * never while drawing, so that a key press costs a cursor move and a redraw of the visible rows.
 */
import {
  isWatchOwnEvent,
  type BuildEvent,
  type FileTreeNode,
  type HistoryRow,
  type ImageSummary,
  type LayerFile,
  type LayerInfo,
  type WasteReport,
  type WatchEvent,
} from '../../../engine/index.js';
import {instructionText} from '../format.js';
import {buildLines, cacheVerdicts, reduceBuildEvent, startBuildLog, type BuildLog} from './build-log.js';
import {computeLayout, type Layout} from './layout.js';
import {clamp, emptyCursor, moveBy, moveTo, scrollBy, type ListCursor} from './list.js';
import {findPath, flattenTree, hasPath, revealPath, toggleFold, TreeRows, type TreeRow, type TreeViewOptions} from './tree-view.js';
import {reduceWatchEvent, startWatchStatus, type WatchRequest, type WatchStatus} from './watch-status.js';

export type PanelId = 'images' | 'layers' | 'files' | 'waste' | 'build' | 'inspect';
export type RightPanel = 'files' | 'waste' | 'build' | 'inspect';
export type ImageSort = 'name' | 'size' | 'age';

/** One step of the selected image, base first: a layer, or a metadata-only history entry. */
export interface LayerRow {
  readonly position: number;
  /** Index among the image's layers, when the step made one. */
  readonly layerIndex?: number;
  readonly instruction: string;
  readonly created?: string;
  readonly size: number;
  readonly emptyLayer: boolean;
  readonly digest?: string;
  readonly comment?: string;
}

export type Effect =
  | {readonly kind: 'quit'}
  | {readonly kind: 'reload'}
  | {readonly kind: 'delete'; readonly refs: readonly string[]; readonly force: boolean}
  | {readonly kind: 'tag'; readonly source: string; readonly target: string}
  | {readonly kind: 'build'; readonly contextDir: string; readonly dockerfile?: string; readonly tags: readonly string[]}
  | {readonly kind: 'cancel-build'}
  | {readonly kind: 'watch'; readonly request: WatchRequest}
  | {readonly kind: 'stop-watch'}
  | {readonly kind: 'inspect'; readonly ref: string}
  | {readonly kind: 'read-file'; readonly imageId: string; readonly layerIndex: number; readonly path: string};

export type PromptPurpose = 'filter' | 'find' | 'tag' | 'build' | 'watch';

export type Overlay =
  | {readonly kind: 'help'}
  | {
    readonly kind: 'confirm';
    readonly title: string;
    readonly lines: readonly string[];
    readonly effect: Effect;
    /** Offered as `f` when the plain action would be refused (children, containers). */
    readonly forceEffect?: Effect;
  }
  | {
    readonly kind: 'prompt';
    readonly purpose: PromptPurpose;
    readonly label: string;
    readonly value: string;
    /** What Esc restores (the filter before typing started). */
    readonly previous?: string;
    /** The image a tag prompt applies to. */
    readonly source?: string;
  }
  | {
    readonly kind: 'file';
    readonly path: string;
    readonly loading: boolean;
    readonly lines: readonly string[];
    readonly note?: string;
    readonly error?: string;
    readonly list: ListCursor;
  };

export interface Message {
  readonly text: string;
  readonly tone: 'info' | 'success' | 'error';
}

export interface ImagesState {
  readonly all: readonly ImageSummary[];
  readonly visible: readonly ImageSummary[];
  readonly loaded: boolean;
  readonly error?: string;
  readonly sort: ImageSort;
  readonly filter: string;
  readonly list: ListCursor;
}

export interface DetailState {
  readonly imageId?: string;
  readonly loading: boolean;
  readonly error?: string;
  readonly rows: readonly LayerRow[];
  readonly list: ListCursor;
  /** The step to select once the rows arrive (a rebuilt image shown in place of the one it replaced). */
  readonly keepPosition?: number;
}

export interface FilesRequest {
  readonly imageId: string;
  readonly layerIndex: number;
  readonly aggregate: boolean;
}

export interface FilesState {
  readonly request?: FilesRequest;
  readonly loading: boolean;
  readonly error?: string;
  readonly tree?: FileTreeNode;
  readonly rows: TreeRows;
  readonly aggregate: boolean;
  readonly hideUnchanged: boolean;
  readonly sortBySize: boolean;
  readonly collapsed: ReadonlySet<string>;
  readonly list: ListCursor;
  readonly query: string;
  /** A path to select once the tree that holds it arrives (from the waste panel). */
  readonly pendingReveal?: string;
}

export interface WasteState {
  readonly imageId?: string;
  readonly loading: boolean;
  readonly error?: string;
  readonly report?: WasteReport;
  readonly list: ListCursor;
}

export interface InspectState {
  readonly ref?: string;
  readonly loading: boolean;
  readonly error?: string;
  readonly lines: readonly string[];
  readonly list: ListCursor;
}

export interface BuildPanelState {
  readonly log?: BuildLog;
  readonly list: ListCursor;
  /** Keep the newest line in view while the build runs, until the user scrolls up. */
  readonly follow: boolean;
  /** Context of the last build started here, offered again by `b`. */
  readonly lastContext?: string;
  /** CACHED / built per instruction from the last finished build, for the layers panel. */
  readonly verdicts: ReadonlyMap<string, 'cached' | 'built'>;
}

export interface WorkbenchState {
  readonly layout: Layout;
  readonly now: Date;
  readonly focus: PanelId;
  readonly right: RightPanel;
  readonly overlay?: Overlay;
  readonly message?: Message;
  readonly images: ImagesState;
  readonly detail: DetailState;
  readonly files: FilesState;
  readonly waste: WasteState;
  readonly inspect: InspectState;
  readonly build: BuildPanelState;
  /** The watch session, while one runs. */
  readonly watch?: WatchStatus;
}

export type WorkbenchAction =
  | {readonly type: 'resize'; readonly columns: number; readonly rows: number}
  | {readonly type: 'tick'; readonly now: Date}
  | {readonly type: 'focus'; readonly panel: PanelId}
  | {readonly type: 'cycle-focus'; readonly delta: 1 | -1}
  | {readonly type: 'move'; readonly delta: number}
  | {readonly type: 'move-to'; readonly position: 'top' | 'bottom'}
  | {readonly type: 'page'; readonly delta: 1 | -1}
  | {readonly type: 'step-layer'; readonly delta: 1 | -1}
  | {readonly type: 'images-loaded'; readonly images: readonly ImageSummary[]; readonly now: Date}
  | {readonly type: 'images-failed'; readonly error: string}
  | {readonly type: 'cycle-sort'}
  | {readonly type: 'set-filter'; readonly filter: string}
  | {readonly type: 'detail-loaded'; readonly imageId: string; readonly history: readonly HistoryRow[]; readonly layers: readonly LayerInfo[]}
  | {readonly type: 'detail-failed'; readonly imageId: string; readonly error: string}
  | {readonly type: 'tree-loaded'; readonly request: FilesRequest; readonly tree: FileTreeNode}
  | {readonly type: 'tree-failed'; readonly request: FilesRequest; readonly error: string}
  | {readonly type: 'toggle-aggregate'}
  | {readonly type: 'toggle-hide-unchanged'}
  | {readonly type: 'toggle-sort-by-size'}
  | {readonly type: 'fold'; readonly want?: 'expand' | 'collapse'}
  | {readonly type: 'collapse-or-parent'}
  | {readonly type: 'find'; readonly query: string; readonly next: boolean}
  | {readonly type: 'reveal-waste-item'}
  | {readonly type: 'waste-loaded'; readonly imageId: string; readonly report: WasteReport}
  | {readonly type: 'waste-failed'; readonly imageId: string; readonly error: string}
  | {readonly type: 'inspect-started'; readonly ref: string}
  | {readonly type: 'inspect-loaded'; readonly ref: string; readonly json: unknown}
  | {readonly type: 'inspect-failed'; readonly ref: string; readonly error: string}
  | {readonly type: 'open-overlay'; readonly overlay: Overlay}
  | {readonly type: 'close-overlay'}
  | {readonly type: 'prompt-input'; readonly value: string}
  | {readonly type: 'file-loaded'; readonly path: string; readonly file: LayerFile}
  | {readonly type: 'file-failed'; readonly path: string; readonly error: string}
  | {readonly type: 'build-started'; readonly contextDir: string; readonly tags: readonly string[]}
  | {readonly type: 'build-event'; readonly event: BuildEvent}
  | {readonly type: 'build-error'; readonly error: string; readonly excerpt?: string}
  | {readonly type: 'build-cancelled'}
  | {readonly type: 'select-image'; readonly id: string; readonly ref?: string; readonly layerPosition?: number}
  | {readonly type: 'watch-starting'; readonly request: WatchRequest}
  | {readonly type: 'watch-event'; readonly event: WatchEvent; readonly now: Date}
  | {readonly type: 'watch-stopping'}
  | {readonly type: 'watch-ended'; readonly error?: string}
  | {readonly type: 'message'; readonly message?: Message};

/** `lastContext`: the context `b` and `w` offer before anything was built here (the demo's project). */
export function initialState(options: {columns: number; rows: number; now: Date; lastContext?: string}): WorkbenchState {
  return {
    layout: computeLayout(options.columns, options.rows),
    now: options.now,
    focus: 'images',
    right: 'files',
    images: {all: [], visible: [], loaded: false, sort: 'name', filter: '', list: emptyCursor},
    detail: {loading: false, rows: [], list: emptyCursor},
    files: {
      loading: false,
      rows: TreeRows.empty,
      aggregate: false,
      hideUnchanged: false,
      sortBySize: false,
      collapsed: new Set(),
      list: emptyCursor,
      query: '',
    },
    waste: {loading: false, list: emptyCursor},
    inspect: {loading: false, lines: [], list: emptyCursor},
    build: {list: emptyCursor, follow: true, verdicts: new Map(), lastContext: options.lastContext},
  };
}

// ---------------------------------------------------------------------------------------------- selectors

export function selectedImage(state: WorkbenchState): ImageSummary | undefined {
  return state.images.visible[state.images.list.cursor];
}

/** The reference to show and to act on: `repo:tag` for a tagged row, the short ID for a dangling one. */
export function imageRef(image: ImageSummary): string {
  return image.repository === '<none>' || image.tag === '<none>'
    ? image.id.replace(/^sha256:/, '').slice(0, 12)
    : `${image.repository}:${image.tag}`;
}

export function selectedLayerRow(state: WorkbenchState): LayerRow | undefined {
  return state.detail.rows[state.detail.list.cursor];
}

export function selectedTreeRow(state: WorkbenchState): TreeRow | undefined {
  return state.files.rows.at(state.files.list.cursor);
}

/** The tree the files panel should show now, or undefined (no image, or a metadata-only step). */
export function wantedFiles(state: WorkbenchState): FilesRequest | undefined {
  const imageId = state.detail.imageId;
  const row = selectedLayerRow(state);
  if (!imageId || !row || row.layerIndex === undefined || state.detail.loading) return undefined;
  return {imageId, layerIndex: row.layerIndex, aggregate: state.files.aggregate};
}

export function sameRequest(a: FilesRequest | undefined, b: FilesRequest | undefined): boolean {
  return a?.imageId === b?.imageId && a?.layerIndex === b?.layerIndex && a?.aggregate === b?.aggregate;
}

/** Panels that Tab cycles through, in order; Build only once a build has been started. */
export function panelOrder(state: WorkbenchState): readonly PanelId[] {
  return state.build.log ? ['images', 'layers', 'files', 'waste', 'build'] : ['images', 'layers', 'files', 'waste'];
}

/** Rows each panel's list shows, from the layout. */
export function viewportOf(state: WorkbenchState, panel: PanelId | 'file'): number {
  const {layout} = state;
  switch (panel) {
    case 'images':
      return layout.imagesRows;
    case 'layers':
      return layout.layersRows;
    case 'files':
      return Math.max(1, layout.rightRows - 1);
    case 'waste':
      return Math.max(1, layout.rightRows - 3);
    case 'build':
    case 'inspect':
      return Math.max(1, layout.rightRows);
    case 'file':
      return Math.max(1, layout.overlayRows - 1);
  }
}

// ---------------------------------------------------------------------------------------------- images

function imageKey(image: ImageSummary | undefined): string | undefined {
  return image ? `${image.id}|${image.repository}:${image.tag}` : undefined;
}

/** The same order as `localeCompare` without arguments, without building a collator for every comparison. */
const compareText = new Intl.Collator().compare;

function compareImages(sort: ImageSort): (a: ImageSummary, b: ImageSummary) => number {
  const byName = (a: ImageSummary, b: ImageSummary): number => {
    // `<none>` sorts last, as lazydocker and docker users expect.
    const aNone = a.repository === '<none>' ? 1 : 0;
    const bNone = b.repository === '<none>' ? 1 : 0;
    if (aNone !== bNone) return aNone - bNone;
    const name = compareText(a.repository, b.repository) || compareText(a.tag, b.tag);
    return name || compareText(a.id, b.id);
  };
  if (sort === 'size') return (a, b) => b.size - a.size || byName(a, b);
  if (sort === 'age') return (a, b) => (Date.parse(b.created ?? '') || 0) - (Date.parse(a.created ?? '') || 0) || byName(a, b);
  return byName;
}

export function visibleImages(all: readonly ImageSummary[], sort: ImageSort, filter: string): ImageSummary[] {
  const needle = filter.trim().toLowerCase();
  const kept = needle
    ? all.filter(image =>
      `${image.repository}:${image.tag}`.toLowerCase().includes(needle) || image.id.replace(/^sha256:/, '').startsWith(needle))
    : all.slice();
  return kept.sort(compareImages(sort));
}

function withImages(state: WorkbenchState, images: Partial<ImagesState>): WorkbenchState {
  const before = imageKey(selectedImage(state));
  const merged = {...state.images, ...images};
  const visible = visibleImages(merged.all, merged.sort, merged.filter);
  const keep = before === undefined ? -1 : visible.findIndex(image => imageKey(image) === before);
  const viewport = viewportOf(state, 'images');
  const list = keep >= 0 ? moveTo(merged.list, keep, visible.length, viewport) : clamp(merged.list, visible.length, viewport);
  return syncDetail({...state, images: {...merged, visible, list}});
}

// ---------------------------------------------------------------------------------------------- detail

export function layerRows(history: readonly HistoryRow[], layers: readonly LayerInfo[]): LayerRow[] {
  if (history.length === 0) {
    return layers.map((layer, position) => ({
      position,
      layerIndex: layer.index,
      instruction: instructionText(layer.createdBy) || `layer ${layer.index}`,
      created: layer.created,
      size: layer.size,
      emptyLayer: false,
      digest: layer.digest,
      comment: layer.comment,
    }));
  }
  return [...history].reverse().map((row, position) => ({
    position,
    layerIndex: row.emptyLayer ? undefined : row.layerIndex,
    // An imported layer records no instruction; its comment ("Imported from ...") says where it came from.
    instruction: instructionText(row.createdBy) || (row.comment && !row.comment.startsWith('buildkit.') ? `# ${row.comment}` : ''),
    created: row.created,
    size: row.size,
    emptyLayer: row.emptyLayer,
    digest: row.layerIndex === undefined ? undefined : layers[row.layerIndex]?.digest,
    comment: row.comment,
  }));
}

/** Points the layers panel at the selected image; clears it when the image changed. */
function syncDetail(state: WorkbenchState): WorkbenchState {
  const imageId = selectedImage(state)?.id;
  if (imageId === state.detail.imageId) return state;
  const detail: DetailState = {imageId, loading: imageId !== undefined, rows: [], list: emptyCursor};
  const waste: WasteState = {imageId, loading: imageId !== undefined, list: emptyCursor};
  return syncFiles({...state, detail, waste});
}

/** Points the files panel at the selected layer; the old tree goes, the new one loads. */
function syncFiles(state: WorkbenchState): WorkbenchState {
  const wanted = wantedFiles(state);
  if (sameRequest(wanted, state.files.request)) return state;
  const keepPath = selectedTreeRow(state)?.node.path;
  return {
    ...state,
    files: {
      ...state.files,
      request: wanted,
      loading: wanted !== undefined,
      error: undefined,
      tree: undefined,
      rows: TreeRows.empty,
      list: emptyCursor,
      pendingReveal: state.files.pendingReveal ?? keepPath,
    },
  };
}

function treeOptions(files: FilesState): TreeViewOptions {
  return {collapsed: files.collapsed, hideUnchanged: files.hideUnchanged, sortBySize: files.sortBySize};
}

/** Rebuilds the rows after a view option changed, keeping the cursor on the same path when it is still shown. */
function withTreeRows(state: WorkbenchState, files: FilesState, selectPath?: string): WorkbenchState {
  if (!files.tree) return {...state, files};
  const rows = flattenTree(files.tree, treeOptions(files));
  const path = selectPath ?? selectedTreeRow(state)?.node.path;
  const index = path === undefined ? -1 : rows.indexOfPath(path);
  const viewport = viewportOf(state, 'files');
  const list = index >= 0 ? moveTo(files.list, index, rows.length, viewport) : clamp(files.list, rows.length, viewport);
  return {...state, files: {...files, rows, list}};
}

/**
 * Selects `path` (centred), unfolding the folders above it. `rowsShown` says the rows are those of the tree
 * now shown: then, when no folder had to unfold, they are kept as they are instead of being made again.
 */
function revealInTree(state: WorkbenchState, path: string, rowsShown = false): WorkbenchState {
  const collapsed = revealPath(state.files.collapsed, path);
  // revealPath only unfolds: the same size means nothing above the path was folded.
  const keepRows = rowsShown && collapsed.size === state.files.collapsed.size;
  const viewport = viewportOf(state, 'files');
  let next: WorkbenchState;
  if (keepRows) {
    const index = state.files.rows.indexOfPath(path);
    const list = index >= 0 ? moveTo(state.files.list, index, state.files.rows.length, viewport) : state.files.list;
    next = {...state, files: {...state.files, pendingReveal: undefined, list}};
  } else {
    next = withTreeRows(state, {...state.files, collapsed, pendingReveal: undefined}, path);
  }
  // Centre the found row so the user sees where it is.
  const cursor = next.files.list.cursor;
  const offset = Math.min(Math.max(0, cursor - Math.floor(viewport / 2)), Math.max(0, next.files.rows.length - viewport));
  return {...next, files: {...next.files, list: {cursor, offset}}};
}

// ---------------------------------------------------------------------------------------------- lists

function moveFocused(state: WorkbenchState, how: (list: ListCursor, count: number, viewport: number) => ListCursor): WorkbenchState {
  switch (state.focus) {
    case 'images': {
      const list = how(state.images.list, state.images.visible.length, viewportOf(state, 'images'));
      if (list === state.images.list) return state;
      return syncDetail({...state, images: {...state.images, list}});
    }
    case 'layers': {
      const list = how(state.detail.list, state.detail.rows.length, viewportOf(state, 'layers'));
      if (list === state.detail.list) return state;
      return syncFiles({...state, detail: {...state.detail, list}});
    }
    case 'files': {
      const list = how(state.files.list, state.files.rows.length, viewportOf(state, 'files'));
      return list === state.files.list ? state : {...state, files: {...state.files, list}};
    }
    case 'waste': {
      const list = how(state.waste.list, state.waste.report?.items.length ?? 0, viewportOf(state, 'waste'));
      return list === state.waste.list ? state : {...state, waste: {...state.waste, list}};
    }
    case 'inspect': {
      const viewport = viewportOf(state, 'inspect');
      const list = how(state.inspect.list, state.inspect.lines.length, viewport);
      return {...state, inspect: {...state.inspect, list: scrollBy(state.inspect.list, list.cursor - state.inspect.list.cursor, state.inspect.lines.length, viewport)}};
    }
    case 'build': {
      const log = state.build.log;
      if (!log) return state;
      const count = buildLines(log, String).length;
      const viewport = viewportOf(state, 'build');
      const moved = how(state.build.list, count, viewport);
      const list = scrollBy(state.build.list, moved.cursor - state.build.list.cursor, count, viewport);
      return {...state, build: {...state.build, list, follow: list.offset >= Math.max(0, count - viewport)}};
    }
  }
}

function moveOverlay(state: WorkbenchState, how: (list: ListCursor, count: number, viewport: number) => ListCursor): WorkbenchState {
  const overlay = state.overlay;
  if (overlay?.kind !== 'file') return state;
  const viewport = viewportOf(state, 'file');
  const moved = how(overlay.list, overlay.lines.length, viewport);
  const list = scrollBy(overlay.list, moved.cursor - overlay.list.cursor, overlay.lines.length, viewport);
  return {...state, overlay: {...overlay, list}};
}

function followBuild(state: WorkbenchState): WorkbenchState {
  const log = state.build.log;
  if (!log || !state.build.follow) return state;
  const count = buildLines(log, String).length;
  const viewport = viewportOf(state, 'build');
  const offset = Math.max(0, count - viewport);
  return {...state, build: {...state.build, list: {cursor: offset, offset}}};
}

// ---------------------------------------------------------------------------------------------- reducer

export function reduce(state: WorkbenchState, action: WorkbenchAction): WorkbenchState {
  switch (action.type) {
    case 'resize': {
      const layout = computeLayout(action.columns, action.rows);
      if (layout.width === state.layout.width && layout.height === state.layout.height) return state;
      const next = {...state, layout};
      return followBuild({
        ...next,
        images: {...next.images, list: clamp(next.images.list, next.images.visible.length, viewportOf(next, 'images'))},
        detail: {...next.detail, list: clamp(next.detail.list, next.detail.rows.length, viewportOf(next, 'layers'))},
        files: {...next.files, list: clamp(next.files.list, next.files.rows.length, viewportOf(next, 'files'))},
        waste: {...next.waste, list: clamp(next.waste.list, next.waste.report?.items.length ?? 0, viewportOf(next, 'waste'))},
      });
    }
    case 'tick':
      return {...state, now: action.now};
    case 'focus': {
      if (action.panel === 'build' && !state.build.log) return state;
      const right: RightPanel = action.panel === 'files' || action.panel === 'waste' || action.panel === 'build' || action.panel === 'inspect'
        ? action.panel
        : state.right;
      return {...state, focus: action.panel, right};
    }
    case 'cycle-focus': {
      const order = panelOrder(state);
      const at = order.indexOf(state.focus);
      const index = at === -1 ? 0 : (at + action.delta + order.length) % order.length;
      return reduce(state, {type: 'focus', panel: order[index]});
    }
    case 'move':
      if (state.overlay?.kind === 'file') return moveOverlay(state, (list, count, viewport) => moveBy(list, action.delta, count, viewport));
      return moveFocused(state, (list, count, viewport) => moveBy(list, action.delta, count, viewport));
    case 'page':
      if (state.overlay?.kind === 'file') return moveOverlay(state, (list, count, viewport) => moveBy(list, action.delta * viewport, count, viewport));
      return moveFocused(state, (list, count, viewport) => moveBy(list, action.delta * Math.max(1, viewport - 1), count, viewport));
    case 'move-to': {
      const how = (list: ListCursor, count: number, viewport: number): ListCursor =>
        moveTo(list, action.position === 'top' ? 0 : count - 1, count, viewport);
      return state.overlay?.kind === 'file' ? moveOverlay(state, how) : moveFocused(state, how);
    }
    case 'step-layer': {
      const rows = state.detail.rows;
      let index = state.detail.list.cursor + action.delta;
      // Skip metadata-only steps: `[`/`]` walk the filesystem layers, as dive does.
      while (index >= 0 && index < rows.length && rows[index].layerIndex === undefined) index += action.delta;
      if (index < 0 || index >= rows.length) return state;
      const list = moveTo(state.detail.list, index, rows.length, viewportOf(state, 'layers'));
      return syncFiles({...state, detail: {...state.detail, list}});
    }
    case 'images-loaded':
      return withImages({...state, now: action.now}, {all: action.images, loaded: true, error: undefined});
    case 'images-failed':
      return {...state, images: {...state.images, loaded: true, error: action.error}};
    case 'cycle-sort': {
      const order: ImageSort[] = ['name', 'size', 'age'];
      const sort = order[(order.indexOf(state.images.sort) + 1) % order.length];
      return withImages(state, {sort});
    }
    case 'set-filter':
      return withImages(state, {filter: action.filter});
    case 'detail-loaded': {
      if (action.imageId !== state.detail.imageId) return state;
      const rows = layerRows(action.history, action.layers);
      const previous = state.detail.loading ? undefined : selectedLayerRow(state);
      const position = state.detail.keepPosition ?? previous?.position;
      const keep = position === undefined ? -1 : rows.findIndex(row => row.position === position);
      const list = moveTo(emptyCursor, Math.max(0, keep), rows.length, viewportOf(state, 'layers'));
      return syncFiles({...state, detail: {imageId: action.imageId, loading: false, rows, list}});
    }
    case 'detail-failed':
      if (action.imageId !== state.detail.imageId) return state;
      return {...state, detail: {...state.detail, loading: false, error: action.error}};
    case 'tree-loaded': {
      if (!sameRequest(action.request, state.files.request)) return state;
      const files: FilesState = {...state.files, tree: action.tree, loading: false, error: undefined};
      const reveal = state.files.pendingReveal;
      if (reveal) {
        const loaded = {...state, files};
        return hasPath(action.tree, reveal) ? revealInTree(loaded, reveal) : withTreeRows(loaded, {...files, pendingReveal: undefined});
      }
      return withTreeRows(state, files);
    }
    case 'tree-failed':
      if (!sameRequest(action.request, state.files.request)) return state;
      return {...state, files: {...state.files, loading: false, error: action.error}};
    case 'toggle-aggregate':
      return syncFiles({...state, files: {...state.files, aggregate: !state.files.aggregate}});
    case 'toggle-hide-unchanged':
      return withTreeRows(state, {...state.files, hideUnchanged: !state.files.hideUnchanged});
    case 'toggle-sort-by-size':
      return withTreeRows(state, {...state.files, sortBySize: !state.files.sortBySize});
    case 'fold': {
      const {rows, collapsed} = toggleFold(state.files.rows, state.files.list.cursor, treeOptions(state.files), action.want);
      if (rows === state.files.rows) return state;
      const list = clamp(state.files.list, rows.length, viewportOf(state, 'files'));
      return {...state, files: {...state.files, rows, collapsed, list}};
    }
    case 'collapse-or-parent': {
      const row = selectedTreeRow(state);
      if (!row) return state;
      if (row.isDir && row.expanded) return reduce(state, {type: 'fold', want: 'collapse'});
      const parent = state.files.rows.parent(state.files.list.cursor);
      if (parent < 0) return state;
      return {...state, files: {...state.files, list: moveTo(state.files.list, parent, state.files.rows.length, viewportOf(state, 'files'))}};
    }
    case 'find': {
      const query = action.query;
      const tree = state.files.tree;
      if (!tree || !query) return {...state, files: {...state.files, query}};
      const after = action.next ? selectedTreeRow(state)?.node.path : undefined;
      const found = findPath(tree, query, {...treeOptions(state.files), collapsed: new Set()}, after);
      const withQuery = {...state, files: {...state.files, query}};
      if (!found) return {...withQuery, message: {text: `no path matches "${query}"`, tone: 'error'}};
      return {...revealInTree(withQuery, found, true), message: undefined};
    }
    case 'reveal-waste-item': {
      const item = state.waste.report?.items[state.waste.list.cursor];
      if (!item) return state;
      const layerIndex = item.layers[item.layers.length - 1];
      const position = state.detail.rows.findIndex(row => row.layerIndex === layerIndex);
      if (position === -1) return state;
      const moved: WorkbenchState = {
        ...state,
        focus: 'files',
        right: 'files',
        detail: {...state.detail, list: moveTo(state.detail.list, position, state.detail.rows.length, viewportOf(state, 'layers'))},
        files: {...state.files, pendingReveal: item.path, query: item.path},
      };
      const synced = syncFiles(moved);
      // Same tree already shown: reveal now instead of waiting for a load.
      return synced.files.tree ? revealInTree(synced, item.path) : synced;
    }
    case 'waste-loaded':
      if (action.imageId !== state.waste.imageId) return state;
      return {...state, waste: {imageId: action.imageId, loading: false, report: action.report, list: emptyCursor}};
    case 'waste-failed':
      if (action.imageId !== state.waste.imageId) return state;
      return {...state, waste: {...state.waste, loading: false, error: action.error}};
    case 'inspect-started':
      return {...state, focus: 'inspect', right: 'inspect', inspect: {ref: action.ref, loading: true, lines: [], list: emptyCursor}};
    case 'inspect-loaded':
      if (action.ref !== state.inspect.ref) return state;
      return {...state, inspect: {ref: action.ref, loading: false, lines: JSON.stringify(action.json, null, 2).split('\n'), list: emptyCursor}};
    case 'inspect-failed':
      if (action.ref !== state.inspect.ref) return state;
      return {...state, inspect: {...state.inspect, loading: false, error: action.error}};
    case 'open-overlay':
      return {...state, overlay: action.overlay, message: undefined};
    case 'close-overlay':
      return {...state, overlay: undefined};
    case 'prompt-input':
      if (state.overlay?.kind !== 'prompt') return state;
      return {...state, overlay: {...state.overlay, value: action.value}};
    case 'file-loaded': {
      if (state.overlay?.kind !== 'file' || state.overlay.path !== action.path) return state;
      const {file} = action;
      const lines = file.binary ? [] : file.content.toString('utf8').replace(/\t/g, '    ').split(/\r?\n/);
      if (!file.binary && lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
      const note = file.binary
        ? `binary file, ${file.size} bytes: not shown`
        : file.truncated ? `showing the first ${file.content.length} of ${file.size} bytes` : undefined;
      return {...state, overlay: {...state.overlay, loading: false, lines, note}};
    }
    case 'file-failed':
      if (state.overlay?.kind !== 'file' || state.overlay.path !== action.path) return state;
      return {...state, overlay: {...state.overlay, loading: false, error: action.error}};
    case 'build-started':
      return followBuild({
        ...state,
        focus: 'build',
        right: 'build',
        build: {...state.build, log: startBuildLog(action.contextDir, action.tags), follow: true, lastContext: action.contextDir, list: emptyCursor},
      });
    case 'build-event': {
      const log = state.build.log;
      if (!log) return state;
      const next = reduceBuildEvent(log, action.event);
      const verdicts = action.event.type === 'build-done' ? cacheVerdicts(next) : state.build.verdicts;
      return followBuild({...state, build: {...state.build, log: next, verdicts}});
    }
    case 'build-error': {
      const log = state.build.log;
      if (!log || log.status !== 'running') return state;
      return followBuild({...state, build: {...state.build, log: {...log, status: 'failed', error: action.error, excerpt: action.excerpt ?? log.excerpt}}});
    }
    case 'build-cancelled': {
      const log = state.build.log;
      if (!log || log.status !== 'running') return state;
      return followBuild({...state, build: {...state.build, log: {...log, status: 'cancelled'}}});
    }
    case 'select-image': {
      const rows = state.images.visible;
      let index = action.ref ? rows.findIndex(image => image.id === action.id && imageRef(image) === action.ref) : -1;
      if (index === -1) index = rows.findIndex(image => image.id === action.id);
      if (index === -1) return state;
      const next = syncDetail({...state, images: {...state.images, list: moveTo(state.images.list, index, rows.length, viewportOf(state, 'images'))}});
      const position = action.layerPosition;
      if (position === undefined) return next;
      // At that step: once its rows arrive, or now if they are here.
      if (next.detail.loading) return {...next, detail: {...next.detail, keepPosition: position}};
      const at = next.detail.rows.findIndex(row => row.position === position);
      if (at === -1) return next;
      return syncFiles({...next, detail: {...next.detail, list: moveTo(next.detail.list, at, next.detail.rows.length, viewportOf(next, 'layers'))}});
    }
    case 'watch-starting':
      return {
        ...state,
        focus: 'build',
        right: 'build',
        watch: startWatchStatus(action.request),
        build: {...state.build, lastContext: action.request.contextDir},
      };
    case 'watch-event': {
      const watch = state.watch;
      if (!watch) return state;
      const event = action.event;
      const status = reduceWatchEvent(watch, event, action.now);
      if (isWatchOwnEvent(event)) {
        // A finished rebuild marks the layers of its image: CACHED or built now.
        const verdicts = event.type === 'rebuilt' && state.build.log ? cacheVerdicts(state.build.log) : state.build.verdicts;
        return {...state, watch: status, build: {...state.build, verdicts}};
      }
      // Each rebuild gets a log of its own in the build panel, streamed as it runs (one that fails before it
      // starts, on a Dockerfile that does not parse, too).
      const fresh = event.type === 'build-started' || state.build.log?.status !== 'running';
      const base = fresh ? startBuildLog(watch.request.contextDir, watch.request.tags) : state.build.log!;
      const follow = fresh ? true : state.build.follow;
      return followBuild({...state, watch: status, build: {...state.build, log: reduceBuildEvent(base, event), follow}});
    }
    case 'watch-stopping':
      return state.watch ? {...state, watch: {...state.watch, phase: 'stopping'}} : state;
    case 'watch-ended':
      return {
        ...state,
        watch: undefined,
        message: action.error ? {text: `watch: ${action.error}`, tone: 'error'} : {text: 'stopped watching', tone: 'info'},
      };
    case 'message':
      return {...state, message: action.message};
  }
}
