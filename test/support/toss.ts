/** The Toss double for tests: started before a file's tests, stopped after, plus a client pointed at it. */
import { afterAll, beforeAll } from 'vitest';
import { TossDouble, type TossDoubleOptions } from '../../src/billing/double.ts';
import { createTossClient, type TossClient } from '../../src/billing/toss.ts';

export { TossDouble, testBillingKeyFor } from '../../src/billing/double.ts';

export const TEST_SECRET_KEY = 'test_sk_sumdaDoubleKey0001';

export interface UsedDouble {
  readonly double: TossDouble;
  readonly url: string;
  client(options?: { timeoutMs?: number; secretKey?: string }): TossClient;
}

export function useTossDouble(options: TossDoubleOptions = {}): UsedDouble {
  const double = new TossDouble({ secretKey: TEST_SECRET_KEY, ...options });
  beforeAll(async () => {
    await double.start();
  });
  afterAll(async () => {
    await double.stop();
  });
  return {
    double,
    get url() {
      return double.url;
    },
    client: (o = {}) =>
      createTossClient({
        secretKey: o.secretKey ?? TEST_SECRET_KEY,
        baseUrl: double.url,
        timeoutMs: o.timeoutMs ?? 5000,
      }),
  };
}
