/**
 * A cursor over a windowed list: which row is selected and which row is at the top of the window. Only the
 * rows in [offset, offset + viewport) are ever drawn, which is what keeps 2,000 images or 100,000 files cheap.
 */
export interface ListCursor {
  readonly cursor: number;
  readonly offset: number;
}

export const emptyCursor: ListCursor = {cursor: 0, offset: 0};

/** Puts the cursor on `index` (clamped to the list) and scrolls the least needed to keep it in view. */
export function moveTo(list: ListCursor, index: number, count: number, viewport: number): ListCursor {
  if (count <= 0) return emptyCursor;
  const view = Math.max(1, viewport);
  const cursor = Math.min(Math.max(0, index), count - 1);
  let offset = list.offset;
  if (cursor < offset) offset = cursor;
  if (cursor >= offset + view) offset = cursor - view + 1;
  offset = Math.min(Math.max(0, offset), Math.max(0, count - view));
  return cursor === list.cursor && offset === list.offset ? list : {cursor, offset};
}

export function moveBy(list: ListCursor, delta: number, count: number, viewport: number): ListCursor {
  return moveTo(list, list.cursor + delta, count, viewport);
}

/** Scrolls a read-only view (no cursor of its own): the offset moves, the cursor follows it. */
export function scrollBy(list: ListCursor, delta: number, count: number, viewport: number): ListCursor {
  const offset = Math.min(Math.max(0, list.offset + delta), Math.max(0, count - viewport));
  return {cursor: offset, offset};
}

/** Re-clamps after the list or the window changed size. */
export function clamp(list: ListCursor, count: number, viewport: number): ListCursor {
  return moveTo(list, list.cursor, count, viewport);
}

/** The slice of rows the window shows. */
export function visibleSlice<T>(rows: readonly T[], list: ListCursor, viewport: number): readonly T[] {
  return rows.slice(list.offset, list.offset + Math.max(0, viewport));
}
