import {StrataError, UserError} from '../errors.js';

/** This system cannot isolate a process: no Linux namespaces, or the kernel refuses them to this user. */
export class RuntimeUnavailableError extends UserError {
  constructor(message: string, options?: {cause?: unknown; hint?: string}) {
    super('ERR_RUNTIME_UNAVAILABLE', message, options);
  }
}

/** USER names a user or group that the image's /etc/passwd or /etc/group does not hold. */
export class UnknownUserError extends UserError {
  constructor(message: string, options?: {cause?: unknown; hint?: string}) {
    super('ERR_UNKNOWN_USER', message, options);
  }
}

/** The user namespace cannot hold the ids a step needs (no subordinate ids for the invoking user). */
export class IdMappingError extends UserError {
  constructor(message: string, options?: {cause?: unknown; hint?: string}) {
    super('ERR_ID_MAPPING', message, options);
  }
}

/** The isolation helper failed before the command started (mount refused, missing file...). A bug or a host quirk. */
export class RuntimeSetupError extends StrataError {
  constructor(message: string, options?: {cause?: unknown}) {
    super('ERR_RUNTIME_SETUP', message, options);
  }
}
