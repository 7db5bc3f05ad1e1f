/**
 * The engine facade: the one module that source/ imports. The command line and the workbench call the same
 * verbs, so anything the workbench can do a script can do too.
 */
export * from './errors.js';
export * from './engine.js';
export {Engine, resolveRoot} from './facade.js';
export type {StoredImage} from './store/index.js';
