/** The content store over an OCI image layout: blobs, index and tags, lock, gc, fsck. */
export * from './content.js';
export * from './errors.js';
export * from './fsck.js';
export * from './gc.js';
export * from './root.js';
export * from './store.js';
