/** Extracted layers keyed by chain ID, and reading a stack of them as one root filesystem. */
export * from './stack.js';
export {mergeStackInto} from './merge.js';
export {Snapshots, SnapshotDigestError, mergeStackKeepingOwners} from './snapshots.js';
export type {SnapshotInfo, SnapshotSource, SnapshotsOptions} from './snapshots.js';
