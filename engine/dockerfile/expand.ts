/**
 * Build-time substitution of typed instructions, with the ARG/ENV values the builder knows at that step.
 *
 * Expanded (as BuildKit does): ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR, ARG defaults, the
 * flag values of those instructions and of RUN (--mount fields, --network, --security), and the trigger inside an
 * ONBUILD. Left alone: the commands of RUN CMD ENTRYPOINT SHELL HEALTHCHECK (the container's shell expands them),
 * MAINTAINER, and ONBUILD's stored `expression` (a downstream build expands it with its own values).
 *
 * Every value in one instruction sees the same `env`: `ENV a=1 b=$a` gives b the value a had before the line.
 */
import {DockerfileSyntaxError, SubstitutionError} from './errors.js';
import type {Instruction, RunMount, HeredocSource} from './instructions.js';
import {expandHeredocBody, processWord, processWords} from './shell-lexer.js';
import type {ShellEnv} from './shell-lexer.js';

export interface ExpandOptions {
  /** File name for error locations; default `Dockerfile`. */
  readonly file?: string;
}

/**
 * Return the instruction with substitution applied where BuildKit applies it (quotes removed there too).
 * Instructions that are not expanded are returned as they are. Throws DockerfileSyntaxError at the
 * instruction's lines when a substitution fails (`${X:?required}`, `${}`...).
 */
export function expandInstruction<T extends Instruction>(instruction: T, env: ShellEnv, options: ExpandOptions = {}): T {
  const lexOptions = {escapeToken: instruction.escapeChar};
  const word = (text: string): string => processWord(text, env, lexOptions);
  const optional = (text: string | undefined): string | undefined => (text === undefined ? undefined : word(text));
  try {
    return expand(instruction, env, word, optional, options) as T;
  } catch (error) {
    if (error instanceof SubstitutionError) {
      throw new DockerfileSyntaxError(
        `${instruction.keyword.toUpperCase()}: ${error.message}`,
        {line: instruction.line, endLine: instruction.endLine, file: options.file},
        {cause: error},
      );
    }
    throw error;
  }
}

function expand(
  instruction: Instruction,
  env: ShellEnv,
  word: (text: string) => string,
  optional: (text: string | undefined) => string | undefined,
  options: ExpandOptions,
): Instruction {
  switch (instruction.kind) {
    case 'from':
      return {...instruction, image: word(instruction.image), platform: optional(instruction.platform)};
    case 'copy':
    case 'add': {
      const common = {
        sources: instruction.sources.map(word),
        dest: word(instruction.dest),
        chown: optional(instruction.chown),
        chmod: optional(instruction.chmod),
        exclude: instruction.exclude.map(word),
        heredocSources: instruction.heredocSources.map(
          (source): HeredocSource => (source.expand ? {...source, content: expandHeredocBody(source.content, env)} : source),
        ),
      };
      if (instruction.kind === 'copy') return {...instruction, ...common, from: optional(instruction.from)};
      return {...instruction, ...common, checksum: optional(instruction.checksum)};
    }
    case 'env':
    case 'label':
      return {...instruction, pairs: instruction.pairs.map(pair => ({key: word(pair.key), value: word(pair.value)}))};
    case 'arg':
      return {...instruction, args: instruction.args.map(arg => ({key: arg.key, value: optional(arg.value)}))};
    case 'expose': {
      const lexOptions = {escapeToken: instruction.escapeChar};
      return {...instruction, ports: instruction.ports.flatMap(port => processWords(port, env, lexOptions))};
    }
    case 'volume':
      return {...instruction, paths: instruction.paths.map(word)};
    case 'user':
      return {...instruction, user: word(instruction.user)};
    case 'workdir':
      return {...instruction, path: word(instruction.path)};
    case 'stopsignal':
      return {...instruction, signal: word(instruction.signal)};
    case 'run':
      return {
        ...instruction,
        mounts: instruction.mounts.map(mount => expandMount(mount, word)),
        network: optional(instruction.network) as typeof instruction.network,
        security: optional(instruction.security) as typeof instruction.security,
      };
    case 'onbuild':
      return {...instruction, instruction: expandInstruction(instruction.instruction, env, options)};
    default:
      return instruction;
  }
}

function expandMount(mount: RunMount, word: (text: string) => string): RunMount {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(mount.fields)) fields[key] = key === 'type' ? value : word(value);
  const pick = (value: string | undefined) => (value === undefined ? undefined : word(value));
  return {
    ...mount,
    fields,
    target: pick(mount.target),
    source: pick(mount.source),
    from: pick(mount.from),
    id: pick(mount.id),
    mode: pick(mount.mode),
    uid: pick(mount.uid),
    gid: pick(mount.gid),
    size: pick(mount.size),
    env: pick(mount.env),
  };
}
