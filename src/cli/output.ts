/**
 * The one module that writes to the terminal. Data goes to stdout (JSON with --json, tables and
 * lines otherwise); notes, warnings and progress go to stderr. Colour only on a TTY and never
 * with NO_COLOR or --no-color (node:util styleText checks both).
 */
import { createRequire } from 'node:module';
import { renderTable } from './table.ts';

// From Node's own module object, not `import … from 'node:util'`: an ES import of node:util builds a
// namespace of every export, which loads a good part of Node's internals (~5 ms CPU per command).
const { styleText } = process.getBuiltinModule('node:util');

type Style = Parameters<typeof styleText>[0];
type Cell = string | number | boolean | null | undefined | Date;

export interface Output {
  readonly json: boolean;
  /** Machine-readable result: pretty JSON on stdout. Use for every --json answer. */
  data(value: unknown): void;
  /** One NDJSON line on stdout (streams of results). */
  record(value: unknown): void;
  line(text?: string): void;
  /**
   * A table on stdout, fitted to the terminal width (long cells wrap; Hangul counts two columns;
   * too many columns to fit: a record per row, as psql's expanded display) unless --wide. No rows:
   * one line saying so (`empty`, or "nothing to show"). `shortIds`: columns whose UUIDs are shown
   * by their first 8 characters (commands that take ids accept such a prefix).
   */
  table(head: string[], rows: Cell[][], options?: TableOptions): void;
  /** Key/value pairs as an aligned block. */
  fields(pairs: [string, Cell][]): void;
  note(text: string): void;
  warn(text: string): void;
  error(text: string): void;
  success(text: string): void;
  style(style: Style, text: string, stream?: 'stdout' | 'stderr'): string;
}

export interface TableOptions {
  empty?: string;
  shortIds?: number[];
  /** false: a table even when too many columns fit (a view redrawn in place, `sumda top`). */
  records?: boolean;
}

/** Columns a character takes in a terminal: East Asian wide and fullwidth characters take two. */
export function displayWidth(text: string): number {
  let width = 0;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes take no columns
  for (const ch of text.replace(/\u001b\[[0-9;]*m/g, '')) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || (c >= 0x300 && c <= 0x36f) || c === 0x200b) continue;
    const wide =
      (c >= 0x1100 && c <= 0x115f) ||
      (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe30 && c <= 0xfe4f) ||
      (c >= 0xff00 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1f300 && c <= 0x1faff) ||
      (c >= 0x20000 && c <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}

/** Narrowest a column is squeezed to when a table has to fit (a short id and its padding). */
const MIN_COLUMN = 10;

/** Columns a box table takes: its column widths (padding included) and a border beside each. */
export function tableWidth(widths: readonly number[]): number {
  return widths.reduce((a, b) => a + b, 0) + widths.length + 1;
}

/**
 * Column widths (cell padding included) that fit `total` columns, or undefined when the natural
 * widths already fit. None is squeezed below MIN_COLUMN: a table with too many columns for the
 * terminal comes out wider than `total` (and output.table prints it as records instead).
 */
export function fitColumns(natural: number[], total: number): number[] | undefined {
  if (tableWidth(natural) <= total) return undefined;
  // Every column gets up to MIN_COLUMN; what is left goes to the columns that want more, in
  // proportion to how much more they want.
  const widths = natural.map((n) => Math.min(n, MIN_COLUMN));
  let extra = total - tableWidth(widths);
  if (extra <= 0) return widths;
  const want = natural.map((n, i) => n - widths[i]!);
  const wanted = want.reduce((a, b) => a + b, 0);
  for (let i = 0; i < widths.length; i++) {
    const more = Math.floor((extra * want[i]!) / wanted);
    widths[i]! += more;
  }
  extra = total - tableWidth(widths);
  // Rounding leftovers: one column each, to those still short of their natural width.
  for (let i = 0; extra > 0 && i < widths.length; i++) {
    if (widths[i]! < natural[i]!) {
      widths[i]! += 1;
      extra -= 1;
    }
  }
  return widths;
}

/** Wraps text to `width` display columns: at spaces where it can, inside a word longer than a line. */
export function wrapText(text: string, width: number): string {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    let used = 0;
    for (const word of paragraph.split(/(\s+)/)) {
      if (word === '') continue;
      const w = displayWidth(word);
      if (/^\s+$/.test(word)) {
        if (used > 0 && used + w < width) {
          line += word;
          used += w;
        }
        continue;
      }
      if (used + w <= width) {
        line += word;
        used += w;
        continue;
      }
      if (used > 0) out.push(line.trimEnd());
      line = '';
      used = 0;
      for (const ch of word) {
        const cw = displayWidth(ch);
        if (used + cw > width && used > 0) {
          out.push(line);
          line = '';
          used = 0;
        }
        line += ch;
        used += cw;
      }
    }
    out.push(line.trimEnd());
  }
  return out.join('\n');
}

