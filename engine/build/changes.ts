/**
 * `docker import --change` / `commit --change`: Dockerfile instructions applied to a container config
 * without building. Allowed, as docker allows them: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL,
 * USER, VOLUME, WORKDIR. Values are substituted with the config's own Env, as the classic builder does.
 */
import {expandInstruction, parseDockerfile, type Instruction} from '../dockerfile/index.js';
import type {ContainerConfig} from '../image/types.js';
import {InstructionError} from './errors.js';
import {defaultShell, envToMap, normalizeWorkdir, parsePortSpecs, setEnv, validateSignal} from './image-config.js';

const allowed = new Set(['cmd', 'entrypoint', 'env', 'expose', 'label', 'onbuild', 'stopsignal', 'user', 'volume', 'workdir']);

export function applyConfigChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  let result: ContainerConfig = structuredClone(config);
  for (const change of changes) {
    const parsed = parseDockerfile(`FROM scratch\n${change}\n`, {file: '--change'});
    for (const raw of parsed.stages[0]?.instructions ?? []) {
      if (!allowed.has(raw.kind)) {
        throw new InstructionError(`${raw.keyword.toUpperCase()} is not a valid change command`, {
          hint: 'allowed: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR',
        });
      }
      result = applyOne(result, expandInstruction(raw, envToMap(result.Env)));
    }
  }
  return result;
}

function applyOne(config: ContainerConfig, instruction: Instruction): ContainerConfig {
  const shell = config.Shell?.length ? config.Shell : defaultShell;
  switch (instruction.kind) {
    case 'cmd':
      return {...config, Cmd: instruction.form === 'shell' ? [...shell, instruction.command] : [...instruction.args]};
    case 'entrypoint':
      return {...config, Entrypoint: instruction.form === 'shell' ? [...shell, instruction.command] : [...instruction.args]};
    case 'env': {
      let env = config.Env ?? [];
      for (const {key, value} of instruction.pairs) env = setEnv(env, key, value);
      return {...config, Env: env};
    }
    case 'label': {
      const labels = {...(config.Labels ?? {})};
      for (const {key, value} of instruction.pairs) labels[key] = value;
      return {...config, Labels: labels};
    }
    case 'expose': {
      const exposed = {...(config.ExposedPorts ?? {})};
      for (const port of parsePortSpecs(instruction.ports)) exposed[port] = {};
      return {...config, ExposedPorts: exposed};
    }
    case 'volume': {
      const volumes = {...(config.Volumes ?? {})};
      for (const path of instruction.paths) volumes[path] = {};
      return {...config, Volumes: volumes};
    }
    case 'user':
      return {...config, User: instruction.user};
    case 'workdir':
      return {...config, WorkingDir: normalizeWorkdir(config.WorkingDir ?? '/', instruction.path)};
    case 'stopsignal':
      validateSignal(instruction.signal);
      return {...config, StopSignal: instruction.signal};
    case 'onbuild':
      return {...config, OnBuild: [...(config.OnBuild ?? []), instruction.expression]};
    default:
      return config;
  }
}
