/**
 * Image references (`[domain/]path[:tag][@digest]`), parsed and normalised as docker does:
 * one-part names live on docker.io under `library/`, a missing tag means `latest` (unless a digest is given),
 * `index.docker.io` is docker.io, and the first path part is a registry host only when it looks like one
 * (has a `.` or a `:`, is `localhost`, or has uppercase letters, which a repository path may not).
 *
 * A Reference is a plain read-only value; `familiarString` gives the short form docker prints
 * (`ubuntu:22.04`, `user/app:1`, `127.0.0.1:5000/team/app:1.2`) and `fullString` the canonical one.
 */
import {UserError} from '../errors.js';
import {isDigest} from './digest.js';

export interface Reference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/ubuntu`, `team/app`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** A reference that does not fit docker's grammar. The message follows docker's wording. */
export class InvalidReferenceError extends UserError {
  readonly text: string;
  constructor(text: string, reason: string) {
    super('ERR_INVALID_REFERENCE', reason, {hint: `"${text}" is not a valid repository/tag`});
    this.text = text;
  }
}

export const defaultDomain = 'docker.io';
export const defaultTag = 'latest';
const legacyDefaultDomain = 'index.docker.io';
const officialRepoPrefix = 'library/';
const maxNameLength = 255;

// The grammar of distribution's reference package, written out from its documented productions.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainAndPort = `(?:${domainName}|${ipv6})(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const referenceGrammar = new RegExp(
  `^((?:(${domainAndPort})/)?(${pathComponent}(?:/${pathComponent})*))(?::(${tagPattern}))?(?:@(${digestPattern}))?$`,
);
const hexIdentifier = /^[a-f0-9]{64}$/;
const tagGrammar = new RegExp(`^${tagPattern}$`);

export interface ParseReferenceOptions {
  /** Add `:latest` when neither tag nor digest is given (default true). Filters pass false. */
  readonly defaultTag?: boolean;
}

/**
 * Parses `text` as docker's ParseNormalizedNamed does, then applies the default tag.
 * Throws InvalidReferenceError with docker's message for anything outside the grammar.
 */
export function parseReference(text: string, options: ParseReferenceOptions = {}): Reference {
  if (text === '') throw new InvalidReferenceError(text, 'invalid reference format: repository name must have at least one component');
  if (hexIdentifier.test(text)) {
    throw new InvalidReferenceError(text, `invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(text);
  const tagSeparator = remainder.indexOf(':');
  const atSign = remainder.indexOf('@');
  const remoteEnd = Math.min(...[tagSeparator, atSign, remainder.length].filter(index => index >= 0));
  const remoteName = remainder.slice(0, remoteEnd);
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidReferenceError(text, 'invalid reference format: repository name must be lowercase');
  }
  const match = referenceGrammar.exec(`${domain}/${remainder}`);
  if (!match) throw new InvalidReferenceError(text, 'invalid reference format');
  const [, name, matchedDomain, path, tag, digest] = match;
  if (name.length > maxNameLength) {
    throw new InvalidReferenceError(text, `invalid reference format: repository name must not be more than ${maxNameLength} characters`);
  }
  if (digest !== undefined && !isDigest(digest)) throw new InvalidReferenceError(text, 'invalid digest format');
  const reference: {domain: string; path: string; tag?: string; digest?: string} = {domain: matchedDomain, path};
  if (tag !== undefined) reference.tag = tag;
  else if (digest === undefined && options.defaultTag !== false) reference.tag = defaultTag;
  if (digest !== undefined) reference.digest = digest;
  return reference;
}

/** parseReference that answers undefined instead of throwing. */
export function tryParseReference(text: string, options?: ParseReferenceOptions): Reference | undefined {
  try {
    return parseReference(text, options);
  } catch {
    return undefined;
  }
}

function splitDockerDomain(text: string): [string, string] {
  const slash = text.indexOf('/');
  let domain: string;
  let remainder: string;
  if (slash < 0) {
    return [defaultDomain, officialRepoPrefix + text];
  }
  const first = text.slice(0, slash);
  const rest = text.slice(slash + 1);
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    domain = first === legacyDefaultDomain ? defaultDomain : first;
    remainder = rest;
  } else {
    domain = defaultDomain;
    remainder = text;
  }
  if (domain === defaultDomain && !remainder.includes('/')) remainder = officialRepoPrefix + remainder;
  return [domain, remainder];
}

export function isValidTag(tag: string): boolean {
  return tagGrammar.test(tag);
}

/** A copy of `reference` with `tag` (digest dropped). */
export function withTag(reference: Reference, tag: string): Reference {
  if (!isValidTag(tag)) throw new InvalidReferenceError(tag, 'invalid tag format');
  return {domain: reference.domain, path: reference.path, tag};
}

/** The repository as docker's REPOSITORY column shows it: `ubuntu`, `user/app`, `127.0.0.1:5000/team/app`. */
export function familiarRepository(reference: Reference): string {
  if (reference.domain !== defaultDomain) return `${reference.domain}/${reference.path}`;
  if (reference.path.startsWith(officialRepoPrefix)) {
    const remainder = reference.path.slice(officialRepoPrefix.length);
    if (!remainder.includes('/')) return remainder;
  }
  return reference.path;
}

/** The full repository name: `docker.io/library/ubuntu`. */
export function fullRepository(reference: Reference): string {
  return `${reference.domain}/${reference.path}`;
}

function suffix(reference: Reference): string {
  return (reference.tag !== undefined ? `:${reference.tag}` : '') + (reference.digest !== undefined ? `@${reference.digest}` : '');
}

/** The short form docker prints: `demo:latest`, `user/app:1`, `127.0.0.1:5000/team/app:1.2`. */
export function familiarString(reference: Reference): string {
  return familiarRepository(reference) + suffix(reference);
}

/** The canonical form: `docker.io/library/demo:latest`. */
export function fullString(reference: Reference): string {
  return fullRepository(reference) + suffix(reference);
}

export function sameReference(a: Reference, b: Reference): boolean {
  return a.domain === b.domain && a.path === b.path && a.tag === b.tag && a.digest === b.digest;
}
