/** Extracted layers keyed by chain ID, and reading a stack of them as one root filesystem. */
export * from './stack.js';
export {mergeStackInto} from './merge.js';
