/**
 * The part of the engine facade the workbench uses. Naming the subset keeps the workbench honest about what it
 * needs from the engine; the real `Engine` is what tests, benchmarks and `strata ui` hand over.
 */
import type {Engine} from '../../engine/index.js';

export type WorkbenchEngine = Pick<
  Engine,
  | 'listImages'
  | 'inspectImages'
  | 'history'
  | 'layers'
  | 'layerTree'
  | 'readLayerFile'
  | 'waste'
  | 'tag'
  | 'removeImages'
  | 'build'
  | 'watch'
  | 'watchStore'
>;
