/**
 * The one module that writes to the terminal. Data goes to stdout (JSON with --json, tables and
 * lines otherwise); notes, warnings and progress go to stderr. Colour only on a TTY and never
 * with NO_COLOR or --no-color (node:util styleText checks both).
 */
import { createRequire } from 'node:module';
import { styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];
type Cell = string | number | boolean | null | undefined | Date;

export interface Output {
  readonly json: boolean;
  /** Machine-readable result: pretty JSON on stdout. Use for every --json answer. */
  data(value: unknown): void;
  /** One NDJSON line on stdout (streams of results). */
  record(value: unknown): void;
  line(text?: string): void;
  table(head: string[], rows: Cell[][]): void;
  /** Key/value pairs as an aligned block. */
  fields(pairs: [string, Cell][]): void;
  note(text: string): void;
  warn(text: string): void;
  error(text: string): void;
  success(text: string): void;
  style(style: Style, text: string, stream?: 'stdout' | 'stderr'): string;
}

let TableCtor: (new (options: object) => { push(row: unknown[]): void; toString(): string }) | undefined;
function tableCtor() {
  // cli-table3 is CommonJS and only needed by commands that print tables.
  TableCtor ??= createRequire(import.meta.url)('cli-table3');
  return TableCtor!;
}

export function formatCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString().replace('.000Z', 'Z');
  return String(value);
}

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') return '<bytes>';
  return value;
}

export function createOutput(options: { json: boolean }): Output {
  const write = (stream: NodeJS.WriteStream, text: string) => stream.write(`${text}\n`);
  const style = (s: Style, text: string, stream: 'stdout' | 'stderr' = 'stdout') =>
    styleText(s, text, { stream: stream === 'stdout' ? process.stdout : process.stderr });
  return {
    json: options.json,
    data: (value) => write(process.stdout, JSON.stringify(value, jsonReplacer, 2)),
    record: (value) => write(process.stdout, JSON.stringify(value, jsonReplacer)),
    line: (text = '') => write(process.stdout, text),
    table: (head, rows) => {
      const Table = tableCtor();
      const colour = process.stdout.isTTY && !process.env.NO_COLOR;
      const table = new Table({
        head: head.map((h) => style('bold', h)),
        style: { head: [], border: colour ? ['grey'] : [] },
        // Compact: no rule between rows, so long listings stay readable.
        chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      });
      for (const row of rows) table.push(row.map(formatCell));
      write(process.stdout, table.toString());
    },
    fields: (pairs) => {
      const width = Math.max(0, ...pairs.map(([k]) => k.length));
      for (const [k, v] of pairs) write(process.stdout, `${style('dim', k.padEnd(width))}  ${formatCell(v)}`);
    },
    note: (text) => write(process.stderr, style('dim', text, 'stderr')),
    warn: (text) => write(process.stderr, `${style('yellow', 'warning:', 'stderr')} ${text}`),
    error: (text) => write(process.stderr, `${style('red', 'error:', 'stderr')} ${text}`),
    success: (text) => write(process.stdout, `${style('green', '✓', 'stdout')} ${text}`),
    style,
  };
}
