import React, {useCallback, useEffect, useMemo, useRef} from 'react';
import {Box, useApp, useInput, useStdout} from 'ink';
import {resolve} from 'node:path';
import {Footer} from './components/Footer.js';
import {Header} from './components/Header.js';
import {ColorContext} from './components/LineView.js';
import type {WorkbenchEngine} from './engine-port.js';
import {errorText, useEngineLoaders} from './hooks/use-engine-loaders.js';
import {useTerminalSize} from './hooks/use-terminal-size.js';
import {useWorkbenchStore} from './hooks/use-workbench-store.js';
import {buildKeymap, keyNameOf, type KeyConfig} from './keymap.js';
import {BuildPanel} from './panels/BuildPanel.js';
import {ConfirmOverlay} from './panels/ConfirmOverlay.js';
import {FileOverlay} from './panels/FileOverlay.js';
import {FilesPanel} from './panels/FilesPanel.js';
import {HelpOverlay} from './panels/HelpOverlay.js';
import {ImagesPanel} from './panels/ImagesPanel.js';
import {InspectPanel} from './panels/InspectPanel.js';
import {LayersPanel} from './panels/LayersPanel.js';
import {WastePanel} from './panels/WastePanel.js';
import {interpretKey} from './state/keys.js';
import {watchStatusText, type WatchRequest} from './state/watch-status.js';
import {initialState, selectedImage, selectedLayerRow, type Effect} from './state/workbench.js';
import {defaultTheme, type Theme} from './theme.js';

/** The file content the viewer reads at most: enough to read a config, small enough for a huge log. */
const FILE_VIEW_LIMIT = 256 * 1024;
const CLOCK_TICK_MS = 30_000;

export type AppProps = {
  readonly engine: WorkbenchEngine;
  /** Shown in the header. */
  readonly root?: string;
  /** The `keys` section of the config file, and where it was read from. */
  readonly keys?: KeyConfig;
  readonly configPath?: string;
  /** Problems with the config file, shown once in the footer and in the help. */
  readonly configWarnings?: readonly string[];
  /** Where relative build contexts are resolved from. */
  readonly cwd?: string;
  /** The context `b` and `w` offer until a build here names one (default: `.`, as docker build's). */
  readonly buildContext?: string;
  readonly now?: () => Date;
  readonly theme?: Theme;
  /** Start watching this context at once (`strata ui --watch CONTEXT -t REF`); `w` stops and starts again. */
  readonly watch?: WatchRequest;
  /** Fixed size for tests and benchmarks; otherwise the terminal's size, following resizes. */
  readonly columns?: number;
  readonly rows?: number;
  /** Emit colours; by default when the output is a terminal and NO_COLOR is not set. */
  readonly colors?: boolean;
};

const systemNow = (): Date => new Date();

/**
 * The workbench: Images on top, the selected image's Layers below on the left, and on the right the selected
 * layer's Files, the image's Waste, the Build output or Inspect. Keys go through the keymap to pure actions;
 * effects (delete, tag, build, read a file) go to the engine and come back as actions.
 */
