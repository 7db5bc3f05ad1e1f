/** Image nouns: digests and IDs, references, manifest/config/history types and their checks. */
export * from './digest.js';
export * from './reference.js';
export * from './types.js';
