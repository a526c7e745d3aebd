/** The counting gate that bounds a worker's Toss calls: limit, arrival order, abort while waiting. */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createGate } from '../../src/util/gate.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createGate', () => {
  it('lets `limit` holders in and the rest in arrival order as places free', async () => {
    const gate = createGate(2);
    const order: number[] = [];
    const holders = [1, 2, 3, 4].map((n) => gate.acquire().then(() => order.push(n)));
    await tick();
    expect(order).toEqual([1, 2]);
    expect(gate.active).toBe(2);
    gate.release();
    await tick();
    expect(order).toEqual([1, 2, 3]);
    gate.release();
    gate.release();
    gate.release();
    await Promise.all(holders);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(gate.active).toBe(0);
  });

  it('a wait aborted by its signal rejects, takes no place and leaves no listener behind', async () => {
    const gate = createGate(1);
    await gate.acquire();
    const controller = new AbortController();
    const waiting = gate.acquire(controller.signal);
    const next = gate.acquire();
    controller.abort(new Error('stopping'));
    await expect(waiting).rejects.toThrow('stopping');
    gate.release();
    await next;
    expect(gate.active).toBe(1);
    // A served wait removes its listener: a worker's long-lived signal does not gather them.
    const long = new AbortController();
    gate.release();
    await gate.acquire(long.signal);
    const third = gate.acquire(long.signal);
    gate.release();
    await third;
    expect(getEventListeners(long.signal, 'abort')).toHaveLength(0);
  });

  it('refuses a limit that is not a positive whole number', () => {
    expect(() => createGate(0)).toThrow(RangeError);
    expect(() => createGate(1.5)).toThrow(RangeError);
  });
});
