/**
 * The Toss client against the double: auth, validation, idempotency as Toss does it, test codes,
 * faults, and every failure classified by code into the five classes.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { classifyTossCode, createTossClient } from '../../src/billing/toss.ts';
import { createGate } from '../../src/util/gate.ts';
import { TEST_SECRET_KEY, testBillingKeyFor, useTossDouble } from '../support/toss.ts';

const toss = useTossDouble();
const customerKey = 'cus_client_test_1';
const billingKey = testBillingKeyFor(customerKey);
let n = 0;
const orderId = () => `order-client-${Date.now().toString(36)}-${++n}`;

function charge(over: Partial<Parameters<ReturnType<typeof toss.client>['charge']>[0]> = {}) {
  const id = over.orderId ?? orderId();
  return toss.client().charge({
    billingKey,
    customerKey,
    amount: 9900,
    orderId: id,
    orderName: '숨다 베이직 (월간)',
    idempotencyKey: over.idempotencyKey ?? id,
    ...over,
  });
}

beforeEach(() => {
  toss.double.clearFaults();
  toss.double.latencyMs = 0;
});

describe('Toss client', () => {
  it('charges with Basic auth and returns the payment', async () => {
    const result = await charge();
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({ status: 'DONE', totalAmount: 9900, method: '카드' });
    expect(result.value.approvedAt).toMatch(/\+09:00$/);
    const last = toss.double.requests.at(-1)!;
    expect(last.idempotencyKey).toBe(result.value.orderId);
  });

  it('a wrong secret key is a config error, by code', async () => {
    const client = toss.client({ secretKey: 'test_sk_wrong' });
    const result = await client.charge({
      billingKey,
      customerKey,
      amount: 9900,
      orderId: orderId(),
      orderName: 'x',
      idempotencyKey: 'k-wrong-key',
    });
    expect(result).toMatchObject({ ok: false, class: 'config', code: 'UNAUTHORIZED_KEY', httpStatus: 401 });
  });

  it('the double refuses Basic auth without the colon', async () => {
    const response = await fetch(`${toss.url}/v1/payments/orders/whatever`, {
      headers: { Authorization: `Basic ${Buffer.from(TEST_SECRET_KEY).toString('base64')}` },
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: 'INCORRECT_BASIC_AUTH_FORMAT' });
  });

  it('validates amount, customer key and order id', async () => {
    expect(await charge({ amount: 50 })).toMatchObject({ class: 'config', code: 'BELOW_MINIMUM_AMOUNT' });
    toss.double.registerBillingKey('bk_registered_for_client_test', customerKey);
    expect(
      await charge({ billingKey: 'bk_registered_for_client_test', customerKey: 'cus_someone_else' }),
    ).toMatchObject({
      class: 'config',
      code: 'NOT_MATCHES_CUSTOMER_KEY',
    });
    // The client refuses a bad order id before sending it.
    expect(await charge({ orderId: 'bad id!' })).toMatchObject({ class: 'config', code: 'INVALID_ORDER_ID' });
    expect(await charge({ billingKey: 'bk_unknown_key' })).toMatchObject({
      class: 'hard_decline',
      code: 'NOT_FOUND_BILLING',
    });
    expect(await charge({ idempotencyKey: 'k'.repeat(301) })).toMatchObject({
      code: 'INVALID_IDEMPOTENCY_KEY',
    });
  });

  it('a reused idempotency key returns the first response and charges once (the body is not compared)', async () => {
    const id = orderId();
    const first = await charge({ orderId: id });
    const again = await charge({ orderId: id, amount: 99_000 });
    expect(first.ok && again.ok).toBe(true);
    if (!first.ok || !again.ok) return;
    expect(again.value).toEqual(first.value);
    expect(toss.double.chargesByOrder().get(id)).toBe(1);
  });

  it('answers 409 IDEMPOTENT_REQUEST_PROCESSING while the first request is running: outcome unknown', async () => {
    toss.double.latencyMs = 300;
    const id = orderId();
    const [a, b] = await Promise.all([
      charge({ orderId: id }),
      new Promise((r) => setTimeout(r, 60)).then(() => charge({ orderId: id })),
    ]);
    expect(a.ok).toBe(true);
    expect(b).toMatchObject({
      ok: false,
      class: 'unknown',
      code: 'IDEMPOTENT_REQUEST_PROCESSING',
      httpStatus: 409,
    });
    expect(toss.double.chargesByOrder().get(id)).toBe(1);
  });

  it('a new key for a charged order id is DUPLICATED_ORDER_ID: outcome unknown, never a second charge', async () => {
    const id = orderId();
    await charge({ orderId: id });
    const second = await charge({ orderId: id, idempotencyKey: `${id}-other` });
    expect(second).toMatchObject({ ok: false, class: 'unknown', code: 'DUPLICATED_ORDER_ID' });
    expect(toss.double.chargesByOrder().get(id)).toBe(1);
  });

  it('TossPayments-Test-Code forces an error, classified by code', async () => {
    expect(await charge({ testCode: 'REJECT_CARD_COMPANY' })).toMatchObject({ class: 'soft_decline' });
    expect(await charge({ testCode: 'INVALID_STOPPED_CARD' })).toMatchObject({ class: 'hard_decline' });
    expect(await charge({ testCode: 'PROVIDER_ERROR' })).toMatchObject({ class: 'temporary' });
    expect(await charge({ testCode: 'INVALID_API_KEY' })).toMatchObject({ class: 'config' });
  });

  it('a temporary failure is not stored under its key: the retry with the same key charges', async () => {
    const id = orderId();
    toss.double.addFault({ kind: 'error', code: 'FAILED_CARD_COMPANY_RESPONSE', orderId: id });
    expect(await charge({ orderId: id })).toMatchObject({ class: 'temporary' });
    const retry = await charge({ orderId: id });
    expect(retry.ok).toBe(true);
    expect(toss.double.chargesByOrder().get(id)).toBe(1);
  });

  it('timeouts, dropped connections and bare 5xx are outcome unknown; the look-up tells', async () => {
    const dropped = orderId();
    toss.double.addFault({ kind: 'drop', orderId: dropped });
    expect(await charge({ orderId: dropped })).toMatchObject({
      ok: false,
      class: 'unknown',
      code: 'NETWORK_ERROR',
    });
    const found = await toss.client().findByOrderId(dropped);
    expect(found).toMatchObject({ ok: true, value: { status: 'DONE', orderId: dropped } });
    // Replaying the key after the drop replays the charge's success, no second charge.
    expect((await charge({ orderId: dropped })).ok).toBe(true);
    expect(toss.double.chargesByOrder().get(dropped)).toBe(1);

    const slow = orderId();
    toss.double.addFault({ kind: 'hang', orderId: slow });
    const timedOut = await toss.client({ timeoutMs: 200 }).charge({
      billingKey,
      customerKey,
      amount: 9900,
      orderId: slow,
      orderName: 'x',
      idempotencyKey: slow,
    });
    expect(timedOut).toMatchObject({ ok: false, class: 'unknown', code: 'TIMEOUT' });
    expect(await toss.client().findByOrderId(slow)).toMatchObject({ ok: false, code: 'NOT_FOUND_PAYMENT' });

    const bare = orderId();
    toss.double.addFault({ kind: 'bare5xx', orderId: bare });
    expect(await charge({ orderId: bare })).toMatchObject({ ok: false, class: 'unknown', httpStatus: 500 });
  });

  it('cancels fully or partly, once per idempotency key', async () => {
    const paid = await charge();
    if (!paid.ok) throw new Error('charge failed');
    const client = toss.client();
    const partial = await client.cancel({
      paymentKey: paid.value.paymentKey,
      cancelReason: '부분 환불',
      cancelAmount: 900,
      idempotencyKey: 'refund-1',
    });
    expect(partial).toMatchObject({ ok: true, value: { status: 'PARTIAL_CANCELED', balanceAmount: 9000 } });
    const replay = await client.cancel({
      paymentKey: paid.value.paymentKey,
      cancelReason: '부분 환불',
      cancelAmount: 900,
      idempotencyKey: 'refund-1',
    });
    expect(replay).toMatchObject({ ok: true, value: { balanceAmount: 9000 } });
    const rest = await client.cancel({
      paymentKey: paid.value.paymentKey,
      cancelReason: '전액',
      idempotencyKey: 'refund-2',
    });
    expect(rest).toMatchObject({ ok: true, value: { status: 'CANCELED', balanceAmount: 0 } });
    const more = await client.cancel({
      paymentKey: paid.value.paymentKey,
      cancelReason: '또',
      idempotencyKey: 'refund-3',
    });
    expect(more).toMatchObject({ ok: false, code: 'ALREADY_CANCELED_PAYMENT' });
    expect(
      toss.double.cancels.filter((c) => c.paymentKey === paid.value.paymentKey).map((c) => c.amount),
    ).toEqual([900, 9000]);
  });

  it('classifies by code, never by status; unknown codes are outcome unknown', () => {
    expect(classifyTossCode('REJECT_CARD_PAYMENT')).toBe('soft_decline');
    expect(classifyTossCode('NOT_FOUND_BILLING')).toBe('hard_decline');
    expect(classifyTossCode('FORBIDDEN_CONSECUTIVE_REQUEST')).toBe('temporary');
    expect(classifyTossCode('ALREADY_PROCESSED_PAYMENT')).toBe('unknown');
    expect(classifyTossCode('SOMETHING_NEW')).toBe('unknown');
  });

  it('a live key refuses nothing by itself, but never sends the secret in an error', async () => {
    const client = createTossClient({ secretKey: 'live_sk_secretvalue', baseUrl: toss.url, timeoutMs: 2000 });
    expect(client.mode).toBe('live');
    const result = await client.findByOrderId('order-none-1');
    expect(JSON.stringify(result)).not.toContain('secretvalue');
  });
});

describe('Toss client with a gate (TOSS_MAX_IN_FLIGHT)', () => {
  it('never has more calls in flight than the gate allows, and the timeout starts after the wait', async () => {
    let inFlight = 0;
    let most = 0;
    const counting: typeof fetch = async (input, init) => {
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        return await fetch(input, init);
      } finally {
        inFlight--;
      }
    };
    toss.double.latencyMs = 100;
    // 12 calls of 100 ms through 3 places take ~400 ms; a 250 ms timeout counted from the call
    // (not from when it joined the queue) never fires.
    const client = createTossClient({
      secretKey: TEST_SECRET_KEY,
      baseUrl: toss.url,
      timeoutMs: 250,
      fetch: counting,
      gate: createGate(3),
    });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => {
        const id = `${orderId()}-g${i}`;
        return client.charge({
          billingKey,
          customerKey,
          amount: 9900,
          orderId: id,
          orderName: '숨다 베이직 (월간)',
          idempotencyKey: id,
        });
      }),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(most).toBe(3);
  });

  it('a call stopped while waiting for a place sends nothing and is an unknown outcome (looked up later)', async () => {
    const gate = createGate(1);
    await gate.acquire();
    const client = createTossClient({ secretKey: TEST_SECRET_KEY, baseUrl: toss.url, timeoutMs: 1000, gate });
    const before = toss.double.requests.length;
    const controller = new AbortController();
    const pending = client.findByOrderId('order-never-sent', controller.signal);
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, class: 'unknown', code: 'ABORTED' });
    expect(toss.double.requests.length).toBe(before);
  });
});
