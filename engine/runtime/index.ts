/** Containers: running one command in a rootfs of layer snapshots, isolated in Linux namespaces. */
export * from './errors.js';
export {resolveUser} from './users.js';
export type {ResolvedUser} from './users.js';
export {runIsolated} from './run-isolated.js';
export type {IdMapEntry, OutputStream, RunIsolatedOptions, RunIsolatedResult} from './run-isolated.js';
export {probeRuntime} from './probe.js';
export {startLauncher} from './launcher.js';
export type {RuntimeProbe} from './probe.js';
export {exportUpperDir} from './export-upper.js';
export type {UpperExport} from './export-upper.js';
export {removeContainerTree} from './remove-tree.js';
