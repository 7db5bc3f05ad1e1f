import type {LayerIndex} from './file-index.js';
import {compareNames, MergedTree} from './merge.js';

export interface WasteItem {
  path: string;
  /** Bytes of this path's unreachable copies. */
  bytes: number;
  /** How many copies of this path are unreachable. */
  count: number;
  /** The layer holding each unreachable copy (ascending). */
  layers: number[];
  /** The instruction that made each of those layers (parallel to `layers`). */
  createdBy: (string | undefined)[];
  /** The layer that overwrote or deleted each copy (parallel to `layers`). */
  hiddenBy: number[];
}

export interface WasteReport {
  /** Regular-file bytes of every layer, all copies counted. */
  totalBytes: number;
  /** Bytes of copies that no path of the final filesystem reaches. */
  wastedBytes: number;
  /** The part of `wastedBytes` hidden by layers at or after `baseLayers` (the image's own layers). */
  userWastedBytes: number;
  /** (totalBytes - wastedBytes) / totalBytes, 1 for an image without file bytes. */
  efficiency: number;
  /** Per path, biggest first (then by path). */
  items: WasteItem[];
}

/**
 * The bytes an image carries that its final filesystem cannot reach.
 *
 * A copy is one regular file with content written by one layer. A copy is wasted when a later layer makes it
 * unreachable: writes any entry at its path (an overwrite, even with identical content, as `chown -R` does),
 * deletes it (a whiteout of the path or of a folder above it, an opaque marker on a folder above it), or
 * replaces a folder above it with a non-folder. Each wasted copy counts once, at its own size: a file written
 * by 3 layers and kept wastes the first 2 copies (N-1, not N as dive#684 reports for dive), and a file written
 * once and deleted later wastes that 1 copy. Folders, links and empty files carry no bytes. `totalBytes`
 * counts every copy, so `efficiency` is the share of stored file bytes that the final image can reach.
 * `baseLayers` (default 0) says how many leading layers come from the base image, to tell the waste the
 * image's own steps caused (`userWastedBytes`) from the base's own (dive#111).
 */
export function computeWaste(
  layers: {index: LayerIndex; createdBy?: string}[],
  options: {baseLayers?: number} = {},
): WasteReport {
  const baseLayers = options.baseLayers ?? 0;
  const tree = new MergedTree();
  const items = new Map<string, WasteItem>();
  let totalBytes = 0;
  let wastedBytes = 0;
  let userWastedBytes = 0;
  layers.forEach(({index}, layer) => {
    for (const record of index.files) if (record.type === 'file') totalBytes += record.size;
    tree.apply(index, layer, {
      hidden(path, node, byLayer) {
        const record = node.record!;
        if (record.type !== 'file' || record.size === 0 || node.layer >= byLayer) return;
        let item = items.get(path);
        if (!item) {
          item = {path, bytes: 0, count: 0, layers: [], createdBy: [], hiddenBy: []};
          items.set(path, item);
        }
        item.bytes += record.size;
        item.count++;
        item.layers.push(node.layer);
        item.createdBy.push(layers[node.layer].createdBy);
        item.hiddenBy.push(byLayer);
        wastedBytes += record.size;
        if (byLayer >= baseLayers) userWastedBytes += record.size;
      },
    });
  });
  const sorted = [...items.values()].sort((a, b) => b.bytes - a.bytes || compareNames(a.path, b.path));
  return {
    totalBytes,
    wastedBytes,
    userWastedBytes,
    efficiency: totalBytes === 0 ? 1 : (totalBytes - wastedBytes) / totalBytes,
    items: sorted,
  };
}
