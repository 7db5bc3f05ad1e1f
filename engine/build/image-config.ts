/**
 * The image config a build produces, changed one metadata instruction at a time as BuildKit's Dockerfile
 * frontend changes it, with the history entry each one writes. Pure: no file system.
 */
import type {ContainerConfig, HistoryEntry, ImageConfig} from '../image/types.js';
import {InstructionError} from './errors.js';
import {goList, healthcheckHistory, historyComment} from './history-text.js';

export const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const defaultShell: readonly string[] = ['/bin/sh', '-c'];

const goArch: Record<string, string> = {x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64'};

export function hostArchitecture(): string {
  return goArch[process.arch] ?? process.arch;
}

/** The config of `FROM scratch` (BuildKit's emptyImage). */
export function scratchConfig(): ImageConfig {
  return {
    architecture: hostArchitecture(),
    os: 'linux',
    config: {Env: [`PATH=${defaultPath}`], WorkingDir: '/'},
    rootfs: {type: 'layers', diff_ids: []},
    history: [],
  };
}

/** A deep copy of a base image's config, ready to build on: no creation time, PATH guaranteed. */
export function configFromBase(base: ImageConfig): ImageConfig {
  const config = structuredClone(base) as ImageConfig;
  delete config.created;
  config.config = config.config ?? {};
  config.history = config.history ?? [];
  config.rootfs = {type: 'layers', diff_ids: [...(base.rootfs?.diff_ids ?? [])]};
  const env = config.config.Env ?? [];
  if (!env.some(entry => entry.split('=', 1)[0] === 'PATH')) config.config.Env = [...env, `PATH=${defaultPath}`];
  return config;
}

export function containerConfig(config: ImageConfig): ContainerConfig {
  if (!config.config) config.config = {};
  return config.config;
}

/** Set or replace `key` in an Env list, keeping its position. */
export function setEnv(env: readonly string[] | null | undefined, key: string, value: string): string[] {
  const list = [...(env ?? [])];
  const index = list.findIndex(entry => entry.split('=', 1)[0] === key);
  if (index === -1) list.push(`${key}=${value}`);
  else list[index] = `${key}=${value}`;
  return list;
}

export function envToMap(env: readonly string[] | null | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of env ?? []) {
    const equals = entry.indexOf('=');
    if (equals === -1) map.set(entry, '');
    else map.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return map;
}

export function addHistory(config: ImageConfig, createdBy: string, emptyLayer: boolean): HistoryEntry {
  const entry: HistoryEntry = {created_by: createdBy, comment: historyComment};
  if (emptyLayer) entry.empty_layer = true;
  config.history = [...(config.history ?? []), entry];
  return entry;
}

/** Shell form args through SHELL (BuildKit's withShell). */
export function withShell(config: ImageConfig, command: string): string[] {
  const shell = config.config?.Shell?.length ? config.config.Shell : defaultShell;
  return [...shell, command];
}

/** EXPOSE port specs (`80`, `53/udp`, `8000-8002`, `127.0.0.1:80:80`) -> `port/proto`, as BuildKit parses them. */
export function parsePortSpecs(specs: readonly string[]): string[] {
  const result: string[] = [];
  for (const raw of specs) {
    const parts = raw.split(':');
    const containerPart = parts[parts.length - 1];
    const slash = containerPart.indexOf('/');
    const port = slash === -1 ? containerPart : containerPart.slice(0, slash);
    const proto = (slash === -1 ? 'tcp' : containerPart.slice(slash + 1).toLowerCase()) || 'tcp';
    if (port === '') throw new InstructionError(`no port specified: ${raw}<empty>`);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new InstructionError(`invalid proto: ${proto}`);
    const range = /^(\d+)(?:-(\d+))?$/.exec(port);
    if (!range) throw new InstructionError(`invalid containerPort: ${port}`);
    const start = Number(range[1]);
    const end = range[2] === undefined ? start : Number(range[2]);
    if (start > 65535 || end > 65535 || end < start) throw new InstructionError(`invalid containerPort: ${port}`);
    for (let value = start; value <= end; value++) result.push(`${value}/${proto}`);
  }
  return result;
}

export function exposeHistory(ports: readonly string[]): string {
  return `EXPOSE ${goList(ports)}`;
}

export function volumeHistory(paths: readonly string[]): string {
  return `VOLUME ${goList(paths)}`;
}

export {healthcheckHistory};

const signalNames = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF',
  'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2',
  'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'UNUSED',
]);

/** STOPSIGNAL accepts a number, a name with or without SIG, or RTMIN+n / RTMAX-n. */
export function validateSignal(signal: string): void {
  if (/^\d+$/.test(signal)) return;
  const name = signal.toUpperCase().replace(/^SIG/, '');
  if (signalNames.has(name) || /^RTM(IN|AX)([+-]\d+)?$/.test(name)) return;
  throw new InstructionError(`Invalid signal: ${signal}`);
}

/** WORKDIR relative to the previous one (BuildKit's NormalizeWorkdir). */
export function normalizeWorkdir(current: string, path: string): string {
  const joined = path.startsWith('/') ? path : `${current || '/'}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return '/' + parts.join('/');
}

/** Fill the `created` of history entries and the config as BuildKit's exporter does, from layer times. */
export function fillCreatedTimes(config: ImageConfig, fallback: string): void {
  const history = config.history ?? [];
  let first: string | undefined;
  for (const entry of history) {
    if (entry.created) {
      first = entry.created;
    }
  }
  // Entries without a time take the time of the layer step before them, or the first one after them.
  let previous: string | undefined;
  const firstNew = history.find(entry => entry.created)?.created;
  for (const entry of history) {
    if (entry.created) previous = entry.created;
    else entry.created = previous ?? firstNew ?? fallback;
  }
  const latest = history.reduce<string | undefined>((max, entry) => (entry.created && (!max || entry.created > max) ? entry.created : max), undefined);
  config.created = latest ?? first ?? fallback;
}
