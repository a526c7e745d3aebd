/**
 * src/cli/table.ts draws what cli-table3 drew with output.ts's options, character for character:
 * random tables of ASCII, Hangul, CJK, combining marks, control characters and line breaks, with
 * and without fitted column widths, plain and with grey borders and bold headers.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../src/cli/table.ts';

const require = createRequire(import.meta.url);
type TableCtor = new (options: object) => { push(row: unknown[]): void; toString(): string };
const CliTable = require('cli-table3') as TableCtor;
const colors = require('@colors/colors/safe') as { enable(): void; disable(): void };

const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };
const grey = (text: string) => (text ? `\u001b[90m${text}\u001b[39m` : text);
const bold = (text: string) => `\u001b[1m${text}\u001b[22m`;

function reference(head: string[], rows: string[][], colWidths?: number[], colour = false): string {
  if (colour) colors.enable();
  else colors.disable();
  const table = new CliTable({
    head,
    style: { head: [], border: colour ? ['grey'] : [] },
    chars: COMPACT,
    ...(colWidths ? { colWidths } : {}),
  });
  for (const row of rows) table.push(row);
  return table.toString();
}

/** A small deterministic generator, so a failure names its seed. */
function random(seed: number) {
  let s = seed;
  const next = (n: number) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % n;
  };
  const pool = [
    'a',
    'Z',
    '0',
    ' ',
    '-',
    '…',
    '가',
    '힣',
    '한',
    '中',
    '日',
    'ア',
    'ｱ',
    'Ａ',
    '、',
    'é',
    'e\u0301',
    '\t',
    '\n',
    '·',
    'Ω',
    'ё',
    '\u1100',
    '\u3000',
  ];
  const text = (max: number) => {
    let out = '';
    for (let i = next(max + 1); i > 0; i--) out += pool[next(pool.length)];
    return out;
  };
  return { next, text };
}

describe('renderTable', () => {
  it('draws what cli-table3 drew, for 600 random tables', () => {
    for (let seed = 1; seed <= 600; seed++) {
      const r = random(seed);
      const columns = 1 + r.next(5);
      const colour = seed % 3 === 0;
      const head = Array.from({ length: columns }, () => r.text(14));
      const rows = Array.from({ length: r.next(6) }, () => Array.from({ length: columns }, () => r.text(30)));
      const colWidths = seed % 2 === 0 ? Array.from({ length: columns }, () => 3 + r.next(25)) : undefined;
      const styledHead = colour ? head.map(bold) : head;
      const mine = renderTable({
        head: styledHead,
        rows,
        ...(colWidths ? { colWidths } : {}),
        ...(colour ? { border: grey } : {}),
      });
      expect({ seed, table: mine }).toEqual({ seed, table: reference(styledHead, rows, colWidths, colour) });
    }
  });

  it('leaves emoji, symbols, escape codes and ragged rows to cli-table3', () => {
    expect(renderTable({ head: ['a'], rows: [['✅ done']] })).toBeUndefined();
    expect(renderTable({ head: ['a'], rows: [['😀']] })).toBeUndefined();
    expect(renderTable({ head: ['a'], rows: [['\u001b[31mred']] })).toBeUndefined();
    expect(renderTable({ head: ['☂'], rows: [['x']] })).toBeUndefined();
    expect(renderTable({ head: ['a', 'b'], rows: [['x']] })).toBeUndefined();
    expect(renderTable({ head: [bold('policy')], rows: [['슬립']] })).toBeDefined();
  });
});
