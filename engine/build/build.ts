/**
 * `build`: a Dockerfile and a context folder in, an image in the store out, as `docker build` (BuildKit) makes
 * it, without a daemon.
 *
 * Contract:
 * - Only the stages the target needs are built (FROM <stage>, COPY --from, ONBUILD triggers), in file order.
 * - Each step that makes a filesystem state (RUN, COPY, ADD, WORKDIR) has a cache key from the ChainID of
 *   the layers below it and its resolved definition (argv, env, user, cwd, network; sources' checksum;
 *   destination, owner, mode). A hit reuses the recorded layer; a miss runs the step and says why, compared
 *   with the inputs recorded for the same Dockerfile step last time.
 * - Nothing reaches index.json unless the whole build succeeds; layers of successful steps stay (and are
 *   cached) even when a later step fails.
 * - Events are emitted in order through `hooks.onEvent`; `hooks.signal` cancels (a running RUN is killed).
 */
import {randomBytes} from 'node:crypto';
import {mkdir, readFile, rm, stat} from 'node:fs/promises';
import {basename, join, resolve, sep} from 'node:path';
import {
  DockerfileSyntaxError,
  expandInstruction,
  parseDockerfile,
  type Instruction,
  type OnbuildInstruction,
  type ParsedDockerfile,
  type Stage,
} from '../dockerfile/index.js';
import {chainId} from '../image/digest.js';
import {MediaType, type Descriptor, type ImageConfig} from '../image/types.js';
import type {LayerEntry, LayerMapEntry} from '../layer/index.js';
import {placingSnapshot, Snapshots} from '../snapshot/snapshots.js';
import {Store} from '../store/store.js';
import {isUserError} from '../errors.js';
import {BuildCache, cacheKeyFor, explainMiss, scheduleCacheFlush, stepIdentity, type CacheRecord, type StepInputs} from './cache.js';
import {Context} from './context.js';
import {contextTree, planCopy, rootfsTree, type CopyPlan, type SourceTree} from './copy.js';
import {BaseImageNotFoundError, BuildCancelledError, BuildError, InstructionError, SourceChangedError, TargetNotFoundError} from './errors.js';
import type {BuildEvent, StepRef, StepSummary} from './events.js';
import {formatDockerfileExcerpt} from '../dockerfile/excerpt.js';

/** The Dockerfile lines a build error points at, as the front end renders them (BuildKit's layout). */
function dockerfileExcerpt(text: string, file: string, start: number, end = start): string {
  return formatDockerfileExcerpt(text, start, end, '', {file});
}
import {copyHistory, goQuotedList, healthcheckHistory, runHistory} from './history-text.js';
import {
  addHistory,
  configFromBase,
  containerConfig,
  envToMap,
  exposeHistory,
  fillCreatedTimes,
  normalizeWorkdir,
  parsePortSpecs,
  scratchConfig,
  setEnv,
  validateSignal,
  volumeHistory,
  withShell,
} from './image-config.js';
import {loadContextFilter} from './ignore.js';
import {resolveChown, RootfsView} from './rootfs-view.js';
import {runStep} from './run-step.js';
import {chainOf, startSeed, type SeedInProgress} from './snapshot-seed.js';
import {storeLayer, type StoredLayer} from './store-layer.js';

export interface BuildOptions {
  /** An open store, or its root folder. */
  readonly store?: Store;
  readonly root?: string;
  readonly contextDir: string;
  /** Dockerfile path (default `<context>/Dockerfile`); may be outside the context. */
  readonly dockerfile?: string;
  /** Dockerfile text, instead of reading `dockerfile`. */
  readonly dockerfileText?: string;
  readonly tags?: readonly string[];
  readonly buildArgs?: Readonly<Record<string, string>>;
  readonly target?: string;
  readonly noCache?: boolean;
  readonly labels?: Readonly<Record<string, string>>;
  /** Network of RUN steps (default host). */
  readonly network?: 'host' | 'none';
  /**
   * Watch mode's hint: only these context paths (relative) changed since the last build of this context in
   * this process; everything else is known. Undefined: re-check everything (cheaply: stat, not read).
   */
  readonly changedPaths?: readonly string[];
  /** Clock for layer creation times; default `() => new Date()`. */
  readonly now?: () => Date;
  /** How RUN mounts its rootfs: overlay when allowed, else a copy (default), or always a copy (tests). */
  readonly runMode?: 'auto' | 'copy';
  /**
   * Keep the cache's companions and step inputs in memory and write them once the build is over (after the
   * image is tagged), instead of while later steps wait: for a process that lives on after the build (watch).
   */
  readonly deferCacheWrites?: boolean;
}

export interface BuildHooks {
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: BuildEvent) => void;
  /**
   * Awaited after the last step, before the image is written and tagged; a rejection fails the build with
   * nothing tagged (watch mode holds a build started during its quiet period here until that period is over).
   */
  readonly beforeTag?: () => Promise<void>;
}

export interface BuildResult {
  readonly imageId: string;
  readonly manifestDigest: string;
  readonly tags: readonly string[];
  readonly steps: readonly StepSummary[];
  readonly durationMs: number;
}

const proxyArgs = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap(name => [name, name.toLowerCase()]));

interface DeclaredArg {
  readonly name: string;
  readonly value?: string;
}

/** A stage's state while it is built. */
interface StageState {
  config: ImageConfig;
  layers: Descriptor[];
  /** The env steps see: the config's Env plus ARG values (a later ARG replaces an ENV of the same name here). */
  env: Map<string, string>;
  declaredArgs: DeclaredArg[];
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** Layer steps run so far in this stage (the first one's parent is the base). */
  layerSteps: number;
  /** A layer step still storing its layer (see Builder.layerStep); not yet in `layers`. */
  pending?: PendingLayer;
}

/** A layer step whose layer is being stored while the next instruction starts (see Builder.layerStep). */
interface PendingLayer {
  /**
   * Lower folders, lowest first, that show the layer's files: the seed's view (the earlier snapshot under a
   * small folder of what changed) as soon as it is made, else the linked snapshot folder once it is; undefined
   * when neither could be made. Valid until `place`.
   */
  readonly ready: Promise<string[] | undefined>;
  /** The rest of the step: the layer stored, recorded and pushed onto the state, the step finished. */
  readonly done: Promise<void>;
  /**
   * Place the snapshot folder (or drop it if the step failed): once nothing runs on it any more. Resolves
   * before the folder is in place; `Snapshots.ensure` waits for it.
   */
  place(): Promise<void>;
}

interface ParentLayers {
  readonly diffIds: readonly string[];
  readonly layerDigests: readonly string[];
}

/** Where a RUN's output lines go. */
interface RunOutput {
  line(line: string, stream: 'stdout' | 'stderr'): void;
}

/** Output of a RUN that started before its step did: held until `start`, then passed on as it comes. */
class HeldOutput implements RunOutput {
  private held: [string, 'stdout' | 'stderr'][] = [];
  private step?: StepRef;
  constructor(private readonly send: (step: StepRef, line: string, stream: 'stdout' | 'stderr') => void) {}

