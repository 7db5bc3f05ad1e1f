/**
 * The engine facade: the one module that source/ imports. The command line and the workbench call the same
 * verbs, so anything the workbench can do a script can do too.
 */
export * from './errors.js';
