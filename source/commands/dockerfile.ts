import type {Command} from 'commander';
import {checkDockerfile, formatDockerfileExcerpt, type DockerfileCheckResult} from '../../engine/index.js';

/** The engine verbs this command uses (injectable for tests); by default the facade's. */
export interface DockerfileCheckApi {
  checkDockerfile(path: string): Promise<DockerfileCheckResult>;
  formatDockerfileExcerpt: typeof formatDockerfileExcerpt;
}

const facadeApi: DockerfileCheckApi = {checkDockerfile, formatDockerfileExcerpt};

interface Output {
  readonly stdout: {write(text: string): unknown};
  readonly stderr: {write(text: string): unknown};
}

const processOutput: Output = {stdout: process.stdout, stderr: process.stderr};

/**
 * Adds `strata dockerfile check [-f FILE] [PATH] [--dump]`: parse and validate a Dockerfile without building.
 * Errors print to stderr as a code excerpt under `Dockerfile:LINE` and exit 1; warnings print (to stdout, or to
 * stderr with --dump so that stdout holds only the dump) and exit 0, unless `# check=error=true` says otherwise.
 */
export function registerDockerfileCommand(program: Command, output: Output = processOutput, api: DockerfileCheckApi = facadeApi): Command {
  const dockerfile = program.command('dockerfile').description('Work with Dockerfiles');
  dockerfile
    .command('check')
    .description('Parse and validate a Dockerfile, showing errors and warnings with the offending lines')
    .argument('[path]', 'the Dockerfile, or the folder that holds it', 'Dockerfile')
    .option('-f, --file <file>', 'the Dockerfile to check (wins over PATH)')
    .option('--dump', "print the parse in BuildKit's dump format, one instruction a line")
    .action(async (target: string, options: {file?: string; dump?: boolean}) => {
      const exitCode = await runCheck(options.file ?? target, Boolean(options.dump), output, api);
      if (exitCode !== 0) process.exitCode = exitCode;
    });
  // like the program's other commands: usage errors throw a CommanderError for runCli instead of exiting
  dockerfile.exitOverride();
  dockerfile.commands.forEach(command => command.exitOverride());
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
