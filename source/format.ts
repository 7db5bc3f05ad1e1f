/**
 * Presentation helpers shared by the command line and the workbench: docker's human sizes and durations,
 * tabwriter-style tables and the subset of Go templates that `--format` users write.
 */
import {UserError} from '../engine/index.js';

const sizeUnits = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** A size as the docker CLI prints it: decimal units, 3 significant digits ("77.8MB", "512B"). */
export function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < sizeUnits.length - 1) {
    value /= 1000;
    unit++;
  }
  // Three significant digits without trailing zeros; 999.9kB rounds up to 1MB rather than "1000kB".
  let text = Number(value.toPrecision(3));
  if (text >= 1000 && unit < sizeUnits.length - 1) {
    text = Number((value / 1000).toPrecision(3));
    unit++;
  }
  return `${text}${sizeUnits[unit]}`;
}

/** A duration as docker's "CREATED" column words it, before " ago". */
export function humanDuration(milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(milliseconds / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(milliseconds / 3_600_000 / 24 / 365)} years`;
}

/** "2 hours ago", or "N/A" for a missing time or one at or before 2000-01-01 (SOURCE_DATE_EPOCH=0 images). */
export function timeAgo(iso: string | undefined, now: Date): string {
  if (!iso) return 'N/A';
  const time = Date.parse(iso);
  if (Number.isNaN(time) || time <= Date.UTC(2000, 0, 1)) return 'N/A';
  return `${humanDuration(Math.max(0, now.getTime() - time))} ago`;
}

/** The 12-hex short form of an ID, as docker shows it. */
export function shortId(id: string): string {
  const hex = id.includes(':') ? id.slice(id.indexOf(':') + 1) : id;
  return hex.slice(0, 12);
}

/** Cut text to `width` characters with an ellipsis, as docker's CREATED BY column does. */
export function ellipsis(text: string, width: number): string {
  const characters = [...text];
  if (characters.length <= width) return text;
  return `${characters.slice(0, width - 1).join('')}…`;
}

/**
 * Align rows in columns like Go's text/tabwriter as docker configures it (min width 10, padding 3):
 * every column but the last is padded to its widest cell plus 3.
 */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      if (column < row.length - 1) widths[column] = Math.max(widths[column] ?? 0, Math.max(10, [...cell].length + 3));
    });
  }
  return rows
    .map(row => row.map((cell, column) => (column < row.length - 1 ? cell.padEnd(widths[column] - ([...cell].length - cell.length)) : cell)).join(''))
    .map(line => `${line}\n`)
    .join('');
}

export interface FormatSpec {
  readonly kind: 'table' | 'json' | 'template';
  /** For `table TEMPLATE` and templates. */
  readonly template?: string;
}

/** Read a `--format` value: empty or `table` (the default table), `json`, `table {{...}}`, or a template. */
export function parseFormat(value: string | undefined): FormatSpec {
  if (value === undefined || value === '' || value === 'table') return {kind: 'table'};
  if (value === 'json') return {kind: 'json'};
  if (value.startsWith('table ')) return {kind: 'table', template: value.slice(6)};
  return {kind: 'template', template: value};
}

/**
 * Render the subset of Go templates that docker `--format` users write: `{{.Field}}`, `{{json .}}`,
 * `{{json .Field}}`, `{{upper .F}}`, `{{lower .F}}`, `{{println}}` and `\t`/`\n` escapes. An unknown field is
 * an error, as in docker ("can't evaluate field X").
 */
export function renderTemplate(template: string, value: Readonly<Record<string, unknown>>): string {
  const text = template.replaceAll('\\t', '\t').replaceAll('\\n', '\n');
  return text.replace(/\{\{\s*(.*?)\s*\}\}/g, (_match, expression: string) => evaluate(expression, value));
}

function evaluate(expression: string, value: Readonly<Record<string, unknown>>): string {
  const words = expression.split(/\s+/).filter(Boolean);
  const field = (name: string | undefined): unknown => {
    if (name === undefined || name === '.') return value;
    if (!name.startsWith('.')) throw new TemplateError(`function "${name}" not defined`);
    let current: unknown = value;
    for (const part of name.slice(1).split('.')) {
      if (current === null || typeof current !== 'object' || !(part in current)) {
        throw new TemplateError(`can't evaluate field ${part}`);
      }
      current = (current as Record<string, unknown>)[part];
    }
    return current;
  };
  const [head, argument] = words;
  switch (head) {
    case 'json':
      return JSON.stringify(field(argument));
    case 'upper':
      return String(field(argument)).toUpperCase();
    case 'lower':
      return String(field(argument)).toLowerCase();
    case 'println':
      return `${argument ? String(field(argument)) : ''}\n`;
    default: {
      const result = field(head);
      if (Array.isArray(result)) return `[${result.join(' ')}]`;
      if (result !== null && typeof result === 'object') return JSON.stringify(result);
      return String(result ?? '');
    }
  }
}

export class TemplateError extends UserError {
  constructor(message: string) {
    super('ERR_TEMPLATE', `template: ${message}`);
  }
}
