/**
 * Build events: what a build reports while it runs. The CLI prints them (plain, JSON), the workbench and
 * watch mode fold them into state. Every event is a plain JSON-serialisable object with a `type`.
 *
 * Steps are the instructions that make or reuse a filesystem state, as BuildKit counts them: FROM of an
 * image, RUN, COPY, ADD and WORKDIR. Metadata instructions (ENV, LABEL, CMD...) change the config only and
 * are not steps. `vertex` numbers steps across the whole build (BuildKit's `#N`), `index`/`total` count them
 * inside a stage (`[2/4]`).
 */

export interface StepRef {
  /** Build-wide step number, 1-based (the `#N` of plain progress). */
  readonly vertex: number;
  /** Stage name (`AS name`) or `stage-<i>`; empty when the Dockerfile has one stage. */
  readonly stage: string;
  /** Position of the step in its stage, 1-based, and how many steps the stage has. */
  readonly index: number;
  readonly total: number;
  /** The instruction after substitution, e.g. `COPY src/ /app/src/`. */
  readonly instruction: string;
  /** First Dockerfile line of the instruction (1-based). */
  readonly line: number;
}

export interface BuildStartedEvent {
  readonly type: 'build-started';
  readonly contextDir: string;
  readonly dockerfile: string;
  /** Stages that will be built, in build order. */
  readonly stages: readonly string[];
  readonly target?: string;
}

export interface StepStartedEvent extends StepRef {
  readonly type: 'step-started';
}

export interface StepCachedEvent extends StepRef {
  readonly type: 'step-cached';
}

export interface StepMissEvent extends StepRef {
  readonly type: 'step-miss';
  /** Why the cache could not be used, e.g. `src/app.js changed`, `ARG VERSION changed`, `no cache record`. */
  readonly reason: string;
}

/** Output of a RUN. Carries the step's identity but `line` is the output text, not the Dockerfile line. */
export interface StepOutputEvent extends Omit<StepRef, 'line'> {
  readonly type: 'step-output';
  readonly stream: 'stdout' | 'stderr';
  /** One line of output, without its newline. */
  readonly line: string;
}

export interface LayerCommittedEvent extends StepRef {
  readonly type: 'layer-committed';
  readonly diffId: string;
  readonly size: number;
}

export interface StepDoneEvent extends StepRef {
  readonly type: 'step-done';
  readonly cached: boolean;
  readonly durationMs: number;
}

export interface BuildDoneEvent {
  readonly type: 'build-done';
  readonly imageId: string;
  readonly manifestDigest: string;
  readonly tags: readonly string[];
  readonly durationMs: number;
  /** Steps that ran (missed the cache), with the reason. */
  readonly rebuilt: readonly {readonly vertex: number; readonly instruction: string; readonly reason: string}[];
}

export interface BuildFailedEvent {
  readonly type: 'build-failed';
  /** The error message (one line). */
  readonly error: string;
  readonly code: string;
  /** The step that failed, when a step did. */
  readonly step?: StepRef;
  /** Dockerfile excerpt around the failing line, when there is one. */
  readonly excerpt?: string;
  readonly durationMs: number;
}

export type BuildEvent =
  | BuildStartedEvent
  | StepStartedEvent
  | StepCachedEvent
  | StepMissEvent
  | StepOutputEvent
  | LayerCommittedEvent
  | StepDoneEvent
  | BuildDoneEvent
  | BuildFailedEvent;

export type BuildEventType = BuildEvent['type'];

/** One step of a finished build, for BuildResult and watch mode. */
export interface StepSummary extends StepRef {
  readonly cached: boolean;
  /** Why it re-ran; empty when cached. */
  readonly reason: string;
  readonly durationMs: number;
}
