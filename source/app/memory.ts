/**
 * How the workbench's process collects garbage. Every frame Ink draws makes several megabytes of short-lived
 * objects, some of which live just long enough to reach V8's old generation; by default V8 then lets the old
 * generation grow to about four times what is live before it collects it, so a workbench holding 40 MB (a
 * 100,000-file tree open) climbs past 300 MB while the user merely scrolls. Capping that growth costs an
 * occasional full collection (a few milliseconds with incremental marking) and keeps the peak near twice
 * what is live.
 */
import {setFlagsFromString} from 'node:v8';

/** Old generation growth allowed between full collections, in percent of what survived the last one. */
export const HEAP_GROWING_PERCENT = 75;

/** Applies the workbench's garbage collection setting to this process (`strata ui` does so before drawing). */
export function tuneHeapForWorkbench(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
