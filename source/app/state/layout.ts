/**
 * Where each panel goes for a terminal size. Pure, so that the reducer knows how many rows each list shows
 * (page up/down, keeping the cursor in view) without measuring anything.
 *
 *   header                                   1 row
 *   Images (full width)                      ~40% of the body
 *   Layers (left)  |  Files / Waste / Build / Inspect (right)
 *   footer: key hints, prompt or message     1 row
 *
 * The frame is one row shorter than the terminal: Ink clears the whole screen on every frame when its output
 * fills the terminal, and that flickers.
 */
export interface Layout {
  readonly width: number;
  readonly height: number;
  readonly imagesHeight: number;
  /** Image rows visible in the list (frame and column header excluded). */
  readonly imagesRows: number;
  readonly bottomHeight: number;
  readonly leftWidth: number;
  readonly rightWidth: number;
  readonly layersRows: number;
  /** Lines under the layer list that show the selected step's full instruction. */
  readonly layerDetailRows: number;
  /** Rows inside the right panel's frame. */
  readonly rightRows: number;
  /** Rows of an overlay (help, confirmation, file content) drawn over the body. */
  readonly overlayRows: number;
}

export const MIN_WIDTH = 40;
export const MIN_HEIGHT = 12;

export function computeLayout(columns: number, rows: number): Layout {
  const width = Math.max(MIN_WIDTH, Math.floor(columns) || 80);
  const height = Math.max(MIN_HEIGHT, (Math.floor(rows) || 24) - 1);
  const body = height - 2;
  const imagesHeight = Math.min(Math.max(5, Math.round(body * 0.42)), body - 6);
  const bottomHeight = body - imagesHeight;
  const leftWidth = Math.max(28, Math.round(width * 0.4));
  const rightWidth = width - leftWidth;
  const layerDetailRows = bottomHeight >= 14 ? 4 : bottomHeight >= 9 ? 3 : 0;
  return {
    width,
    height,
    imagesHeight,
    imagesRows: imagesHeight - 3,
    bottomHeight,
    leftWidth,
    rightWidth,
    layersRows: Math.max(1, bottomHeight - 3 - layerDetailRows),
    layerDetailRows,
    rightRows: bottomHeight - 2,
    overlayRows: body - 2,
  };
}