  line(line: string, stream: 'stdout' | 'stderr'): void {
    if (this.step) this.send(this.step, line, stream);
    else this.held.push([line, stream]);
  }

  start(step: StepRef): void {
    this.step = step;
    for (const [line, stream] of this.held.splice(0)) this.send(step, line, stream);
  }
}

interface PlannedStage {
  readonly stage: Stage;
  readonly displayName: string;
  /** Base: scratch, an earlier stage, or an image reference. */
  readonly base: {kind: 'scratch'} | {kind: 'stage'; index: number} | {kind: 'image'; reference: string};
  total: number;
  triggers: Instruction[];
  baseImage?: {config: ImageConfig; layers: Descriptor[]; id: string};
}

/** The first folders that show a linking seed's files: its view when it has one, else its linked folder. */
async function firstFolders(seed: SeedInProgress): Promise<string[] | undefined> {
  const view = await seed.view;
  if (view) return view;
  const folder = await seed.ready;
  return folder === undefined ? undefined : [folder];
}

/** Contexts kept between builds in this process, for watch mode: listings and hashes stay warm. */
const warmContexts = new Map<string, Context>();

/** Forget the in-process context memory (what a new process starts with); the on-disk hash memory stays. */
export function forgetWarmContexts(): void {
  warmContexts.clear();
}

export async function build(options: BuildOptions, hooks: BuildHooks = {}): Promise<BuildResult> {
  const started = Date.now();
  const emit = (event: BuildEvent) => hooks.onEvent?.(event);
  const store = options.store ?? (await Store.open(resolveRoot(options)));
  const contextDir = resolve(options.contextDir);
  const dockerfilePath = resolve(options.dockerfile ?? join(contextDir, 'Dockerfile'));
  const dockerfileName = options.dockerfile ? basename(options.dockerfile) : 'Dockerfile';
  let text = '';
  let currentStep: StepRef | undefined;
  let excerpt: string | undefined;
  let builder: Builder | undefined;
  try {
    const contextStats = await stat(contextDir).catch(() => undefined);
    if (!contextStats?.isDirectory()) {
      throw new BuildError('ERR_BUILD_CONTEXT', `unable to prepare context: path ${JSON.stringify(options.contextDir)} not found`, {
        hint: 'the context is a folder; give its path as the last argument',
      });
    }
    if (options.dockerfileText !== undefined) text = options.dockerfileText;
    else {
      try {
        text = await readFile(dockerfilePath, 'utf8');
      } catch (error) {
        throw new BuildError('ERR_BUILD_DOCKERFILE', `read Dockerfile ${dockerfilePath}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, {cause: error});
      }
    }
    builder = new Builder(store, options, hooks, emit, text, dockerfilePath, dockerfileName, contextDir);
    const result = await builder.run(step => (currentStep = step));
    const durationMs = Date.now() - started;
    emit({
      type: 'build-done', imageId: result.imageId, manifestDigest: result.manifestDigest, tags: result.tags, durationMs,
      rebuilt: result.steps.filter(step => !step.cached).map(step => ({vertex: step.vertex, instruction: step.instruction, reason: step.reason})),
    });
    return {...result, durationMs};
  } catch (error) {
    const failure = hooks.signal?.aborted ? new BuildCancelledError() : error;
    if (failure instanceof DockerfileSyntaxError) excerpt = dockerfileExcerpt(text, dockerfileName, failure.line, failure.endLine);
    else if (failure instanceof BuildError && failure.step) {
      excerpt = failure.excerpt ?? dockerfileExcerpt(text, dockerfileName, failure.step.line, (failure as {endLine?: number}).endLine ?? failure.step.line);
    } else if (currentStep && isUserError(failure)) excerpt = dockerfileExcerpt(text, dockerfileName, currentStep.line);
    if (failure instanceof BuildError && excerpt) failure.excerpt = excerpt;
    const message = failure instanceof DockerfileSyntaxError ? failure.detail : (failure as Error).message;
    emit({
      type: 'build-failed', error: message, code: (failure as {code?: string}).code ?? 'ERR_BUILD',
      step: failure instanceof BuildError ? failure.step ?? currentStep : currentStep,
      excerpt, durationMs: Date.now() - started,
    });
    if (isUserError(failure) && !(failure instanceof BuildError)) {
      const wrapped = new BuildError(failure.code, message, {cause: failure, hint: failure.hint, excerpt});
      wrapped.step = currentStep;
      throw wrapped;
    }
    throw failure;
  } finally {
    // What a deferring build held back is written once its last turn is over.
    scheduleCacheFlush();
    if (options.deferCacheWrites) setImmediate(() => void builder?.saveContextHashes());
  }
}

function resolveRoot(options: BuildOptions): string {
  if (!options.root) throw new BuildError('ERR_BUILD_NO_STORE', 'build: no store or store root given');
  return options.root;
}

class Builder {
  private readonly cache: BuildCache;
  private readonly snapshots: Snapshots;
  private readonly steps: StepSummary[] = [];
  private vertex = 0;
  private context?: Context;
  private parsed!: ParsedDockerfile;
  private globalArgs = new Map<string, string>();
  private readonly now: () => Date;
  private readonly scratchRoot: string;

  constructor(
    private readonly store: Store,
    private readonly options: BuildOptions,
    private readonly hooks: BuildHooks,
    private readonly emit: (event: BuildEvent) => void,
    private readonly text: string,
    private readonly dockerfilePath: string,
    private readonly dockerfileName: string,
    private readonly contextDir: string,
  ) {
    this.cache = new BuildCache(store.root, {deferWrites: options.deferCacheWrites});
    this.snapshots = new Snapshots({root: store.root, content: store.content});
    this.now = options.now ?? (() => new Date());
    this.scratchRoot = join(store.root, 'tmp', `build-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  async run(onStep: (step: StepRef | undefined) => void): Promise<Omit<BuildResult, 'durationMs'>> {
    this.onStep = onStep;
    this.parsed = parseDockerfile(this.text, {file: this.dockerfileName});
    this.globalArgs = this.resolveGlobalArgs();
    const planned = await this.plan();
    const targetIndex = this.targetIndex(planned);
    const needed = this.neededStages(planned, targetIndex);
    const order = planned.filter(stage => needed.has(stage.stage.index));
    this.emit({
      type: 'build-started', contextDir: this.contextDir, dockerfile: this.dockerfilePath,
      stages: order.map(stage => stage.displayName || `stage-${stage.stage.index}`), target: this.options.target,
    });
    const results = new Map<number, StageState>();
    // Remembering the context's hashes and removing the scratch folder overlap with writing the image; a
    // deferring build (watch) remembers the hashes once it is over: only another process reads them.
    const tidy = () => Promise.all([this.options.deferCacheWrites ? undefined : this.saveContextHashes(), rm(this.scratchRoot, {recursive: true, force: true}).catch(() => {})]);
    try {
      for (const stage of order) results.set(stage.stage.index, await this.buildStage(stage, results, planned));
    } catch (error) {
      await tidy();
      throw error;
    }
    const tidied = tidy();
    try {
      return await this.tagImage(results.get(targetIndex)!);
    } finally {
      await tidied;
    }
  }

  /** Write the image of the target stage's state and tag it (after `beforeTag`). */
  private async tagImage(final: StageState): Promise<Omit<BuildResult, 'durationMs'>> {
    const config = final.config;
    if (this.options.labels && Object.keys(this.options.labels).length > 0) {
      const container = containerConfig(config);
      container.Labels = {...(container.Labels ?? {}), ...this.options.labels};
    }
    config.rootfs = {type: 'layers', diff_ids: final.layers.map(layer => layer.annotations?.['strata.diffId'] ?? layer.digest)};
    fillCreatedTimes(config, new Date(0).toISOString());
    const layers = final.layers.map(({annotations, ...layer}) => {
      void annotations;
      return layer;
    });
    await this.hooks.beforeTag?.();
    this.checkAborted();
    const stored = await this.store.putImage({config: orderConfig(config), layers, tags: [...(this.options.tags ?? [])]});
    return {imageId: stored.id, manifestDigest: stored.manifestDigest, tags: stored.tags, steps: this.steps};
  }

  private onStep: (step: StepRef | undefined) => void = () => {};

  /** Remember the context's content hashes for the next build (a failure only costs that build a rehash). */
  async saveContextHashes(): Promise<void> {
    await this.context?.saveHashes().catch(() => {});
  }

  private resolveGlobalArgs(): Map<string, string> {
    const args = new Map<string, string>();
    const arch = this.store.platform?.architecture ?? 'amd64';
    const platform = `linux/${arch}`;
    for (const [name, value] of Object.entries({
      TARGETPLATFORM: platform, TARGETOS: 'linux', TARGETARCH: arch, TARGETVARIANT: '',
      BUILDPLATFORM: platform, BUILDOS: 'linux', BUILDARCH: arch, BUILDVARIANT: '',
    })) args.set(name, value);
    const buildArgs = this.options.buildArgs ?? {};
    for (const instruction of this.parsed.globalArgs) {
      const expanded = expandInstruction(instruction, args, {file: this.dockerfileName});
      for (const arg of expanded.args) {
        if (Object.hasOwn(buildArgs, arg.key)) args.set(arg.key, buildArgs[arg.key]);
        else if (arg.value !== undefined) args.set(arg.key, arg.value);
      }
    }
    return args;
  }

  private async plan(): Promise<PlannedStage[]> {
    const stages = this.parsed.stages;
    const planned: PlannedStage[] = [];
    for (const stage of stages) {
      const from = expandInstruction(stage.from, this.globalArgs, {file: this.dockerfileName});
      const image = from.image;
      if (image === '') {
        throw new DockerfileSyntaxError(`base name (${stage.from.image}) should not be blank`, {line: stage.from.line, file: this.dockerfileName});
      }
      const earlier = planned.find(candidate => candidate.stage.name !== undefined && candidate.stage.name === image.toLowerCase());
      const base: PlannedStage['base'] = image.toLowerCase() === 'scratch' ? {kind: 'scratch'} : earlier ? {kind: 'stage', index: earlier.stage.index} : {kind: 'image', reference: image};
      const displayName = stages.length === 1 ? '' : stage.name ?? `stage-${stage.index}`;
      const entry: PlannedStage = {stage, displayName, base, total: 0, triggers: []};
      let total = base.kind === 'image' ? 1 : 0;
      for (const instruction of stage.instructions) if (countsAsStep(instruction)) total++;
      entry.total = total;
      planned.push(entry);
    }
    return planned;
  }

  private targetIndex(planned: PlannedStage[]): number {
    const target = this.options.target;
    if (!target) return planned.length - 1;
    const found = planned.find(stage => stage.stage.name === target.toLowerCase());
    if (!found) throw new TargetNotFoundError(target, planned.flatMap(stage => (stage.stage.name ? [stage.stage.name] : [])));
    return found.stage.index;
  }

  /** Stages the target depends on: its base chain, COPY --from sources, recursively. */
  private neededStages(planned: PlannedStage[], target: number): Set<number> {
    const needed = new Set<number>();
    const visit = (index: number) => {
      if (needed.has(index)) return;
      needed.add(index);
      const stage = planned[index];
      if (stage.base.kind === 'stage') visit(stage.base.index);
      for (const instruction of [...stage.stage.instructions]) {
        const from = copyFrom(instruction);
        if (from === undefined) continue;
        const source = this.findStage(planned, from, stage.stage.index);
        if (source !== undefined) visit(source);
      }
    };
    visit(target);
    return needed;
  }

  /** A `--from` value as a stage index (name or number, earlier stages only), or undefined for an image. */
  private findStage(planned: PlannedStage[], from: string, current: number): number | undefined {
    if (/^\d+$/.test(from)) {
      const index = Number(from);
      if (index >= planned.length) throw new InstructionError(`invalid stage index ${index}`);
      if (index >= current) throw new InstructionError(`cannot copy from stage ${index}, it needs to be defined before the current stage`);
      return index;
    }
    const found = planned.find(stage => stage.stage.name === from.toLowerCase());
    if (!found) return undefined;
    if (found.stage.index >= current) {
      throw new InstructionError(`cannot copy from stage "${from}", it needs to be defined before current stage`);
    }
    return found.stage.index;
  }

  private async buildStage(planned: PlannedStage, results: Map<number, StageState>, all: PlannedStage[]): Promise<StageState> {
    const {stage} = planned;
    let state: StageState;
    let index = 0;
    let triggers: string[] = [];
    if (planned.base.kind === 'scratch') {
      state = {config: scratchConfig(), layers: [], env: new Map(), declaredArgs: [], cmdSet: false, layerSteps: 0};
    } else if (planned.base.kind === 'stage') {
      const base = results.get(planned.base.index)!;
      const config = structuredClone(base.config);
      containerConfig(config).OnBuild = undefined;
      delete containerConfig(config).OnBuild;
      state = {config, layers: [...base.layers], env: new Map(base.env), declaredArgs: [...base.declaredArgs], cmdSet: false, layerSteps: 0};
    } else {
      const reference = planned.base.reference;
      const step = this.startStep(planned, ++index, `FROM ${reference}`, stage.from.line);
      let image;
      try {
        image = await this.store.resolveImage(reference);
      } catch (error) {
        if (isUserError(error)) throw this.atStep(new BaseImageNotFoundError(reference, {cause: error}), step);
        throw error;
      }
      const config = configFromBase(image.config);
      triggers = [...(config.config?.OnBuild ?? [])];
      if (config.config) delete config.config.OnBuild;
      const diffIds = image.config.rootfs.diff_ids;
      state = {
        config,
        layers: image.manifest.layers.map((layer, position) => ({...layer, annotations: {'strata.diffId': diffIds[position]}})),
        env: new Map(),
        declaredArgs: [],
        cmdSet: false,
        layerSteps: 0,
      };
      this.emit({type: 'step-cached', ...step});
      this.finishStep(step, true, '', Date.now());
    }
    if (planned.base.kind !== 'stage') state.env = envToMap(state.config.config?.Env);

    const instructions: {instruction: Instruction; onbuild: boolean}[] = [];
    for (const trigger of triggers) instructions.push({instruction: this.parseTrigger(trigger, stage), onbuild: true});
    planned.total += triggers.filter(trigger => countsAsStep(this.parseTrigger(trigger, stage))).length;
    for (const instruction of stage.instructions) instructions.push({instruction, onbuild: false});

    try {
      for (const {instruction, onbuild} of instructions) {
        this.checkAborted();
        if (countsAsStep(instruction)) index++;
        // Only a RUN may start while the layer step before it still stores its layer (see layerStep).
        if (instruction.kind !== 'run') await this.settle(state);
        await this.dispatch(planned, state, instruction, index, onbuild, results, all);
      }
      await this.settle(state);
    } catch (error) {
      await this.settle(state).catch(() => {});
      throw error;
    }
    this.onStep(undefined);
    return state;
  }

  private parseTrigger(expression: string, stage: Stage): Instruction {
    let parsed: ParsedDockerfile;
    try {
      parsed = parseDockerfile(`FROM scratch\n${expression}\n`, {file: this.dockerfileName});
    } catch (error) {
      if (error instanceof DockerfileSyntaxError) {
        throw new DockerfileSyntaxError(`ONBUILD trigger ${JSON.stringify(expression)}: ${error.detail}`, {line: stage.from.line, file: this.dockerfileName});
      }
      throw error;
    }
    const instruction = parsed.stages[0]?.instructions[0];
    if (!instruction || parsed.stages[0].instructions.length !== 1) {
      throw new DockerfileSyntaxError('onbuild trigger should be a single expression', {line: stage.from.line, file: this.dockerfileName});
    }
    return {...instruction, line: stage.from.line, endLine: stage.from.endLine} as Instruction;
  }

  private async dispatch(
    planned: PlannedStage,
    state: StageState,
    raw: Instruction,
    index: number,
    onbuild: boolean,
    results: Map<number, StageState>,
    all: PlannedStage[],
  ): Promise<void> {
    const env = state.env;
    const instruction = raw.kind === 'onbuild' || raw.kind === 'run' || raw.kind === 'cmd' || raw.kind === 'entrypoint' || raw.kind === 'arg'
      ? raw
      : expandInstruction(raw, env, {file: this.dockerfileName});
    const config = state.config;
    const container = containerConfig(config);
    switch (instruction.kind) {
      case 'env': {
        const parts: string[] = [];
        for (const {key, value} of instruction.pairs) {
          container.Env = setEnv(container.Env, key, value);
          state.env.set(key, value);
          parts.push(`${key}=${value}`);
        }
        addHistory(config, `ENV ${parts.join(' ')}`, true);
        return;
      }
      case 'arg': {
        const buildArgs = this.options.buildArgs ?? {};
        const parts: string[] = [];
        for (const declared of instruction.args) {
          let value: string | undefined;
          if (Object.hasOwn(buildArgs, declared.key)) value = buildArgs[declared.key];
          else if (declared.value !== undefined) {
            value = expandInstruction({...instruction, args: [declared]}, state.env, {file: this.dockerfileName}).args[0].value;
          } else if (this.globalArgs.has(declared.key)) value = this.globalArgs.get(declared.key);
          // As BuildKit does (checked against docker build): the value joins the environment of later steps even
          // when an ENV of the same name exists; the image config keeps the ENV value.
          if (value !== undefined) state.env.set(declared.key, value);
          state.declaredArgs.push({name: declared.key, value});
          parts.push(value === undefined ? declared.key : `${declared.key}=${value}`);
        }
        addHistory(config, `ARG ${parts.join(' ')}`, true);
        return;
      }
      case 'label': {
        const labels = {...(container.Labels ?? {})};
        const parts: string[] = [];
        for (const {key, value} of instruction.pairs) {
          labels[key] = value;
          parts.push(`${key}=${value}`);
        }
        container.Labels = labels;
        addHistory(config, `LABEL ${parts.join(' ')}`, true);
        return;
      }
      case 'expose': {
        const ports = parsePortSpecs(instruction.ports);
        const exposed = {...(container.ExposedPorts ?? {})};
        for (const port of ports) exposed[port] = {};
        container.ExposedPorts = exposed;
        addHistory(config, exposeHistory(ports), true);
        return;
      }
      case 'volume': {
        const volumes = {...(container.Volumes ?? {})};
        for (const path of instruction.paths) {
          if (path === '') throw this.atLine(new InstructionError('VOLUME specified can not be an empty string'), instruction);
          volumes[path] = {};
        }
        container.Volumes = volumes;
        addHistory(config, volumeHistory(instruction.paths), true);
        return;
      }
      case 'user':
        container.User = instruction.user;
        addHistory(config, `USER ${instruction.user}`, true);
        return;
      case 'cmd': {
        const args = instruction.form === 'shell' ? withShell(config, instruction.command) : [...instruction.args];
        container.Cmd = args;
        container.ArgsEscaped = true;
        state.cmdSet = true;
        addHistory(config, `CMD ${goQuotedList(args)}`, true);
        return;
      }
      case 'entrypoint': {
        const args = instruction.form === 'shell' ? withShell(config, instruction.command) : [...instruction.args];
        container.Entrypoint = args;
        if (!state.cmdSet) delete container.Cmd;
        addHistory(config, `ENTRYPOINT ${goQuotedList(args)}`, true);
        return;
      }
      case 'shell':
        container.Shell = [...instruction.args];
        addHistory(config, `SHELL [${instruction.args.join(' ')}]`, true);
        return;
      case 'healthcheck': {
        const health: Record<string, unknown> = {Test: [...instruction.test]};
        if (instruction.interval) health.Interval = instruction.interval;
        if (instruction.timeout) health.Timeout = instruction.timeout;
        if (instruction.startPeriod) health.StartPeriod = instruction.startPeriod;
        if (instruction.startInterval) health.StartInterval = instruction.startInterval;
        if (instruction.retries) health.Retries = instruction.retries;
        container.Healthcheck = health;
        addHistory(config, healthcheckHistory({
          Test: instruction.test, Interval: instruction.interval, Timeout: instruction.timeout,
          StartPeriod: instruction.startPeriod, StartInterval: instruction.startInterval, Retries: instruction.retries,
        }), true);
        return;
      }
      case 'stopsignal':
        try {
          validateSignal(instruction.signal);
        } catch (error) {
          throw this.atLine(error as InstructionError, instruction);
        }
        container.StopSignal = instruction.signal;
        addHistory(config, `STOPSIGNAL ${instruction.signal}`, true);
        return;
      case 'maintainer':
        config.author = instruction.maintainer;
        addHistory(config, `MAINTAINER ${instruction.maintainer}`, true);
        return;
      case 'onbuild':
        container.OnBuild = [...(container.OnBuild ?? []), (instruction as OnbuildInstruction).expression];
        return;
      case 'workdir': {
        const path = normalizeWorkdir(container.WorkingDir ?? '/', instruction.path);
        container.WorkingDir = path;
        if (path === '/') {
          addHistory(config, 'WORKDIR /', true);
          return;
        }
        const user = container.User ?? '';
        await this.layerStep(planned, state, index, onbuild, instruction, `WORKDIR ${path}`, {
          definition: {op: 'mkdir', path, user},
          inputs: {args: this.visibleArgs(state), settings: {USER: user}},
          historyText: `WORKDIR ${path}`,
          entries: async view => {
            const owner = user ? await resolveChown(view, user) : {uid: 0, gid: 0};
            return mkdirEntries(view, path, owner);
          },
        });
        return;
      }
      case 'copy':
      case 'add': {
        await this.copyStep(planned, state, instruction, index, onbuild, results, all);
        return;
      }
      case 'run': {
        await this.runInstruction(planned, state, instruction, index, onbuild);
        return;
      }
      case 'from':
        return;
    }
  }

  private visibleArgs(state: StageState): Record<string, string> {
    const args: Record<string, string> = {};
    for (const declared of state.declaredArgs) {
      if (declared.value !== undefined) args[declared.name] = state.env.get(declared.name) ?? declared.value;
    }
    return args;
  }

  private async copyStep(
    planned: PlannedStage,
    state: StageState,
    instruction: Extract<Instruction, {kind: 'copy' | 'add'}>,
    index: number,
    onbuild: boolean,
    results: Map<number, StageState>,
    all: PlannedStage[],
  ): Promise<void> {
    const add = instruction.kind === 'add';
    const from = instruction.kind === 'copy' ? instruction.from : undefined;
    let tree: SourceTree;
    let sourceId = 'context';
    if (from !== undefined) {
      let sourceIndex: number | undefined;
      try {
        sourceIndex = this.findStage(all, from, planned.stage.index);
      } catch (error) {
        throw this.atLine(error as InstructionError, instruction);
      }
      let layers: Descriptor[];
      if (sourceIndex !== undefined) {
        layers = results.get(sourceIndex)!.layers;
      } else {
        let image;
        try {
          image = await this.store.resolveImage(from);
        } catch (error) {
          if (isUserError(error)) throw this.atLine(new BaseImageNotFoundError(from, {cause: error}), instruction);
          throw error;
        }
        layers = image.manifest.layers.map((layer, position) => ({...layer, annotations: {'strata.diffId': image.config.rootfs.diff_ids[position]}}));
      }
      const view = new RootfsView(await this.lowerDirs(layers));
      tree = rootfsTree(view);
      sourceId = chainId(layers.map(diffIdOf)) ?? '';
    } else {
      tree = contextTree(await this.openContext());
    }
    const container = containerConfig(state.config);
    const workdir = container.WorkingDir || '/';
    const historyText = copyHistory({
      add, chown: instruction.chown, chmod: instruction.chmod, sources: instruction.sources,
      heredocNames: instruction.heredocSources.map(source => source.path), dest: instruction.dest,
    });
    let chmod: number | undefined;
    if (instruction.chmod !== undefined) {
      if (!/^[0-7]+$/.test(instruction.chmod) || Number.parseInt(instruction.chmod, 8) > 0o7777) {
        throw this.atLine(new InstructionError(`invalid chmod parameter: '${instruction.chmod}'. it should be octal string and between 0 and 07777`), instruction);
      }
      chmod = Number.parseInt(instruction.chmod, 8);
    }
    let plan: CopyPlan | undefined;
    const display = displayInstruction(instruction);
    await this.layerStep(planned, state, index, onbuild, instruction, display, {
      historyText,
      prepare: async view => {
        const owner = instruction.chown ? await resolveChown(view, instruction.chown) : undefined;
        await mkdir(this.scratchRoot, {recursive: true});
        plan = await planCopy({
          add, sources: instruction.sources,
          heredocs: instruction.heredocSources.map(source => ({name: source.path, content: source.content})),
          dest: instruction.dest, workdir, owner, chmod, tree, target: view, scratchDir: this.scratchRoot,
          signal: this.hooks.signal,
        });
        return {
          definition: {
            op: add ? 'add' : 'copy', sources: instruction.sources, dest: instruction.dest, workdir, owner: owner ?? null,
            chmod: chmod ?? null, from: sourceId, checksum: plan.checksum,
          },
          inputs: {args: this.visibleArgs(state), files: from === undefined ? plan.files : undefined, source: from === undefined ? undefined : sourceId},
        };
      },
      entries: async () => plan!.entries,
      identities: () => plan?.identities,
      // The files read for the layer must still be the ones hashed for its key: a save during the build fails
      // the step rather than recording bytes under another content's key (watch rebuilds it anyway).
      verify: read => {
        const context = this.context;
        if (from !== undefined || !context) return;
        const prefix = context.dir + sep;
        const paths = read.flatMap(entry => (entry.sourcePath?.startsWith(prefix) ? [entry.sourcePath.slice(prefix.length).split(sep).join('/')] : []));
        const changed = context.changedSinceListed(paths);
        if (changed.length > 0) throw new SourceChangedError(changed);
      },
    });
  }

  private async runInstruction(
    planned: PlannedStage,
    state: StageState,
    raw: Extract<Instruction, {kind: 'run'}>,
    index: number,
    onbuild: boolean,
  ): Promise<void> {
    const instruction = expandInstruction(raw, state.env, {file: this.dockerfileName});
    const config = state.config;
    let argv: string[];
    if (instruction.form === 'exec') argv = [...instruction.args];
    else {
      let command = instruction.command;
      if (instruction.heredocs.length > 0) {
        const single = instruction.heredocs.length === 1 && /^\s*\d*<<-?["']?[A-Za-z0-9_.-]+["']?\s*$/.test(command);
        if (single) {
          const heredoc = instruction.heredocs[0];
          const body = heredoc.chomp ? heredoc.content.replace(/^\t+/gm, '') : heredoc.content;
          if (body.startsWith('#!')) {
            const shebang = body.slice(2, body.indexOf('\n') === -1 ? undefined : body.indexOf('\n')).trim().split(/\s+/);
            argv = [...shebang, '-c', body.slice(body.indexOf('\n') + 1)];
            return this.runArgv(planned, state, raw, index, onbuild, argv, instruction.network);
          }
          command = body;
        } else {
          for (const heredoc of instruction.heredocs) command += '\n' + heredoc.content + heredoc.name;
        }
      }
      argv = withShell(config, command);
    }
    return this.runArgv(planned, state, raw, index, onbuild, argv, instruction.network);
  }

  private async runArgv(
    planned: PlannedStage,
    state: StageState,
    instruction: Extract<Instruction, {kind: 'run'}>,
    index: number,
    onbuild: boolean,
    argv: string[],
    networkFlag: string | undefined,
  ): Promise<void> {
    const container = containerConfig(state.config);
    const cwd = container.WorkingDir || '/';
    const user = container.User ?? '';
    const network: 'host' | 'none' = networkFlag === 'none' ? 'none' : networkFlag === 'host' ? 'host' : this.options.network ?? 'host';
    const envList = [...state.env].map(([key, value]) => `${key}=${value}`);
    const declared = new Set(state.declaredArgs.map(arg => arg.name));
    const proxyEnv = Object.entries(this.options.buildArgs ?? {})
      .filter(([key]) => proxyArgs.has(key) && !declared.has(key))
      .map(([key, value]) => `${key}=${value}`);
    const historyText = runHistory(argv, state.declaredArgs.map(arg => ({name: arg.name, value: state.env.get(arg.name) ?? arg.value ?? ''})));
    const configEnv = Object.fromEntries(envToMap(container.Env));
    const display = displayInstruction(instruction);
    await this.layerStep(planned, state, index, onbuild, instruction, display, {
      definition: {op: 'run', argv, env: envList, cwd, user, network},
      inputs: {args: this.visibleArgs(state), env: configEnv, settings: {USER: user, WORKDIR: cwd, network, SHELL: argv.slice(0, -1).join(' ')}},
      historyText,
      run: async (lowerDirs, output, parent, signal = this.hooks.signal) => {
        await mkdir(this.scratchRoot, {recursive: true});
        return runStep({
          lowerDirs, parent,
          scratchDir: this.scratchRoot, argv, env: [...envList, ...proxyEnv], cwd, user, network, snapshots: this.snapshots,
          mode: this.options.runMode ?? 'auto',
          signal, store: this.store,
          onOutput: (line, stream) => output.line(line, stream),
          display: argv.join(' '),
        });
      },
    });
  }

  /**
   * One step that makes a layer: key, lookup, explain, execute, record. Exactly one of `entries` (a layer
   * from computed entries) or `run` (a layer from a RUN) does the work; `prepare` may compute the definition
   * lazily (COPY needs the parent rootfs to resolve its destination).
   *
   * Pipelining: a rebuilt COPY whose snapshot is made by linking (see snapshot-seed.ts) leaves its layer being
   * stored and hashed in `state.pending` and returns. Every instruction but a RUN settles it first (buildStage);
   * a RUN starts at once on that snapshot's folders, then settles it: its key names the parent's diffID, so only
   * then is the cache asked. A hit stops what runs early and drops its output; a miss takes it as the step's
   * run, its held output shown. The command cannot tell: the folders show exactly the layer's files.
   */
  private async layerStep(
    planned: PlannedStage,
    state: StageState,
    index: number,
    onbuild: boolean,
    instruction: Instruction,
    display: string,
    spec: {
      historyText: string;
      definition?: unknown;
      inputs?: Omit<StepInputs, 'key' | 'instruction' | 'parent' | 'first'>;
      prepare?: (view: RootfsView) => Promise<{definition: unknown; inputs: Omit<StepInputs, 'key' | 'instruction' | 'parent' | 'first'>}>;
      entries?: (view: RootfsView) => Promise<LayerEntry[]>;
      /** File identities of the entries (COPY), so the next rebuild's snapshot can link unchanged files. */
      identities?: () => Record<string, string> | undefined;
      /**
       * Called once the layer is stored, before it is recorded or its snapshot placed, with the entries whose
       * source files were read for it (the layer writer's and the seed's): throws when what it holds may not be
       * what the key was computed from (a COPY source changed meanwhile).
       */
      verify?: (read: readonly LayerEntry[]) => void;
      run?: (lowerDirs: string[], output: RunOutput, parent: () => Promise<ParentLayers>, signal?: AbortSignal) => Promise<{diffId: string; size: number}>;
    },
  ): Promise<void> {
    const began = Date.now();
    const pending = state.pending;
    state.pending = undefined;
    const early = pending && spec.run ? this.runEarly(state, pending, spec.run) : undefined;
    // What ran early is stopped (the step fails, or its cache hit makes it pointless), then its folder placed.
    const dropEarly = async () => {
      early!.abort();
      await early!.outcome.catch(() => {});
      await pending!.place();
    };
    if (pending) {
      try {
        await pending.done;
      } catch (error) {
        if (early) await dropEarly();
        else await pending.place();
        throw error;
      }
    }
    const step = this.startStep(planned, index, (onbuild ? 'ONBUILD ' : '') + display, instruction.line);
    const parent = chainId(state.layers.map(diffIdOf)) ?? '';
    const parentLayers = (): Promise<ParentLayers> => Promise.resolve({diffIds: state.layers.map(diffIdOf), layerDigests: state.layers.map(layer => layer.digest)});
    let lowers: string[] | undefined;
    const lowerDirs = async () => (lowers ??= await this.lowerDirs(state.layers));
    let definition = spec.definition;
    let partialInputs = spec.inputs;
    let record: CacheRecord | undefined;
    let key: string;
    let inputs: StepInputs;
    let previous: StepInputs | undefined;
    const stepId = stepIdentity(this.dockerfilePath, planned.stage.name ?? String(planned.stage.index), index + (onbuild ? 1000 : 0));
    try {
      try {
        if (spec.prepare) {
          const prepared = await spec.prepare(new RootfsView(await lowerDirs()));
          definition = prepared.definition;
          partialInputs = prepared.inputs;
        }
      } catch (error) {
        throw this.atStep(error, step, instruction);
      }
      key = cacheKeyFor(parent, definition);
      inputs = {
        key, instruction: display, parent, first: state.layerSteps++ === 0,
        args: {}, ...partialInputs,
      };
      if (!this.options.noCache) {
        record = await this.cache.getRecord(key);
        if (record && !(await this.store.content.hasBlob(record.diffId))) record = undefined;
      }
      if (!record) previous = await this.cache.getStepInputs(stepId);
    } catch (error) {
      // What runs early must not outlive the step that failed before it could take it.
      if (early) await dropEarly();
      throw error;
    }
    if (record) {
      if (early) await dropEarly();
      this.emit({type: 'step-cached', ...step});
    } else {
      const reason = explainMiss(previous, inputs, {noCache: this.options.noCache ?? false});
      this.emit({type: 'step-miss', ...step, reason});
      // What ran early is this step's run: its output, held until now, goes out as the step's.
      let earlyLayer: {diffId: string; size: number} | undefined;
      let earlyError: unknown;
      if (early) {
        early.output.start(step);
        try {
          earlyLayer = await early.outcome;
        } catch (error) {
          earlyError = error;
        } finally {
          await pending!.place();
        }
      }
      let layer: {diffId: string; size: number};
      let stored: StoredLayer | undefined;
      let seed: SeedInProgress | undefined;
      let identities: Record<string, string> | undefined;
      try {
        if (earlyError) throw earlyError;
        if (earlyLayer) layer = earlyLayer;
        else if (spec.run) layer = await spec.run(await lowerDirs(), {line: (line, stream) => this.emit({type: 'step-output', ...omitLine(step), stream, line})}, parentLayers);
        else {
          const entries = await spec.entries!(new RootfsView(await lowerDirs()));
          identities = spec.identities?.();
          const earlier = await this.earlierLayer(previous, parent, identities);
          seed = await startSeed(this.snapshots, entries, earlier && {
            dir: this.snapshots.pathOf(chainOf(state.layers.map(diffIdOf), earlier.record.diffId).chainId),
            previous: earlier.files,
            current: identities!,
          });
          // Members spliced from the earlier layer were not read, and the seed linked their files: every other
          // file entry was read from its source (by the writer, and by the seed when it copies).
          const readFor = (stored: StoredLayer) => entries.filter(entry =>
            entry.type === 'file' && entry.sourcePath !== undefined &&
            (stored.splicedFrom === undefined || !identities || !earlier || identities[entry.path] === undefined || earlier.files[entry.path] !== identities[entry.path]));
          const storing = storeLayer(entries, this.store, {
            tee: seed?.input,
            identities,
            reuse: earlier?.map && {blobPath: this.store.content.blobPath(earlier.record.diffId), map: earlier.map},
          });
          if (seed?.ready) {
            // Pipelined: the rest of this step runs while the next instruction starts (see above).
            const layersBefore = state.layers.map(diffIdOf);
            const linked = seed;
            let storedLayer: StoredLayer | undefined;
            const done = storing.then(
              async result => {
                try {
                  spec.verify?.(readFor(result));
                } catch (error) {
                  throw this.atStep(error, step, instruction);
                }
                this.checkAborted();
                // Only a verified layer's snapshot is placed (see `place`).
                storedLayer = result;
                await this.commitLayer(state, step, key, stepId, inputs, result, identities, spec.historyText, began, reason);
              },
              (error: unknown) => {
                throw this.atStep(error, step, instruction);
              },
            );
            done.catch(() => {});
            state.pending = {
              ready: firstFolders(linked),
              done,
              place: async () => {
                if (!storedLayer) return linked.abandon().catch(() => {});
                // The links may still be being made: the build goes on, and whoever needs this snapshot next
                // waits for it (Snapshots.ensure, startSeed).
                const layer = chainOf(layersBefore, storedLayer.diffId);
                placingSnapshot(this.snapshots.pathOf(layer.chainId), linked.finish(layer).catch(() => false));
              },
            };
            return;
          }
          try {
            stored = await storing;
            spec.verify?.(readFor(stored));
          } catch (error) {
            await seed?.abandon();
            throw error;
          }
          layer = stored;
          await seed?.finish(chainOf(state.layers.map(diffIdOf), layer.diffId));
        }
      } catch (error) {
        throw this.atStep(error, step, instruction);
      }
      this.checkAborted();
      await this.commitLayer(state, step, key, stepId, inputs, {...layer, map: stored?.map}, identities, spec.historyText, began, reason);
      return;
    }
    const previousInputs = await this.cache.getStepInputs(stepId);
    if (previousInputs?.key !== key) await this.cache.putStepInputs(stepId, inputs);
    this.pushLayer(state, record, spec.historyText);
    this.finishStep(step, true, '', began);
  }

  /** A missed step's layer is stored: record it (with its companions), push it and finish the step. */
  private async commitLayer(
    state: StageState,
    step: StepRef,
    key: string,
    stepId: string,
    inputs: StepInputs,
    layer: {diffId: string; size: number; map?: LayerMapEntry[]},
    identities: Record<string, string> | undefined,
    historyText: string,
    began: number,
    reason: string,
  ): Promise<void> {
    const record: CacheRecord = {key, diffId: layer.diffId, size: layer.size, created: this.now().toISOString()};
    // The companions may land in any order: a record without them only means no reuse next time.
    await Promise.all([
      this.cache.putRecord(record),
      identities && this.cache.putRecordFiles(key, identities),
      layer.map && this.cache.putRecordMap(key, record.diffId, layer.map),
      this.cache.putStepInputs(stepId, inputs),
    ]);
    this.emit({type: 'layer-committed', ...step, diffId: layer.diffId, size: layer.size});
    this.pushLayer(state, record, historyText);
    this.finishStep(step, false, reason, began);
  }

  private pushLayer(state: StageState, record: CacheRecord, historyText: string): void {
    state.layers.push({mediaType: MediaType.ociLayer, digest: record.diffId, size: record.size, annotations: {'strata.diffId': record.diffId}});
    const entry = addHistory(state.config, historyText, false);
    entry.created = record.created;
  }

  /**
   * Start a RUN on the folder of the layer still being stored (`pending`) and the settled layers below it.
   * Its output is held until the step is started; undefined outcome: the folder was not made, run as usual.
   */
  private runEarly(
    state: StageState,
    pending: PendingLayer,
    run: NonNullable<Parameters<Builder['layerStep']>[6]['run']>,
  ): {outcome: Promise<{diffId: string; size: number} | undefined>; output: HeldOutput; abort(): void} {
    const output = new HeldOutput((step, line, stream) => this.emit({type: 'step-output', ...omitLine(step), stream, line}));
    const below = [...state.layers];
    const controller = new AbortController();
    const signal = this.hooks.signal ? AbortSignal.any([this.hooks.signal, controller.signal]) : controller.signal;
    const outcome = (async () => {
      if (this.options.noCache) return undefined;
      const top = await pending.ready;
      if (!top || signal.aborted) return undefined;
      const lowers = [...(await this.lowerDirs(below)), ...top];
      return run(lowers, output, async () => {
        await pending.done;
        return {diffIds: state.layers.map(diffIdOf), layerDigests: state.layers.map(layer => layer.digest)};
      }, signal);
    })();
    outcome.catch(() => {});
    return {outcome, output, abort: () => controller.abort()};
  }

  /** Finish a pipelined layer step (see layerStep) before anything else looks at the state. */
  private async settle(state: StageState): Promise<void> {
    const pending = state.pending;
    if (!pending) return;
    state.pending = undefined;
    try {
      await pending.done;
    } finally {
      await pending.place();
    }
  }

  /**
   * The layer the last build of this step made from the same parent, with its file identities (so its
   * snapshot's unchanged files can be linked) and member map (so its unchanged tar members can be copied).
   */
  private async earlierLayer(
    previous: StepInputs | undefined,
    parent: string,
    identities: Record<string, string> | undefined,
  ): Promise<{record: CacheRecord; files: Record<string, string>; map?: LayerMapEntry[]} | undefined> {
    if (!identities || !previous || previous.parent !== parent) return undefined;
    const record = await this.cache.getRecord(previous.key);
    if (!record) return undefined;
    const [files, map] = await Promise.all([this.cache.getRecordFiles(previous.key), this.cache.getRecordMap(previous.key, record.diffId)]);
    return files ? {record, files, map} : undefined;
  }

  private async lowerDirs(layers: readonly Descriptor[]): Promise<string[]> {
    if (layers.length === 0) return [];
    return this.snapshots.ensure(layers.map(diffIdOf), layers.map(layer => layer.digest));
  }

  private async openContext(): Promise<Context> {
    if (this.context) return this.context;
    // Per Dockerfile too: `<Dockerfile>.dockerignore` may give each its own filter over the same folder.
    const key = `${this.store.root}\0${this.contextDir}\0${this.dockerfilePath}`;
    let context = warmContexts.get(key);
    const filter = await loadContextFilter(this.contextDir, this.dockerfilePath);
    if (!context) {
      context = new Context(this.contextDir, {filter, hashFile: this.cache.contextHashFile(this.contextDir)});
      warmContexts.set(key, context);
      if (warmContexts.size > 16) warmContexts.delete(warmContexts.keys().next().value!);
    } else {
      const changed = this.options.changedPaths;
      if (!changed || changed.some(path => path.endsWith('.dockerignore'))) context.setFilter(filter);
      else context.invalidate(changed);
    }
    this.context = context;
    return context;
  }

  private startStep(planned: PlannedStage, index: number, instruction: string, line: number): StepRef {
    const step: StepRef = {vertex: ++this.vertex, stage: planned.displayName, index, total: planned.total, instruction, line};
    this.onStep(step);
    this.emit({type: 'step-started', ...step});
    return step;
  }

  private finishStep(step: StepRef, cached: boolean, reason: string, began: number): void {
    const durationMs = Date.now() - began;
    this.steps.push({...step, cached, reason, durationMs});
    this.emit({type: 'step-done', ...step, cached, durationMs});
  }

  private atStep(error: unknown, step: StepRef, instruction?: Instruction): unknown {
    if (error instanceof BuildError) {
      error.step = step;
      if (instruction && !error.excerpt) error.excerpt = dockerfileExcerpt(this.text, this.dockerfileName, instruction.line, instruction.endLine);
      return error;
    }
    if (isUserError(error)) {
      const wrapped = new BuildError(error.code, error.message, {cause: error, hint: error.hint});
      wrapped.step = step;
      if (instruction) wrapped.excerpt = dockerfileExcerpt(this.text, this.dockerfileName, instruction.line, instruction.endLine);
      return wrapped;
    }
    return error;
  }

  private atLine(error: BuildError, instruction: {line: number; endLine: number}): BuildError {
    error.excerpt = dockerfileExcerpt(this.text, this.dockerfileName, instruction.line, instruction.endLine);
    return error;
  }

  private checkAborted(): void {
    if (this.hooks.signal?.aborted) throw new BuildCancelledError();
  }
}

function omitLine(step: StepRef): Omit<StepRef, 'line'> {
  const {line, ...rest} = step;
  void line;
  return rest;
}

function countsAsStep(instruction: Instruction): boolean {
  return instruction.kind === 'run' || instruction.kind === 'copy' || instruction.kind === 'add' || instruction.kind === 'workdir';
}

function copyFrom(instruction: Instruction): string | undefined {
  if (instruction.kind === 'copy') return instruction.from;
  if (instruction.kind === 'onbuild' && instruction.instruction.kind === 'copy') return instruction.instruction.from;
  return undefined;
}

function diffIdOf(layer: Descriptor): string {
  return layer.annotations?.['strata.diffId'] ?? layer.digest;
}

/** The instruction as progress shows it: keyword upper-cased, the rest as written after substitution. */
function displayInstruction(instruction: Instruction): string {
  const original = instruction.original.trim();
  const space = original.search(/\s/);
  const keyword = (space === -1 ? original : original.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : original.slice(space + 1).trim();
  if (instruction.kind === 'copy' || instruction.kind === 'add') {
    const flags: string[] = [];
    if (instruction.kind === 'copy' && instruction.from) flags.push(`--from=${instruction.from}`);
    if (instruction.chown) flags.push(`--chown=${instruction.chown}`);
    if (instruction.chmod) flags.push(`--chmod=${instruction.chmod}`);
    const heredocs = instruction.heredocSources.map(source => `<<${source.path}`);
    return [keyword, ...flags, ...instruction.sources, ...heredocs, instruction.dest].join(' ');
  }
  if (instruction.kind === 'workdir') return `${keyword} ${instruction.path}`;
  return rest ? `${keyword} ${rest}` : keyword;
}

/** Entries for WORKDIR: every missing directory along `path`, 0755, owned by the USER. */
async function mkdirEntries(view: RootfsView, path: string, owner: {uid: number; gid: number}): Promise<LayerEntry[]> {
  const resolved = await view.resolve(path);
  const parts = resolved.path.split('/').filter(Boolean);
  const entries: LayerEntry[] = [];
  for (let count = 1; count <= parts.length; count++) {
    const sub = parts.slice(0, count).join('/');
    const node = await view.lookup(sub);
    // Existing parents go into the layer with their own metadata (overlayfs shows the topmost copy).
    if (node) entries.push({path: sub, type: 'dir', mode: node.stats.mode & 0o7777, uid: node.stats.uid, gid: node.stats.gid, mtime: node.stats.mtime});
    else entries.push({path: sub, type: 'dir', mode: 0o755, uid: owner.uid, gid: owner.gid});
  }
  return entries;
}

/** Config fields in the order docker writes them, so the bytes look familiar. */
function orderConfig(config: ImageConfig): ImageConfig {
  const {created, author, architecture, os, variant, config: container, rootfs, history, ...rest} = config;
  const ordered: Record<string, unknown> = {};
  if (created) ordered.created = created;
  if (author) ordered.author = author;
  ordered.architecture = architecture;
  ordered.os = os;
  if (variant) ordered.variant = variant;
  Object.assign(ordered, rest);
  ordered.config = container ?? {};
  ordered.rootfs = rootfs;
  ordered.history = history ?? [];
  return ordered as ImageConfig;
}
