import {Option, type Command} from 'commander';
import type {ImageSummary} from '../../engine/index.js';
import {UserError} from '../../engine/index.js';
import {formatTable, humanSize, parseFormat, renderTemplate, shortId, timeAgo} from '../format.js';
import {collect, type CliContext} from './context.js';
import {goTime} from './time.js';

export interface ImageFilters {
  dangling?: boolean;
  reference: string[];
  label: string[];
  before?: string;
  since?: string;
}

/**
 * `strata images [REPOSITORY[:TAG]]`: docker's columns, flags and formats. The `image` group registers the same
 * command as `image ls` by calling this on its own subcommand.
 */
export function configureImagesCommand(command: Command, context: CliContext): Command {
  return command
    .description('List images')
    .argument('[repository]', 'show only images of this REPOSITORY[:TAG]')
    .option('-a, --all', 'show all images (by default intermediate images are hidden)')
    .option('-q, --quiet', 'only show image IDs')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate output")
    .addOption(new Option('-f, --filter <filter>', 'filter output based on conditions provided').argParser(collect))
    .option('--format <format>', "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (repository: string | undefined, options: ImagesOptions) => listImages(context, repository, options));
}

interface ImagesOptions {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc: boolean;
  filter?: string[];
  format?: string;
}

export function parseImageFilters(values: readonly string[]): ImageFilters {
  const filters: ImageFilters = {reference: [], label: []};
  for (const value of values) {
    const equals = value.indexOf('=');
    if (equals <= 0) throw new UserError('ERR_BAD_FILTER', `bad format of filter (expected name=value): ${value}`);
    const name = value.slice(0, equals);
    const argument = value.slice(equals + 1);
    switch (name) {
      case 'dangling':
        if (!['true', 'false', '1', '0'].includes(argument.toLowerCase())) {
          throw new UserError('ERR_BAD_FILTER', `invalid filter 'dangling=${argument}'`);
        }
        filters.dangling = argument === 'true' || argument === '1';
        break;
      case 'reference':
        filters.reference.push(argument);
        break;
      case 'label':
        filters.label.push(argument);
        break;
      case 'before':
        filters.before = argument;
        break;
      case 'since':
        filters.since = argument;
        break;
      default:
        throw new UserError('ERR_BAD_FILTER', `invalid filter '${name}'`);
    }
  }
  return filters;
}

async function listImages(context: CliContext, repository: string | undefined, options: ImagesOptions): Promise<void> {
  const filters = parseImageFilters(options.filter ?? []);
  const format = parseFormat(options.format);
  const engine = await context.engine();
  const rows = await engine.listImages({all: options.all, repository, filters});
  const now = context.now();
  const id = (image: ImageSummary) => (options.trunc ? shortId(image.id) : image.id);

  if (options.quiet) {
    for (const image of rows) context.stdout.write(`${id(image)}\n`);
    return;
  }
  const fields = (image: ImageSummary) => ({
    Containers: 'N/A',
    CreatedAt: image.created ? goTime(image.created) : '',
    CreatedSince: timeAgo(image.created, now),
    Digest: image.tag === '<none>' && image.repository === '<none>' ? '<none>' : image.digest,
    ID: id(image),
    Repository: image.repository,
    SharedSize: 'N/A',
    Size: humanSize(image.size),
    Tag: image.tag,
    UniqueSize: 'N/A',
    VirtualSize: humanSize(image.size),
  });
  if (format.kind === 'json') {
    for (const image of rows) context.stdout.write(`${JSON.stringify(fields(image))}\n`);
    return;
  }
  if (format.kind === 'template') {
    for (const image of rows) context.stdout.write(`${renderTemplate(format.template!, fields(image))}\n`);
    return;
  }
  if (format.template) {
    const header = renderTemplate(format.template, headerNames);
    const lines = [header, ...rows.map(image => renderTemplate(format.template!, fields(image)))];
    context.stdout.write(formatTable(lines.map(line => line.split('\t'))));
    return;
  }
  const header = options.digests
    ? ['REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE']
    : ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'];
  const table = rows.map(image => {
    const f = fields(image);
    return options.digests
      ? [f.Repository, f.Tag, f.Digest, f.ID, f.CreatedSince, f.Size]
      : [f.Repository, f.Tag, f.ID, f.CreatedSince, f.Size];
  });
  context.stdout.write(formatTable([header, ...table]));
}

const headerNames: Record<string, string> = {
  Containers: 'CONTAINERS',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE',
  Size: 'SIZE',
  Tag: 'TAG',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};
