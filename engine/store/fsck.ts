/**
 * fsck: verify the whole store and report problems, changing nothing.
 *
 * Checked: `oci-layout` (present, `imageLayoutVersion` a string), `index.json` (parses, is an index), every
 * blob (valid name, bytes hash to the name), every index entry (a valid tag, its manifest or index present,
 * of the descriptor's size, parseable and valid; a manifest's config and layers present with their
 * descriptors' sizes; the config valid for the manifest). Children of a multi-platform index may be missing
 * (only one platform is usually pulled); those that are present are checked. Files in tmp/ are in-flight or
 * abandoned writes, not problems: gc removes stale ones.
 */
import {createHash} from 'node:crypto';
import {createReadStream, promises as fs} from 'node:fs';
import {pipeline} from 'node:stream/promises';
import {Writable} from 'node:stream';
import {hashableAlgorithms, parseDigest} from '../image/digest.js';
import {
  isConfigMediaType, isIndexMediaType, isManifestMediaType, validateConfig, validateIndex, validateManifest, type Descriptor, type ImageIndex,
} from '../image/types.js';
import {familiarString} from '../image/reference.js';
import {Annotation, entryReference, mapLimit, type Store} from './store.js';

export type FsckProblemKind =
  | 'layout'
  | 'index'
  | 'blob-name'
  | 'blob-corrupt'
  | 'blob-unreadable'
  | 'blob-missing'
  | 'size-mismatch'
  | 'manifest-invalid'
  | 'config-invalid'
  | 'reference-invalid';

export interface FsckProblem {
  readonly kind: FsckProblemKind;
  readonly digest?: string;
  /** The tag (familiar) or, for a dangling image, the entry's digest, whose image is affected. */
  readonly ref?: string;
  readonly message: string;
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  await pipeline(createReadStream(path), new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback();
    },
  }));
  return `${algorithm}:` + hash.digest('hex');
}

