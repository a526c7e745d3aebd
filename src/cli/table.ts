/**
 * Box tables as sumda prints them: the layout cli-table3 drew for output.ts (one space of padding,
 * no rule between rows, an over-long cell cut with `…`), character for character, without loading
 * cli-table3 and its width libraries on every command that prints a table (test/unit/table.test.ts
 * compares the two on random tables). Text this renderer cannot measure exactly as cli-table3 did —
 * emoji and other symbols (U+2000–U+2FFF, astral characters, variation selectors) and escape codes
 * in cells — or a row with more or fewer cells than the header (cli-table3 has its own ideas about
 * those) returns undefined, and output.ts hands that table to cli-table3 itself.
 */

export interface TableLayout {
  /** Header cells, already styled (bold) or plain. */
  head: readonly string[];
  rows: readonly (readonly string[])[];
  /** Column widths including padding; default: as wide as the widest cell. */
  colWidths?: readonly number[];
  /** Border colouring (grey on a colour terminal); default none. */
  border?: (text: string) => string;
}

/** The SGR codes cli-table3 measures around (bold and colours). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape codes are what it matches
const SGR = /\u001b\[(?:\d*;){0,5}\d*m/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape codes are what it matches
const SGR_ONE = /\u001b\[((?:\d*;){0,5}\d*)m/g;
/** A header as styleText('bold') wrote it. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape codes are what it matches
const BOLD = /^\u001b\[1m(.*)\u001b\[22m$/s;
/**
 * Characters whose width is certain: below U+2000, CJK and Hangul (U+3000–U+9FFF, U+AC00–U+D7A3)
 * and the halfwidth/fullwidth forms. No emoji sequence can be made of these alone.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are measurable (no width)
const MEASURABLE = /^[\u0000-\u1fff\u3000-\u9fff\uac00-\ud7a3\uff00-\uffef]*$/;

/** Columns a string takes, as cli-table3 measured it: the widest line, SGR codes not counted. */
function width(text: string): number {
  const plain = text.includes('\u001b') ? text.replace(SGR, '') : text;
  if (!plain.includes('\n')) return lineWidth(plain);
  let widest = 0;
  for (const line of plain.split('\n')) widest = Math.max(widest, lineWidth(line));
  return widest;
}

/** Printable ASCII: a column each (most cells; the regular expression is quicker than the loop). */
const ASCII = /^[\x20-\x7e]*$/;

function lineWidth(line: string): number {
  if (ASCII.test(line)) return line.length;
  let columns = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) continue; // control characters
    if (c >= 0x300 && c <= 0x36f) continue; // combining marks
    columns += isWide(c) ? 2 : 1;
  }
  return columns;
}

/** East Asian wide and fullwidth, within the measurable range. */
function isWide(c: number): boolean {
  return (
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x3000 && c <= 0x3247 && c !== 0x303f) ||
    (c >= 0x3250 && c <= 0x4dbf) ||
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xff01 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6)
  );
}

/** Cuts plain text to `columns` (by UTF-16 units when every unit is one column, else from the end). */
function cutPlain(text: string, columns: number): string {
  if (text.length === width(text)) return text.slice(0, Math.max(0, columns));
  let cut = text;
  while (width(cut) > columns) cut = cut.slice(0, -1);
  return cut;
}

/** Cuts text with SGR codes to `columns`, closing the styles it cut off, then appends `…`. */
function truncate(text: string, columns: number): string {
  if (width(text) <= columns) return text;
  const wanted = columns - 1;
  const parts = text.split(SGR);
  const codes = [...text.matchAll(SGR_ONE)];
  let out = '';
  let used = 0;
  let open = false; // bold is the only style a sumda cell carries
  let colour: string | undefined;
  for (let i = 0; used < wanted; i++) {
    let piece = parts[i] ?? '';
    if (used + width(piece) > wanted) piece = cutPlain(piece, wanted - used);
    out += piece;
    used += width(piece);
    if (used < wanted) {
      const code = codes[i];
      if (!code) break;
      out += code[0];
      const n = code[1] ? Number.parseInt(code[1].split(';')[0]!, 10) : 0;
      if ((n >= 30 && n <= 39) || (n >= 90 && n <= 97)) colour = code[0];
      else if (n === 0) {
        open = false;
        colour = undefined;
      } else if (n === 1) open = true;
      else if (n === 22) open = false;
    }
  }
  if (open) out += '\u001b[22m';
  if (colour && colour !== '\u001b[39m') out += '\u001b[39m';
  return `${out}…`;
}

function measurable(text: string): boolean {
  return MEASURABLE.test(text) && !text.includes('\u001b') && !text.includes('\u009b');
}

/** The table as text, or undefined when a cell holds text only cli-table3 measures the same way. */
export function renderTable(layout: TableLayout): string | undefined {
  const head = [...layout.head];
  if (head.length === 0 || layout.rows.some((row) => row.length !== head.length)) return undefined;
  const rows = [head, ...layout.rows.map((row) => [...row])];
  // A header is measurable when its text is (its own bold codes are handled).
  if (!head.every((h) => measurable(h.replace(BOLD, '$1')))) return undefined;
  if (!layout.rows.every((row) => row.every(measurable))) return undefined;
  const paint = layout.border ?? ((text: string) => text);
  const columns = head.length;
  const widths: number[] = [];
  for (let x = 0; x < columns; x++) {
    const given = layout.colWidths?.[x];
    widths.push(typeof given === 'number' ? given : Math.max(1, ...rows.map((row) => width(row[x]!) + 2)));
  }
  const out: string[] = [];
  const last = columns - 1;
  rows.forEach((row, y) => {
    if (y === 0) {
      out.push(
        row
          .map((_, x) => paint(`${x === 0 ? '┌' : '┬'}${'─'.repeat(widths[x]!)}${x === last ? '┐' : ''}`))
          .join(''),
      );
    }
    const lines = row.map((cell) => cell.split('\n'));
    const height = Math.max(1, ...lines.map((l) => l.length));
    for (let n = 0; n < height; n++) {
      let text = '';
      row.forEach((_, x) => {
        const inner = widths[x]! - 2;
        const line = lines[x]![n];
        let content: string;
        if (line === undefined) content = ' '.repeat(widths[x]!);
        else {
          const cut = truncate(line, inner);
          content = ` ${cut}${' '.repeat(Math.max(0, inner - width(cut)))} `;
        }
        text += `${paint('│')}${content}${x === last ? paint('│') : ''}`;
      });
      out.push(text);
    }
  });
  out.push(
    widths.map((w, x) => paint(`${x === 0 ? '└' : '┴'}${'─'.repeat(w)}${x === last ? '┘' : ''}`)).join(''),
  );
  return out.join('\n');
}
