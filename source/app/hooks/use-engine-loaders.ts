import {useCallback, useEffect, useRef} from 'react';
import type {FileTreeNode} from '../../../engine/index.js';
import type {WorkbenchEngine} from '../engine-port.js';
import type {FilesRequest, WorkbenchAction, WorkbenchState} from '../state/workbench.js';

/** How long the selection must rest before its layers load, so holding j over 2,000 images loads nothing. */
const SETTLE_MS = 80;
/** Store changes from another process come in bursts (blob, blob, index): refresh once after the burst. */
const REFRESH_DEBOUNCE_MS = 100;
/** Trees kept for stepping back and forth between layers without asking the engine again. */
const TREE_CACHE_SIZE = 2;

export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const hint = (error as {hint?: string}).hint;
    return hint ? `${error.message} (${hint})` : error.message;
  }
  return String(error);
}

/**
 * Keeps the state fed from the engine: the image list (now, and whenever another process changes the store),
 * the selected image's layers, the selected layer's tree and the waste report when its panel is shown.
 * Returns `reload` for the refresh key and for after an action changed the store.
 */
export function useEngineLoaders(
  engine: WorkbenchEngine,
  state: WorkbenchState,
  dispatch: (...actions: WorkbenchAction[]) => void,
  now: () => Date,
): {reload: () => Promise<void>} {
  const reload = useCallback(async () => {
    try {
      const images = await engine.listImages();
      dispatch({type: 'images-loaded', images, now: now()});
    } catch (error) {
      dispatch({type: 'images-failed', error: errorText(error)});
    }
  }, [engine, dispatch, now]);

  useEffect(() => {
    void reload();
    let timer: NodeJS.Timeout | undefined;
    const stop = engine.watchStore(() => {
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), REFRESH_DEBOUNCE_MS);
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [engine, reload]);

  const {imageId, loading: detailLoading} = state.detail;
  useEffect(() => {
    if (!imageId || !detailLoading) return;
    let cancelled = false;
    const timer = setTimeout(() => {
      // History has every step with its layer; the layer list is only needed for images without history.
      engine.history(imageId).then(async history => [history, history.length > 0 ? [] : await engine.layers(imageId)] as const).then(
        ([history, layers]) => {
          if (!cancelled) dispatch({type: 'detail-loaded', imageId, history, layers});
        },
        error => {
          if (!cancelled) dispatch({type: 'detail-failed', imageId, error: errorText(error)});
        },
      );
    }, SETTLE_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [engine, imageId, detailLoading, dispatch]);

  const trees = useRef(new Map<string, FileTreeNode>());
  const request = state.files.request;
  const treeKey = request && state.files.loading ? `${request.imageId}|${request.layerIndex}|${request.aggregate}` : undefined;
  useEffect(() => {
    if (!treeKey || !request) return;
    const wanted: FilesRequest = request;
    const cached = trees.current.get(treeKey);
    if (cached) {
      dispatch({type: 'tree-loaded', request: wanted, tree: cached});
      return;
    }
    let cancelled = false;
    const timer = setTimeout(() => {
      engine.layerTree(wanted.imageId, wanted.layerIndex, {aggregate: wanted.aggregate}).then(
        tree => {
          trees.current.set(treeKey, tree);
          while (trees.current.size > TREE_CACHE_SIZE) trees.current.delete(trees.current.keys().next().value!);
          if (!cancelled) dispatch({type: 'tree-loaded', request: wanted, tree});
        },
        error => {
          if (!cancelled) dispatch({type: 'tree-failed', request: wanted, error: errorText(error)});
        },
      );
    }, SETTLE_MS);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
    // `request` is captured through treeKey, which names it.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [engine, treeKey, dispatch]);

  const wasteId = state.right === 'waste' && state.waste.loading ? state.waste.imageId : undefined;
  useEffect(() => {
    if (!wasteId) return;
    let cancelled = false;
    engine.waste(wasteId).then(
      report => {
        if (!cancelled) dispatch({type: 'waste-loaded', imageId: wasteId, report});
      },
      error => {
        if (!cancelled) dispatch({type: 'waste-failed', imageId: wasteId, error: errorText(error)});
      },
    );
    return () => {
      cancelled = true;
    };
  }, [engine, wasteId, dispatch]);

  return {reload};
}
