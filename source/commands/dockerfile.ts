import type {Command} from 'commander';
import * as engine from '../../engine/index.js';

/** What one finding looks like to this command (engine/dockerfile/check.ts DockerfileCheckResult). */
interface CheckFinding {
  readonly line: number;
  readonly endLine: number;
}
interface CheckError extends CheckFinding {
  readonly detail: string;
  readonly hint?: string;
}
interface CheckWarning extends CheckFinding {
  readonly rule: string;
  readonly message: string;
}
interface CheckResult {
  readonly path: string;
  readonly text: string;
  readonly errors: readonly CheckError[];
  readonly warnings: readonly CheckWarning[];
  readonly warningsAreErrors: boolean;
  readonly dump?: string;
  readonly stageCount: number;
  readonly instructionCount: number;
}

/** The engine verbs this command uses; engine/index.ts exports them (from engine/dockerfile). */
export interface DockerfileCheckApi {
  checkDockerfile(path: string): Promise<CheckResult>;
  formatDockerfileExcerpt(
    text: string,
    startLine: number,
    endLine: number,
    message: string,
    options?: {file?: string; severity?: string},
  ): string;
}

interface Output {
  readonly stdout: {write(text: string): unknown};
  readonly stderr: {write(text: string): unknown};
}

const processOutput: Output = {stdout: process.stdout, stderr: process.stderr};

function facadeApi(): DockerfileCheckApi {
  const api = engine as unknown as Partial<DockerfileCheckApi>;
  if (typeof api.checkDockerfile !== 'function' || typeof api.formatDockerfileExcerpt !== 'function') {
    throw new engine.StrataError('ERR_NOT_WIRED', 'dockerfile check: engine/index.ts does not export checkDockerfile and formatDockerfileExcerpt');
  }
  return api as DockerfileCheckApi;
}

/**
 * Adds `strata dockerfile check [-f FILE] [PATH] [--dump]`: parse and validate a Dockerfile without building.
 * Errors print to stderr as a code excerpt under `Dockerfile:LINE` and exit 1; warnings print (to stdout, or to
 * stderr with --dump so that stdout holds only the dump) and exit 0, unless `# check=error=true` says otherwise.
 */
export function registerDockerfileCommand(program: Command, output: Output = processOutput, api?: DockerfileCheckApi): Command {
  const dockerfile = program.command('dockerfile').description('Work with Dockerfiles');
  dockerfile
    .command('check')
    .description('Parse and validate a Dockerfile, showing errors and warnings with the offending lines')
    .argument('[path]', 'the Dockerfile, or the folder that holds it', 'Dockerfile')
    .option('-f, --file <file>', 'the Dockerfile to check (wins over PATH)')
    .option('--dump', "print the parse in BuildKit's dump format, one instruction a line")
    .action(async (target: string, options: {file?: string; dump?: boolean}) => {
      const exitCode = await runCheck(options.file ?? target, Boolean(options.dump), output, api ?? facadeApi());
      if (exitCode !== 0) process.exitCode = exitCode;
    });
  return dockerfile;
}

/** Run the check and print it; returns the exit code. */
export async function runCheck(target: string, dump: boolean, output: Output, api: DockerfileCheckApi): Promise<number> {
  const result = await api.checkDockerfile(target);
  const file = result.path;
  if (dump && result.dump !== undefined) output.stdout.write(result.dump);
  const warningStream = dump ? output.stderr : output.stdout;
  for (const warning of result.warnings) {
    const severity = result.warningsAreErrors ? 'error' : 'warning';
    const excerpt = api.formatDockerfileExcerpt(result.text, warning.line, warning.endLine, `${warning.message} (${warning.rule})`, {file, severity});
    (result.warningsAreErrors ? output.stderr : warningStream).write(`${excerpt}\n\n`);
  }
  for (const error of result.errors) {
    const excerpt = api.formatDockerfileExcerpt(result.text, error.line, error.endLine, error.detail, {file});
    output.stderr.write(`${excerpt}\n${error.hint ? `hint: ${error.hint}\n` : ''}\n`);
  }
  const warnings = plural(result.warnings.length, 'warning');
  if (result.errors.length > 0) {
    output.stderr.write(`${file}: ${plural(result.errors.length, 'error')}${result.warnings.length ? `, ${warnings}` : ''}\n`);
    return 1;
  }
  const summary = `${file}: ${plural(result.stageCount, 'stage')}, ${plural(result.instructionCount, 'instruction')}, ${warnings}\n`;
  if (result.warningsAreErrors && result.warnings.length > 0) {
    output.stderr.write(summary);
    return 1;
  }
  (dump ? output.stderr : output.stdout).write(summary);
  return 0;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
