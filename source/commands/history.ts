import type {Command} from 'commander';
import type {HistoryRow} from '../../engine/index.js';
import {ellipsis, formatTable, humanSize, parseFormat, renderTemplate, shortId, timeAgo} from '../format.js';
import type {CliContext} from './context.js';

interface HistoryOptions {
  human: boolean;
  quiet?: boolean;
  trunc: boolean;
  format?: string;
  waste?: boolean;
}

/** `strata history IMAGE` (also `strata image history`), as `docker history` prints it. */
export function configureHistoryCommand(command: Command, context: CliContext): Command {
  return command
    .description('Show the history of an image')
    .argument('<image>')
    .option('-H, --human', 'print sizes and dates in human readable format', true)
    .option('--no-human', 'print sizes in bytes and dates as RFC 3339')
    .option('-q, --quiet', 'only show image IDs')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option('--waste', 'show the bytes that later layers made unreachable, and the efficiency')
    .action(async (image: string, options: HistoryOptions) => {
      if (options.waste) return printWaste(context, image, options);
      return printHistory(context, image, options);
    });
}

async function printHistory(context: CliContext, image: string, options: HistoryOptions): Promise<void> {
  const engine = await context.engine();
  const rows = await engine.history(image);
  const now = context.now();
  const id = (row: HistoryRow) => (row.id === '<missing>' || !options.trunc ? row.id : shortId(row.id));
  if (options.quiet) {
    for (const row of rows) context.stdout.write(`${id(row)}\n`);
    return;
  }
  const createdBy = (row: HistoryRow) => {
    const text = row.createdBy.replaceAll('\t', ' ').replaceAll('\n', ' ');
    return options.trunc ? ellipsis(text, 45) : text;
  };
  const fields = (row: HistoryRow) => ({
    Comment: row.comment,
    CreatedAt: row.created ?? '',
    CreatedBy: createdBy(row),
    CreatedSince: options.human ? timeAgo(row.created, now) : (row.created ?? 'N/A'),
    ID: id(row),
    Size: options.human ? humanSize(row.size) : String(row.size),
  });
  const format = parseFormat(options.format);
  if (format.kind === 'json') {
    for (const row of rows) context.stdout.write(`${JSON.stringify(fields(row))}\n`);
    return;
  }
  if (format.kind === 'template') {
    for (const row of rows) context.stdout.write(`${renderTemplate(format.template!, fields(row))}\n`);
    return;
  }
  if (format.template) {
    const header = renderTemplate(format.template, {
      Comment: 'COMMENT', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', CreatedSince: 'CREATED', ID: 'IMAGE', Size: 'SIZE',
    });
    context.stdout.write(formatTable([header, ...rows.map(row => renderTemplate(format.template!, fields(row)))].map(line => line.split('\t'))));
    return;
  }
  const header = ['IMAGE', options.human ? 'CREATED' : 'CREATED AT', 'CREATED BY', 'SIZE', 'COMMENT'];
  const table = rows.map(row => {
    const f = fields(row);
    return [f.ID, f.CreatedSince, f.CreatedBy, f.Size, f.Comment];
  });
  context.stdout.write(formatTable([header, ...table]));
}

async function printWaste(context: CliContext, image: string, options: HistoryOptions): Promise<void> {
  const engine = await context.engine();
  const report = await engine.waste(image);
  const size = (bytes: number) => (options.human ? humanSize(bytes) : String(bytes));
  if (parseFormat(options.format).kind === 'json') {
    context.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  context.stdout.write(`Image efficiency: ${(Math.floor(report.efficiency * 10_000) / 100).toFixed(2)}%\n`);
  context.stdout.write(`Wasted space:     ${size(report.wastedBytes)} of ${size(report.totalBytes)}\n`);
  if (report.items.length === 0) return;
  context.stdout.write('\n');
  const rows = report.items.map(item => [
    String(item.count),
    size(item.bytes),
    item.layers.join(','),
    createdByText(item.createdBy, options.trunc),
    item.path,
  ]);
  context.stdout.write(formatTable([['COUNT', 'WASTED', 'LAYERS', 'CREATED BY', 'PATH'], ...rows]));
}

/** The instructions that made a path's wasted copies, once each. */
function createdByText(createdBy: readonly (string | undefined)[], truncate: boolean): string {
  const text = [...new Set(createdBy.filter(Boolean))].join('; ').replaceAll('\t', ' ').replaceAll('\n', ' ');
  return truncate ? ellipsis(text, 45) : text;
}