export async function checkStore(store: Store): Promise<FsckProblem[]> {
  const problems: FsckProblem[] = [];
  const report = (problem: FsckProblem) => problems.push(problem);

  try {
    const layout = JSON.parse(await fs.readFile(store.paths.layout, 'utf8')) as {imageLayoutVersion?: unknown};
    if (typeof layout?.imageLayoutVersion !== 'string') {
      report({kind: 'layout', message: 'oci-layout: imageLayoutVersion is not a string'});
    }
  } catch (error) {
    report({kind: 'layout', message: `oci-layout: ${(error as Error).message}`});
  }

  // Every blob: name and content. Remember sizes and verdicts for the reference walk.
  const sizes = new Map<string, number>();
  const corrupt = new Set<string>();
  const files = await store.content.listBlobFiles();
  await mapLimit(files, 4, async file => {
    if (!file.digest) {
      report({kind: 'blob-name', message: `blob ${file.name}: not a valid digest`});
      return;
    }
    const {algorithm} = parseDigest(file.digest);
    try {
      const stats = await fs.stat(file.path);
      if (!stats.isFile()) {
        report({kind: 'blob-name', digest: file.digest, message: `blob ${file.digest}: not a regular file`});
        return;
      }
      sizes.set(file.digest, stats.size);
      if (!hashableAlgorithms.has(algorithm)) return; // unknown algorithm: cannot verify, must not fail
      const actual = await hashFile(file.path, algorithm);
      if (actual !== file.digest) {
        corrupt.add(file.digest);
        report({kind: 'blob-corrupt', digest: file.digest, message: `blob ${file.digest}: content hashes to ${actual}`});
      }
    } catch (error) {
      corrupt.add(file.digest);
      report({kind: 'blob-unreadable', digest: file.digest, message: `blob ${file.digest}: ${(error as Error).message}`});
    }
  });

  let index: ImageIndex;
  try {
    const parsed: unknown = JSON.parse(await fs.readFile(store.paths.index, 'utf8'));
    validateIndex(parsed);
    index = parsed;
  } catch (error) {
    report({kind: 'index', message: `index.json: ${(error as Error).message}`});
    return sortProblems(problems);
  }

  const checked = new Map<string, FsckProblem[]>();
  const checkBlob = (descriptor: Descriptor, what: string, ref: string | undefined, optional = false): boolean => {
    const size = sizes.get(descriptor.digest);
    if (size === undefined) {
      if (!optional) report({kind: 'blob-missing', digest: descriptor.digest, ref, message: `${what} ${descriptor.digest}: missing`});
      return false;
    }
    if (size !== descriptor.size) {
      report({kind: 'size-mismatch', digest: descriptor.digest, ref, message: `${what} ${descriptor.digest}: ${size} bytes, descriptor says ${descriptor.size}`});
      return false;
    }
    return !corrupt.has(descriptor.digest);
  };

  /** Checks one manifest or index; problems found once per digest, re-reported for every ref. */
  const checkTarget = async (descriptor: Descriptor, ref: string | undefined, depth: number, optional: boolean): Promise<void> => {
    const key = `${descriptor.digest}\u0000${ref ?? ''}`;
    if (checked.has(key)) return;
    checked.set(key, []);
    const what = isIndexMediaType(descriptor.mediaType) ? 'index' : 'manifest';
    if (!checkBlob(descriptor, what, ref, optional)) return;
    if (!isIndexMediaType(descriptor.mediaType) && !isManifestMediaType(descriptor.mediaType)) return; // opaque
    let value: unknown;
    try {
      value = JSON.parse((await fs.readFile(store.content.blobPath(descriptor.digest))).toString('utf8'));
    } catch (error) {
      report({kind: 'manifest-invalid', digest: descriptor.digest, ref, message: `${what} ${descriptor.digest}: ${(error as Error).message}`});
      return;
    }
    if (isIndexMediaType(descriptor.mediaType)) {
      try {
        validateIndex(value, descriptor.mediaType);
      } catch (error) {
        report({kind: 'manifest-invalid', digest: descriptor.digest, ref, message: (error as Error).message.replace('validate index', `index ${descriptor.digest}`)});
        return;
      }
      if (depth < 4) for (const child of value.manifests) await checkTarget(child, ref, depth + 1, true);
      return;
    }
    try {
      validateManifest(value, descriptor.mediaType);
    } catch (error) {
      report({kind: 'manifest-invalid', digest: descriptor.digest, ref, message: (error as Error).message.replace('validate manifest', `manifest ${descriptor.digest}`)});
      return;
    }
    const manifest = value;
    for (const layer of manifest.layers) checkBlob(layer, 'layer', ref);
    if (!checkBlob(manifest.config, 'config', ref)) return;
    if (!isConfigMediaType(manifest.config.mediaType)) return; // an artifact: its config is opaque
    try {
      const config: unknown = JSON.parse((await fs.readFile(store.content.blobPath(manifest.config.digest))).toString('utf8'));
      validateConfig(config, manifest);
    } catch (error) {
      report({kind: 'config-invalid', digest: manifest.config.digest, ref, message: (error as Error).message.replace('validate config', `config ${manifest.config.digest}`)});
    }
  };

  for (const entry of index.manifests) {
    const refText = entry.annotations?.[Annotation.containerdName] ?? entry.annotations?.[Annotation.refName];
    const reference = entryReference(entry);
    if (refText !== undefined && !reference) {
      report({kind: 'reference-invalid', digest: entry.digest, ref: refText, message: `index entry ${entry.digest}: invalid reference ${JSON.stringify(refText)}`});
    }
    await checkTarget(entry, reference ? familiarString(reference) : entry.digest, 0, false);
  }
  return sortProblems(problems);
}

function sortProblems(problems: FsckProblem[]): FsckProblem[] {
  const order = (problem: FsckProblem) => `${problem.kind === 'layout' ? 0 : problem.kind === 'index' ? 1 : 2}${problem.digest ?? ''}${problem.ref ?? ''}`;
  return problems.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}
