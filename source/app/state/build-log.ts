/**
 * The build output panel's state: the engine's build events folded into steps, each with its cache verdict,
 * output lines and duration, then the build's outcome. A pure reducer; the panel only draws `lines`.
 */
import type {BuildEvent} from '../../../engine/index.js';
import {stepKey} from '../format.js';

export interface BuildStepView {
  readonly vertex: number;
  readonly label: string;
  readonly instruction: string;
  readonly state: 'running' | 'cached' | 'built' | 'failed';
  /** Why the step re-ran (the cache miss reason). */
  readonly reason?: string;
  readonly output: readonly string[];
  readonly durationMs?: number;
}

export interface BuildLog {
  readonly status: 'running' | 'done' | 'failed' | 'cancelled';
  readonly contextDir: string;
  readonly tags: readonly string[];
  readonly steps: readonly BuildStepView[];
  readonly imageId?: string;
  readonly durationMs?: number;
  readonly error?: string;
  /** Dockerfile excerpt of the failing line, shown as code. */
  readonly excerpt?: string;
}

/** A line of the build panel with the role it is drawn in. */
export interface BuildLine {
  readonly text: string;
  readonly role: 'step' | 'cached' | 'miss' | 'output' | 'done' | 'error' | 'excerpt' | 'summary' | 'muted';
}

/** Output lines kept per step: a chatty RUN must not grow memory without bound. */
export const MAX_OUTPUT_LINES_PER_STEP = 500;

export function startBuildLog(contextDir: string, tags: readonly string[]): BuildLog {
  return {status: 'running', contextDir, tags, steps: []};
}

function updateStep(log: BuildLog, vertex: number, update: (step: BuildStepView) => BuildStepView): BuildLog {
  const index = log.steps.findIndex(step => step.vertex === vertex);
  if (index === -1) return log;
  const steps = log.steps.slice();
  steps[index] = update(steps[index]);
  return {...log, steps};
}

export function reduceBuildEvent(log: BuildLog, event: BuildEvent): BuildLog {
  switch (event.type) {
    case 'build-started':
      return {...log, contextDir: event.contextDir || log.contextDir};
    case 'step-started': {
      if (log.steps.some(step => step.vertex === event.vertex)) return log;
      const stage = event.stage ? `${event.stage} ` : '';
      const step: BuildStepView = {
        vertex: event.vertex,
        label: `#${event.vertex} [${stage}${event.index}/${event.total}]`,
        instruction: event.instruction,
        state: 'running',
        output: [],
      };
      return {...log, steps: [...log.steps, step]};
    }
    case 'step-cached':
      return updateStep(log, event.vertex, step => ({...step, state: 'cached'}));
    case 'step-miss':
      return updateStep(log, event.vertex, step => ({...step, reason: event.reason}));
    case 'step-output':
      return updateStep(log, event.vertex, step => {
        const output = step.output.length >= MAX_OUTPUT_LINES_PER_STEP ? step.output.slice(1) : step.output.slice();
        output.push(event.line);
        return {...step, output};
      });
    case 'layer-committed':
      return log;
    case 'step-done':
      return updateStep(log, event.vertex, step => ({
        ...step,
        state: event.cached ? 'cached' : 'built',
        durationMs: event.durationMs,
      }));
    case 'build-done':
      return {...log, status: 'done', imageId: event.imageId, durationMs: event.durationMs};
    case 'build-failed': {
      const failed = event.step
        ? updateStep(log, event.step.vertex, step => ({...step, state: 'failed'}))
        : log;
      return {...failed, status: 'failed', error: event.error, excerpt: event.excerpt, durationMs: event.durationMs};
    }
    default:
      return log;
  }
}

/** The panel's text, one entry per screen line, in the order BuildKit's plain progress would print it. */
export function buildLines(log: BuildLog, formatDuration: (ms: number) => string): BuildLine[] {
  const lines: BuildLine[] = [];
  const tags = log.tags.length > 0 ? ` -t ${log.tags.join(' -t ')}` : '';
  lines.push({text: `build ${log.contextDir}${tags}`, role: 'summary'});
  for (const step of log.steps) {
    lines.push({text: `${step.label} ${step.instruction}`, role: 'step'});
    if (step.state === 'cached') lines.push({text: '  CACHED', role: 'cached'});
    else if (step.reason) lines.push({text: `  re-ran: ${step.reason}`, role: 'miss'});
    for (const line of step.output) lines.push({text: `  ${line}`, role: 'output'});
    if (step.state === 'built' && step.durationMs !== undefined) lines.push({text: `  DONE ${formatDuration(step.durationMs)}`, role: 'done'});
    if (step.state === 'failed') lines.push({text: '  FAILED', role: 'error'});
  }
  if (log.status === 'running') lines.push({text: '… building', role: 'muted'});
  if (log.status === 'done') {
    const id = log.imageId ? log.imageId.replace(/^sha256:/, '').slice(0, 12) : '';
    const duration = log.durationMs === undefined ? '' : ` in ${formatDuration(log.durationMs)}`;
    lines.push({text: `built ${id}${duration}${log.tags.length > 0 ? `, tagged ${log.tags.join(', ')}` : ''}`, role: 'summary'});
  }
  if (log.status === 'cancelled') lines.push({text: 'build cancelled', role: 'error'});
  if (log.status === 'failed') {
    lines.push({text: `error: ${log.error ?? 'build failed'}`, role: 'error'});
    for (const line of (log.excerpt ?? '').split('\n')) if (line) lines.push({text: `  ${line}`, role: 'excerpt'});
  }
  return lines;
}

/** Cache verdicts of a finished build by instruction (see stepKey), so the layers panel can say CACHED / built. */
export function cacheVerdicts(log: BuildLog): ReadonlyMap<string, 'cached' | 'built'> {
  const verdicts = new Map<string, 'cached' | 'built'>();
  for (const step of log.steps) {
    if (step.state === 'cached' || step.state === 'built') verdicts.set(stepKey(step.instruction), step.state);
  }
  return verdicts;
}
