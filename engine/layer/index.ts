/**
 * Layers: writing deterministic layer tars, computing changesets, applying layers safely, and indexing them
 * for the workbench (file trees, diffs, waste) without extracting. Every tar is read and written with
 * tar-stream.
 */
export {
  EMPTY_LAYER_DIFF_ID,
  writeLayer,
  writeLayerFile,
  writeGzipLayer,
  type WrittenLayer,
  type WrittenCompressedLayer,
  type LayerMapEntry,
  type LayerReuse,
  type WriteLayerOptions,
} from './writer.js';
export {
  OPAQUE_MARKER,
  WHITEOUT_PREFIX,
  cleanArchiveName,
  layerSortKey,
  type LayerEntry,
  type LayerEntryType,
} from './entry.js';
export {dropSpareLayerFiles, layerFilesOnline, makeSpareLayerFiles, rememberLayerFile, startLayerFiles} from './layer-file.js';
export {entriesFromDirectory, type DirectoryEntriesOptions} from './walk.js';
export {changesBetween, changesFromOverlayUpper, type ChangesOptions} from './changes.js';
export {applyLayer, isPrivileged, type ApplyOptions, type ApplyResult, type SkippedEntry} from './apply.js';
export {
  indexLayer,
  readLayerFile,
  serializeIndex,
  deserializeIndex,
  type FileRecord,
  type LayerIndex,
} from './file-index.js';
export {
  diffLayer,
  mergeLayers,
  sameRecord,
  type ChangeStatus,
  type LayerDiff,
} from './merge.js';
export {layerTree, type TreeNode} from './tree.js';
export {computeWaste, type WasteItem, type WasteReport} from './waste.js';
export {readLayerMembers, type MemberBody, type TarMember, type ReadLimits, type ReadSummary} from './reader.js';
export {
  CorruptLayerError,
  LayerEntryError,
  LayerEscapeError,
  LayerLimitError,
  UnsafeLayerError,
} from './errors.js';
