/**
 * The Toss double in a process of its own, for benchmarks: Toss is a remote service, so its CPU
 * (parsing our requests, answering them) must not count against the worker's. Started with
 * `fork()`; sends `{ url }` once listening, answers `'ledger'` with the order id of every charge it
 * made, and stops on `'stop'`. Options come as JSON in argv[2] (TossDoubleOptions).
 */
import { TossDouble, type TossDoubleOptions } from '../src/billing/double.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as TossDoubleOptions;
const double = new TossDouble(options);
const url = await double.start();
process.send?.({ url });
process.on('message', async (message) => {
  if (message === 'ledger') process.send?.({ orderIds: double.ledger.map((c) => c.orderId) });
  if (message === 'stop') {
    await double.stop();
    process.disconnect();
  }
});