/**
 * A table too wide for the terminal even squeezed, as psql's expanded display prints it: one block
 * per row, `-[ RECORD n ]` and then a line per column, the value wrapped beside its name.
 */
export function renderRecords(head: readonly string[], rows: readonly string[][], total: number): string {
  const keyWidth = Math.max(...head.map(displayWidth));
  const valueWidth = Math.max(MIN_COLUMN, total - keyWidth - 3);
  const out: string[] = [];
  rows.forEach((row, n) => {
    const title = `-[ RECORD ${n + 1} ]`;
    out.push(title + '-'.repeat(Math.max(0, Math.min(total, keyWidth + 3 + valueWidth) - title.length)));
    head.forEach((key, i) => {
      const pad = ' '.repeat(keyWidth - displayWidth(key));
      wrapText(row[i] ?? '', valueWidth)
        .split('\n')
        .forEach((line, j) => {
          out.push(`${j === 0 ? key + pad : ' '.repeat(keyWidth)} | ${line}`.trimEnd());
        });
    });
  });
  return out.join('\n');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The terminal's width: the TTY's, else COLUMNS; undefined when neither says (a pipe: no fitting). */
function terminalColumns(): number | undefined {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 20 ? env : undefined;
}

let TableCtor: (new (options: object) => { push(row: unknown[]): void; toString(): string }) | undefined;
function tableCtor() {
  // cli-table3 is CommonJS, and only needed for tables ./table.ts leaves to it (emoji, symbols).
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

export function createOutput(options: { json: boolean; wide?: boolean }): Output {
  const write = (stream: NodeJS.WriteStream, text: string) => stream.write(`${text}\n`);
  const style = (s: Style, text: string, stream: 'stdout' | 'stderr' = 'stdout') => {
    const target = stream === 'stdout' ? process.stdout : process.stderr;
    // Not a terminal and no FORCE_COLOR: styleText would return the text as it is, after loading
    // Node's colour support to find that out (a few hundred µs of every piped command).
    if (!target.isTTY && process.env.FORCE_COLOR === undefined) return text;
    return styleText(s, text, { stream: target });
  };
  return {
    json: options.json,
    data: (value) => write(process.stdout, JSON.stringify(value, jsonReplacer, 2)),
    record: (value) => write(process.stdout, JSON.stringify(value, jsonReplacer)),
    line: (text = '') => write(process.stdout, text),
    table: (head, rows, tableOptions = {}) => {
      if (rows.length === 0) {
        write(process.stdout, tableOptions.empty ?? 'nothing to show');
        return;
      }
      const colour = process.stdout.isTTY && !process.env.NO_COLOR;
      const short = new Set(options.wide ? [] : (tableOptions.shortIds ?? []));
      const render = (compact: boolean) =>
        rows.map((row) =>
          row.map((value, i) => {
            // Fitting: instants to the minute, with a space to wrap at.
            if (compact && value instanceof Date)
              return `${value.toISOString().slice(0, 16).replace('T', ' ')}Z`;
            const text = formatCell(value);
            return short.has(i) && UUID.test(text) ? text.slice(0, 8) : text;
          }),
        );
      const widthsOf = (cells: string[][]) =>
        head.map(
          (h, i) =>
            2 +
            Math.max(
              displayWidth(h),
              ...cells.map((row) => Math.max(0, ...(row[i] ?? '').split('\n').map(displayWidth))),
            ),
        );
      const columns = options.wide ? undefined : terminalColumns();
      let cells = render(false);
      let colWidths = columns ? fitColumns(widthsOf(cells), columns) : undefined;
      if (colWidths && columns) {
        cells = render(true);
        colWidths = fitColumns(widthsOf(cells), columns);
      }
      if (colWidths && columns && tableWidth(colWidths) > columns && tableOptions.records !== false) {
        // Too many columns for this terminal even squeezed: a record per row (--wide for the table).
        write(process.stdout, renderRecords(head, cells, columns));
        return;
      }
      const styledHead = head.map((h) => style('bold', h));
      const lines = cells.map((row) =>
        colWidths ? row.map((text, i) => wrapText(text, colWidths[i]! - 2)) : row,
      );
      const drawn = renderTable({
        head: styledHead,
        rows: lines,
        ...(colWidths ? { colWidths } : {}),
        // Grey borders on a colour terminal; empty segments stay empty, as cli-table3 left them.
        ...(colour ? { border: (text: string) => (text ? style('gray', text) : text) } : {}),
      });
      if (drawn !== undefined) {
        write(process.stdout, drawn);
        return;
      }
      const Table = tableCtor();
      const table = new Table({
        head: styledHead,
        style: { head: [], border: colour ? ['grey'] : [] },
        // Compact: no rule between rows, so long listings stay readable.
        chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
        ...(colWidths ? { colWidths } : {}),
      });
      for (const row of lines) table.push(row);
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
