/**
 * How long the Dockerfile front end takes on a 5,000-line Dockerfile (parse + typed instructions).
 * Run: node --import tsx test/bench/dockerfile-parse.ts [iterations]
 */
import {performance} from 'node:perf_hooks';
import {cpus, loadavg} from 'node:os';
import {parseDockerfile, parseAst, buildInstructions, dumpAst} from '../../engine/dockerfile/index.js';

/** A realistic mix: stages, multi-line RUNs with continuations, heredocs, COPY flags, ENV/LABEL pairs, comments. */
export function makeLargeDockerfile(targetLines: number): string {
  const lines: string[] = ['# syntax=docker/dockerfile:1', 'ARG BASE=debian:bookworm-slim', ''];
  let stage = 0;
  while (lines.length < targetLines) {
    lines.push(`FROM \${BASE} AS stage${stage}`);
    lines.push(`ENV APP_HOME=/app/${stage} PATH="/app/${stage}/bin:$PATH" LANG=C.UTF-8`);
    lines.push('# install dependencies');
    lines.push('RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \\');
    lines.push('    apt-get update && \\');
    lines.push('    apt-get install -y --no-install-recommends curl ca-certificates git && \\');
    lines.push('    rm -rf /var/lib/apt/lists/*');
    lines.push(`COPY --chown=app:app --chmod=0644 package.json package-lock.json /app/${stage}/`);
    lines.push(`COPY --from=stage${Math.max(0, stage - 1)} /app /app`);
    lines.push('RUN <<EOF');
    lines.push('set -eux');
    lines.push(`echo "building stage ${stage}" > /tmp/stage`);
    lines.push('EOF');
    lines.push(`LABEL org.opencontainers.image.title="stage ${stage}" version=1.${stage}`);
    lines.push('WORKDIR /app');
    lines.push('EXPOSE 8080 9090/udp');
    lines.push('HEALTHCHECK --interval=30s --timeout=3s CMD ["curl", "-f", "http://localhost:8080/"]');
    lines.push('USER app');
    lines.push('CMD ["node", "server.js"]');
    lines.push('');
    stage++;
  }
  return lines.slice(0, targetLines).join('\n') + '\n';
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const iterations = Number(process.argv[2] ?? 200);
const text = makeLargeDockerfile(5000);
const lineCount = text.split('\n').length - 1;
for (let i = 0; i < 20; i++) parseDockerfile(text); // warm up the JIT
const wall: number[] = [];
const cpu: number[] = [];
let instructionCount = 0;
for (let i = 0; i < iterations; i++) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const parsed = parseDockerfile(text);
  wall.push(performance.now() - start);
  const used = process.cpuUsage(cpuStart);
  cpu.push((used.user + used.system) / 1000);
  instructionCount = parsed.ast.length;
}
wall.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
// The two stages on their own, measured after the whole-parse figures above so as not to change them.
const astWall: number[] = [];
const instructionsWall: number[] = [];
for (let i = 0; i < iterations; i++) {
  const start = performance.now();
  const ast = parseAst(text);
  const middle = performance.now();
  buildInstructions(ast.children, {escapeChar: ast.escapeChar});
  instructionsWall.push(performance.now() - middle);
  astWall.push(middle - start);
}
astWall.sort((a, b) => a - b);
instructionsWall.sort((a, b) => a - b);
// A yardstick from the same machine at the same moment: numbers on a loaded machine read relative to it.
const baseline: number[] = [];
for (let i = 0; i < iterations; i++) {
  const start = performance.now();
  for (const line of text.split('\n')) line.trim();
  baseline.push(performance.now() - start);
}
baseline.sort((a, b) => a - b);
const dumpStart = performance.now();
dumpAst(parseDockerfile(text).ast);
const dumpMs = performance.now() - dumpStart;
const load = loadavg()[0].toFixed(1);
console.log(`dockerfile-parse: ${lineCount} lines, ${instructionCount} instructions, ${iterations} runs (load average ${load} on ${cpus().length} CPUs)`);
console.log(`  wall: median ${percentile(wall, 50).toFixed(2)} ms   p95 ${percentile(wall, 95).toFixed(2)} ms   (parse + typed instructions)`);
console.log(`  cpu:  median ${percentile(cpu, 50).toFixed(2)} ms   p95 ${percentile(cpu, 95).toFixed(2)} ms   (process CPU time, includes GC)`);
console.log(`  stages: parseAst median ${percentile(astWall, 50).toFixed(2)} ms (p95 ${percentile(astWall, 95).toFixed(2)}), buildInstructions median ${percentile(instructionsWall, 50).toFixed(2)} ms (p95 ${percentile(instructionsWall, 95).toFixed(2)})`);
console.log(`  parse + dump once: ${dumpMs.toFixed(2)} ms`);
console.log(`  yardstick (split + trim the same text): median ${percentile(baseline, 50).toFixed(2)} ms`);