export function App(props: AppProps): React.JSX.Element {
  const {engine, root, cwd = '.', theme = defaultTheme} = props;
  const now = props.now ?? systemNow;
  const {exit} = useApp();
  const {stdout} = useStdout();
  const colors = props.colors ?? (Boolean(stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb');
  const size = useTerminalSize({columns: props.columns, rows: props.rows});
  const {keymap, warnings} = useMemo(() => {
    const built = buildKeymap(props.keys);
    return {keymap: built.keymap, warnings: [...(props.configWarnings ?? []), ...built.warnings]};
  }, [props.keys, props.configWarnings]);
  const {state, current, dispatch} = useWorkbenchStore(() => {
    const initial = initialState({columns: size.columns, rows: size.rows, now: now(), lastContext: props.buildContext});
    return warnings.length > 0 ? {...initial, message: {text: `config: ${warnings[0]} (? shows all)`, tone: 'error'}} : initial;
  });
  const {reload} = useEngineLoaders(engine, state, dispatch, now);
  const buildAbort = useRef<AbortController | undefined>(undefined);
  const watchAbort = useRef<AbortController | undefined>(undefined);

  useEffect(() => {
    dispatch({type: 'resize', columns: size.columns, rows: size.rows});
  }, [size.columns, size.rows, dispatch]);

  useEffect(() => {
    const timer = setInterval(() => dispatch({type: 'tick', now: now()}), CLOCK_TICK_MS);
    return () => clearInterval(timer);
  }, [dispatch, now]);

  useEffect(() => () => {
    buildAbort.current?.abort();
    watchAbort.current?.abort();
  }, []);

  const runEffect = useCallback(async (effect: Effect): Promise<void> => {
    const fail = (error: unknown): void => dispatch({type: 'message', message: {text: errorText(error), tone: 'error'}});
    switch (effect.kind) {
      case 'quit':
        buildAbort.current?.abort();
        watchAbort.current?.abort();
        exit();
        return;
      case 'reload':
        await reload();
        return;
      case 'delete':
        try {
          const result = await engine.removeImages([...effect.refs], {force: effect.force});
          const said = [
            result.untagged.length > 0 ? `untagged ${result.untagged.join(', ')}` : '',
            result.deleted.length > 0 ? `deleted ${result.deleted.map(id => id.replace(/^sha256:/, '').slice(0, 12)).join(', ')}` : '',
          ].filter(Boolean).join('; ');
          dispatch({type: 'message', message: {text: said || 'nothing removed', tone: 'success'}});
          await reload();
        } catch (error) {
          fail(error);
        }
        return;
      case 'tag':
        try {
          await engine.tag(effect.source, effect.target);
          dispatch({type: 'message', message: {text: `tagged ${effect.source} as ${effect.target}`, tone: 'success'}});
          await reload();
        } catch (error) {
          fail(error);
        }
        return;
      case 'build': {
        if (current().build.log?.status === 'running') {
          dispatch({type: 'message', message: {text: 'a build is already running (x cancels it)', tone: 'error'}});
          return;
        }
        const controller = new AbortController();
        buildAbort.current = controller;
        const contextDir = resolve(cwd, effect.contextDir);
        dispatch({type: 'build-started', contextDir, tags: effect.tags});
        try {
          const result = await engine.build(
            {contextDir, dockerfile: effect.dockerfile ? resolve(cwd, effect.dockerfile) : undefined, tags: [...effect.tags], buildArgs: {}},
            {signal: controller.signal, onEvent: event => dispatch({type: 'build-event', event})},
          );
          // Show the new image's layers, where CACHED / built now mark each step.
          await reload();
          dispatch({type: 'select-image', id: result.imageId, ref: result.tags[0]});
          return;
        } catch (error) {
          if (controller.signal.aborted) dispatch({type: 'build-cancelled'});
          else dispatch({type: 'build-error', error: errorText(error), excerpt: (error as {excerpt?: string}).excerpt});
        } finally {
          if (buildAbort.current === controller) buildAbort.current = undefined;
        }
        await reload();
        return;
      }
      case 'cancel-build':
        buildAbort.current?.abort();
        return;
      case 'watch': {
        if (watchAbort.current) return;
        const controller = new AbortController();
        watchAbort.current = controller;
        const request = {
          contextDir: resolve(cwd, effect.request.contextDir),
          dockerfile: effect.request.dockerfile ? resolve(cwd, effect.request.dockerfile) : undefined,
          tags: [...effect.request.tags],
        };
        dispatch({type: 'watch-starting', request});
        let first = true;
        try {
          await engine.watch({...request, signal: controller.signal}, event => {
            dispatch({type: 'watch-event', event, now: now()});
            if (event.type !== 'rebuilt') return;
            // The watched image is shown once it is built; after that, a new image takes the place of the one it
            // replaced, at the same step, if that one was shown (the user may be looking at another).
            const shown = current();
            const id = selectedImage(shown)?.id;
            const follow = first || id === undefined || id === event.previousImageId || id === event.imageId;
            first = false;
            const layerPosition = follow ? selectedLayerRow(shown)?.position : undefined;
            void reload().then(() => {
              if (follow) dispatch({type: 'select-image', id: event.imageId, ref: event.tags[0], layerPosition});
            });
          });
          dispatch({type: 'watch-ended'});
        } catch (error) {
          dispatch({type: 'watch-ended', error: errorText(error)});
        } finally {
          if (watchAbort.current === controller) watchAbort.current = undefined;
        }
        return;
      }
      case 'stop-watch':
        watchAbort.current?.abort();
        return;
      case 'inspect':
        try {
          const {found, missing} = await engine.inspectImages([effect.ref]);
          if (found.length === 0) throw new Error(`no such image: ${missing.join(', ')}`);
          dispatch({type: 'inspect-loaded', ref: effect.ref, json: found[0]});
        } catch (error) {
          dispatch({type: 'inspect-failed', ref: effect.ref, error: errorText(error)});
        }
        return;
      case 'read-file':
        try {
          const file = await engine.readLayerFile(effect.imageId, effect.layerIndex, effect.path, {limit: FILE_VIEW_LIMIT});
          dispatch({type: 'file-loaded', path: effect.path, file});
        } catch (error) {
          dispatch({type: 'file-failed', path: effect.path, error: errorText(error)});
        }
        return;
    }
  }, [engine, cwd, dispatch, current, reload, exit]);

  useEffect(() => {
    if (props.watch) void runEffect({kind: 'watch', request: props.watch});
    // Once, when the workbench opens: later watches start from `w`.
  }, []);

  useInput((input, key) => {
    const name = keyNameOf(input, key);
    const before = current();
    const outcome = interpretKey(before, keymap, name, input);
    // A message lasts until the next key, unless that key says something new.
    const clear = before.message && !outcome.actions.some(action => action.type === 'message') ? [{type: 'message' as const, message: undefined}] : [];
    dispatch(...clear, ...outcome.actions);
    if (outcome.effect) void runEffect(outcome.effect);
  });

  const {layout, overlay, focus, right} = state;
  const body = layout.height - 2;
  const scope = focus;

  let main: React.JSX.Element;
  if (overlay?.kind === 'help') {
    main = <HelpOverlay keymap={keymap} scope={scope} configPath={props.configPath} warnings={warnings} width={layout.width} height={body} theme={theme}/>;
  } else if (overlay?.kind === 'file') {
    main = <FileOverlay overlay={overlay} width={layout.width} height={body} theme={theme}/>;
  } else {
    const bottom = overlay?.kind === 'confirm'
      ? <ConfirmOverlay overlay={overlay} width={layout.width} height={layout.bottomHeight} theme={theme}/>
      : (
        <Box flexDirection="row" height={layout.bottomHeight}>
          <LayersPanel
            detail={state.detail}
            verdicts={state.build.verdicts}
            width={layout.leftWidth}
            height={layout.bottomHeight}
            rows={layout.layersRows}
            detailRows={layout.layerDetailRows}
            focused={focus === 'layers'}
            now={state.now}
            theme={theme}
          />
          {right === 'files' && <FilesPanel files={state.files} layer={selectedLayerRow(state)} width={layout.rightWidth} height={layout.bottomHeight} focused={focus === 'files'} theme={theme}/>}
          {right === 'waste' && <WastePanel waste={state.waste} width={layout.rightWidth} height={layout.bottomHeight} focused={focus === 'waste'} theme={theme}/>}
          {right === 'build' && <BuildPanel build={state.build} watching={state.watch !== undefined} width={layout.rightWidth} height={layout.bottomHeight} focused={focus === 'build'} theme={theme}/>}
          {right === 'inspect' && <InspectPanel inspect={state.inspect} width={layout.rightWidth} height={layout.bottomHeight} focused={focus === 'inspect'} theme={theme}/>}
        </Box>
      );
    main = (
      <>
        <ImagesPanel images={state.images} width={layout.width} height={layout.imagesHeight} rows={layout.imagesRows} focused={focus === 'images'} now={state.now} theme={theme}/>
        {bottom}
      </>
    );
  }

  return (
    <ColorContext.Provider value={colors}>
    <Box flexDirection="column" width={layout.width} height={layout.height}>
      <Header
        root={root}
        imageCount={state.images.all.length}
        live
        building={state.build.log?.status === 'running'}
        watch={state.watch && watchStatusText(state.watch)}
        width={layout.width}
        theme={theme}
      />
      {main}
      <Footer keymap={keymap} scope={scope} overlay={overlay} message={state.message} width={layout.width} theme={theme}/>
    </Box>
    </ColorContext.Provider>
  );
}
