/**
 * The logger is made lazily (pino loads on the first line at an enabled level): it must behave as
 * the pino logger it stands for — levels, child bindings, redaction — before and after pino exists.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('drops lines below its level and answers level questions without writing', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'warn', destination }).child({ cmd: 'policy list', reqId: 'r1' });
    log.info('not shown');
    log.debug({ a: 1 }, 'not shown either');
    expect(log.level).toBe('warn');
    expect(log.isLevelEnabled('info')).toBe(false);
    expect(log.isLevelEnabled('error')).toBe(true);
    expect(lines).toEqual([]);
  });

  it('writes enabled lines with the child bindings and redacts secrets', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', destination }).child({ cmd: 'worker', reqId: 'r2' });
    log.info({ password: 'hunter2', n: 3 }, 'started');
    log.child({ queue: 'slip.check' }).warn('slow');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 30,
      cmd: 'worker',
      reqId: 'r2',
      n: 3,
      password: '[redacted]',
      msg: 'started',
    });
    expect(lines[1]).toMatchObject({ level: 40, cmd: 'worker', queue: 'slip.check', msg: 'slow' });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('a silent logger writes nothing at any level', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'silent', destination });
    log.fatal('x');
    log.error(new Error('y'));
    expect(lines).toEqual([]);
  });
});
