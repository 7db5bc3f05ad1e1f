/** Typed store errors. Store damage is reported as a UserError with a hint to run `strata fsck`. */
import {UserError} from '../errors.js';
import {familiarString, tryParseReference} from '../image/reference.js';

const fsckHint = 'run `strata fsck` to check the store';

export class BlobNotFoundError extends UserError {
  readonly digest: string;
  constructor(digest: string, context = 'read blob') {
    super('ERR_BLOB_NOT_FOUND', `${context} ${digest}: not found`, {hint: fsckHint});
    this.digest = digest;
  }
}

export class DigestMismatchError extends UserError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, context = 'write blob') {
    super('ERR_DIGEST_MISMATCH', `${context} ${expected}: digest mismatch (got ${actual})`, {hint: fsckHint});
    this.expected = expected;
    this.actual = actual;
  }
}

export class SizeMismatchError extends UserError {
  readonly digest: string;
  readonly expected: number;
  readonly actual: number;
  constructor(digest: string, expected: number, actual: number, context = 'write blob') {
    super('ERR_SIZE_MISMATCH', `${context} ${digest}: size mismatch (expected ${expected} bytes, got ${actual})`, {hint: fsckHint});
    this.digest = digest;
    this.expected = expected;
    this.actual = actual;
  }
}

export class UnsupportedDigestError extends UserError {
  constructor(digest: string) {
    super('ERR_UNSUPPORTED_DIGEST', `verify ${digest}: unsupported digest algorithm`);
  }
}

/** The folder exists, is not empty, and is not a store: refuse to write into it. */
export class NotAStoreError extends UserError {
  readonly root: string;
  constructor(root: string, reason: string) {
    super('ERR_NOT_A_STORE', `open store ${root}: ${reason}`, {
      hint: 'point --root (or STRATA_ROOT) at an existing store or an empty folder',
    });
    this.root = root;
  }
}

export class StoreNotFoundError extends UserError {
  readonly root: string;
  constructor(root: string) {
    super('ERR_STORE_NOT_FOUND', `open store ${root}: no such store`, {hint: 'create it by running a command that writes, such as `strata import`'});
    this.root = root;
  }
}

/** Docker's wording: "No such image: demo:latest". */
export class ImageNotFoundError extends UserError {
  readonly reference: string;
  constructor(nameOrId: string) {
    const parsed = tryParseReference(nameOrId);
    const shown = parsed ? familiarString(parsed) : nameOrId;
    super('ERR_IMAGE_NOT_FOUND', `No such image: ${shown}`);
    this.reference = nameOrId;
  }
}

export class AmbiguousImageError extends UserError {
  readonly prefix: string;
  readonly candidates: string[];
  constructor(prefix: string, candidates: string[]) {
    super('ERR_AMBIGUOUS_IMAGE', `resolve image ${prefix}: ambiguous ID prefix matches ${candidates.length} images`, {
      hint: 'give more characters of the ID',
    });
    this.prefix = prefix;
    this.candidates = candidates;
  }
}

export class InvalidTagError extends UserError {
  constructor(reference: string, reason: string) {
    super('ERR_INVALID_TAG', `tag ${reference}: ${reason}`);
  }
}

/** Another process held the store lock for too long, or the lock was lost while writing. */
export class StoreLockError extends UserError {
  constructor(root: string, cause: unknown) {
    super('ERR_STORE_LOCKED', `lock store ${root}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      hint: 'another strata process is writing the store; retry when it is done',
    });
  }
}
