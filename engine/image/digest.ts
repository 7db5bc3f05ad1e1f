/**
 * Content digests (`alg:encoded`), short IDs and ChainIDs.
 *
 * A digest names bytes: `sha256:` plus the lowercase hex SHA-256 of the exact bytes. JSON is never
 * re-serialised before hashing, so callers hash the bytes they store.
 */
import {createHash} from 'node:crypto';
import {UserError} from '../errors.js';

/** A digest string that does not fit the OCI digest grammar or its algorithm's encoding. */
export class InvalidDigestError extends UserError {
  constructor(text: string, reason: string) {
    super('ERR_INVALID_DIGEST', `invalid digest ${JSON.stringify(text)}: ${reason}`);
  }
}

export interface ParsedDigest {
  readonly algorithm: string;
  readonly encoded: string;
}

// OCI: algorithm = component (separator component)*, component = [a-z0-9]+, separator = [+._-].
const digestGrammar = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Encodings of the registered algorithms; others only need to fit the grammar. */
const registeredEncodings: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
  blake3: /^[a-f0-9]{64}$/,
};

/** Algorithms this process can hash with (node:crypto names equal the OCI names for these). */
export const hashableAlgorithms: ReadonlySet<string> = new Set(['sha256', 'sha512']);

/**
 * Splits and validates a digest. Registered algorithms must carry their exact lowercase hex encoding; an
 * unknown algorithm that fits the grammar is accepted, as the image spec asks.
 */
export function parseDigest(text: string): ParsedDigest {
  const match = digestGrammar.exec(text);
  if (!match) throw new InvalidDigestError(text, 'expected algorithm:encoded');
  const [, algorithm, encoded] = match;
  const encoding = registeredEncodings[algorithm];
  if (encoding && !encoding.test(encoded)) {
    throw new InvalidDigestError(text, `${algorithm} needs ${algorithm === 'sha512' ? 128 : 64} lowercase hex digits`);
  }
  return {algorithm, encoded};
}

export function isDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

export function sha256Digest(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** The digest of `data` with the named algorithm ('sha256' or 'sha512'). */
export function digestWith(algorithm: string, data: Buffer | string): string {
  if (!hashableAlgorithms.has(algorithm)) throw new InvalidDigestError(`${algorithm}:`, 'unsupported algorithm');
  return `${algorithm}:` + createHash(algorithm).update(data).digest('hex');
}

/** The 12 hex digits docker shows for an ID (`sha256:` dropped). */
export function shortId(digest: string): string {
  const colon = digest.indexOf(':');
  return digest.slice(colon + 1, colon + 13);
}

/**
 * The ChainID of every prefix of `diffIds`: ChainID(L0) = DiffID(L0), ChainID(L0..Ln) =
 * sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)), both operands full `alg:hex` strings.
 */
export function chainIds(diffIds: readonly string[]): string[] {
  const result: string[] = [];
  let previous: string | undefined;
  for (const diffId of diffIds) {
    previous = previous === undefined ? diffId : sha256Digest(`${previous} ${diffId}`);
    result.push(previous);
  }
  return result;
}

/** The ChainID of the whole stack, or undefined for no layers. */
export function chainId(diffIds: readonly string[]): string | undefined {
  return chainIds(diffIds).at(-1);
}
