import {StrataError, UserError} from '../errors.js';

/** An archive entry tried to reach outside the target: `..` climbing above the root, a drive or UNC name, NUL. */
export class LayerEscapeError extends UserError {
  readonly entry: string;
  constructor(entry: string, reason: string) {
    super('ERR_LAYER_ESCAPE', `layer entry ${JSON.stringify(entry)} ${reason}`, {
      hint: 'the layer is hostile or broken; nothing was written outside the target',
    });
    this.entry = entry;
  }
}

/** A well-formed tar that asks for something unsafe: a hardlink to a directory or to a missing target, a bare `.wh.`. */
export class UnsafeLayerError extends UserError {
  readonly entry?: string;
  constructor(message: string, options?: {entry?: string; cause?: unknown}) {
    super('ERR_LAYER_UNSAFE', message, {cause: options?.cause});
    this.entry = options?.entry;
  }
}

/** The archive could not be read: bad checksum, truncated, unknown compression or entry type. */
export class CorruptLayerError extends UserError {
  constructor(message: string, options?: {cause?: unknown}) {
    super('ERR_LAYER_CORRUPT', message, {cause: options?.cause});
  }
}

/** The archive exceeded a configured limit (entries or bytes): a bomb, or a limit set too low. */
export class LayerLimitError extends UserError {
  constructor(message: string) {
    super('ERR_LAYER_LIMIT', message, {hint: 'raise the limit if the layer is trusted'});
  }
}

/** The writer was handed an entry it will not put in a layer (a bug in the caller, not in user input). */
export class LayerEntryError extends StrataError {
  readonly entry: string;
  constructor(entry: string, reason: string) {
    super('ERR_LAYER_ENTRY', `write layer: entry ${JSON.stringify(entry)} ${reason}`);
    this.entry = entry;
  }
}
