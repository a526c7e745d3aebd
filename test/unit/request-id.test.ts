/**
 * A command's request id is made on first use (src/cli/context.ts), not with the context: a read
 * that logs nothing and audits nothing never makes one (nor loads node:crypto for it). Once made it
 * is the one id of the command — what the context hands to audit rows and job payloads is what its
 * log lines carry.
 */
import fs from 'node:fs';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { act } from '../../src/cli/context.ts';

const savedWriteSync = fs.writeSync;
afterEach(() => {
  fs.writeSync = savedWriteSync;
});

/** Runs `probe` through act() and returns the JSON log lines pino wrote to fd 2. */
async function probe(handler: Parameters<typeof act>[0]): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  fs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd !== 2) return (savedWriteSync as (...a: unknown[]) => number)(fd, data, ...rest);
    const text = typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8');
    for (const line of text.split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line));
    return Buffer.byteLength(text);
  }) as typeof fs.writeSync;
  const program = new Command('sumda').exitOverride();
  program.command('probe').action(act(handler));
  await program.parseAsync(['node', 'sumda', 'probe']);
  return lines;
}

describe('the request id of a command', () => {
  it('is one id however often it is asked for, and the log lines carry it', async () => {
    const seen: string[] = [];
    const lines = await probe(async (ctx) => {
      seen.push(ctx.requestId);
      ctx.log.warn('first');
      seen.push(ctx.requestId);
      ctx.log.child({ step: 2 }).warn('second');
    });
    expect(seen[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(seen[1]).toBe(seen[0]);
    expect(lines.map((l) => [l.msg, l.reqId])).toEqual([
      ['first', seen[0]],
      ['second', seen[0]],
    ]);
  });

  it('logged before anyone asked for it, it is still the id the command later hands out', async () => {
    let later = '';
    const lines = await probe(async (ctx) => {
      ctx.log.warn('early');
      later = ctx.requestId;
    });
    expect(lines[0]?.reqId).toBe(later);
  });

  it('two commands get two ids', async () => {
    const ids: string[] = [];
    await probe(async (ctx) => {
      ids.push(ctx.requestId);
    });
    await probe(async (ctx) => {
      ids.push(ctx.requestId);
    });
    expect(new Set(ids).size).toBe(2);
  });
});
