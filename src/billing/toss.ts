/**
 * The Toss Payments client: charge with a billing key, look a payment up by order id, cancel
 * (refund). Plain `fetch`, Basic auth with the secret key, an explicit timeout on every call and an
 * `Idempotency-Key` on every POST. Errors are values, never exceptions: each failed call comes back
 * classified by Toss's `code` (never by HTTP status) into the classes of
 * `shared/reference/toss-billing.md`, which decide what a renewal does next.
 *
 * Glossary:
 * - outcome *unknown*: we cannot tell whether Toss charged (timeout, dropped connection, 5xx
 *   without a body, 409 while the first request with the key is still running, an unrecognised
 *   code). Never treated as a failure; the order is looked up by its id.
 * - *temporary*: Toss says it did not charge, try again later with the same order id and key.
 * - *soft decline*: the card refused this time (limit, issuer): dunning, spaced in days.
 * - *hard decline*: the card will never work (stopped, lost, expired, billing key gone).
 * - *config*: our request or credentials are wrong: alert an operator, no dunning.
 *
 * The secret key and billing keys never leave this module in a message: errors quote Toss's code
 * and message only, and the billing key in the URL is never logged.
 */

import type { Gate } from '../util/gate.ts';

export type TossErrorClass = 'unknown' | 'temporary' | 'soft_decline' | 'hard_decline' | 'config';

const CLASS_BY_CODE: Record<string, TossErrorClass> = {
  IDEMPOTENT_REQUEST_PROCESSING: 'unknown',
  ALREADY_PROCESSED_PAYMENT: 'unknown',
  DUPLICATED_ORDER_ID: 'unknown',
  PROVIDER_ERROR: 'temporary',
  FAILED_INTERNAL_SYSTEM_PROCESSING: 'temporary',
  FAILED_CARD_COMPANY_RESPONSE: 'temporary',
  FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING: 'temporary',
  COMMON_ERROR: 'temporary',
  UNKNOWN_ERROR: 'temporary',
  FORBIDDEN_CONSECUTIVE_REQUEST: 'temporary',
  FAILED_REFUND_PROCESS: 'temporary',
  REJECT_CARD_PAYMENT: 'soft_decline',
  REJECT_CARD_COMPANY: 'soft_decline',
  EXCEED_MAX_DAILY_PAYMENT_COUNT: 'soft_decline',
  EXCEED_MAX_PAYMENT_AMOUNT: 'soft_decline',
  EXCEED_MAX_AMOUNT: 'soft_decline',
  INVALID_CARD_EXPIRATION: 'hard_decline',
  INVALID_STOPPED_CARD: 'hard_decline',
  INVALID_CARD_LOST_OR_STOLEN: 'hard_decline',
  INVALID_REJECT_CARD: 'hard_decline',
  INVALID_CARD_NUMBER: 'hard_decline',
  NOT_SUPPORTED_CARD_TYPE: 'hard_decline',
  INVALID_BILL_KEY_REQUEST: 'hard_decline',
  NOT_FOUND_BILLING: 'hard_decline',
  UNAUTHORIZED_KEY: 'config',
  INCORRECT_BASIC_AUTH_FORMAT: 'config',
  INVALID_API_KEY: 'config',
  INVALID_REQUEST: 'config',
  INVALID_ORDER_ID: 'config',
  BELOW_MINIMUM_AMOUNT: 'config',
  NOT_MATCHES_CUSTOMER_KEY: 'config',
  NOT_SUPPORTED_METHOD: 'config',
  INVALID_IDEMPOTENCY_KEY: 'config',
  // Refusals of a cancel: the payment cannot be refunded (as asked): nothing to retry.
  ALREADY_CANCELED_PAYMENT: 'config',
  NOT_CANCELABLE_AMOUNT: 'config',
  NOT_CANCELABLE_PAYMENT: 'config',
  EXCEED_MAX_REFUND_DUE: 'config',
};

/**
 * The class of a Toss error code. A code we do not know is `unknown`: we cannot prove Toss did not
 * charge, so the order is looked up rather than marked failed.
 */
export function classifyTossCode(code: string): TossErrorClass {
  return CLASS_BY_CODE[code] ?? 'unknown';
}

/** Codes a look-up answers when the order does not exist at Toss. */
export const NOT_FOUND_PAYMENT = 'NOT_FOUND_PAYMENT';

export type TossPaymentStatus =
  | 'READY'
  | 'IN_PROGRESS'
  | 'WAITING_FOR_DEPOSIT'
  | 'DONE'
  | 'CANCELED'
  | 'PARTIAL_CANCELED'
  | 'ABORTED'
  | 'EXPIRED';

export interface TossCard {
  issuerCode?: string;
  acquirerCode?: string;
  number?: string;
  cardType?: string;
  ownerType?: string;
  [key: string]: unknown;
}

export interface TossCancel {
  cancelAmount: number;
  cancelReason: string;
  canceledAt: string;
  transactionKey?: string;
  [key: string]: unknown;
}

/** The Payment object, with the fields sumda reads. */
export interface TossPayment {
  paymentKey: string;
  type?: string;
  orderId: string;
  orderName?: string;
  mId?: string;
  currency?: string;
  method?: string;
  totalAmount: number;
  balanceAmount: number;
  status: TossPaymentStatus;
  requestedAt?: string;
  approvedAt?: string | null;
  card?: TossCard | null;
  receipt?: { url?: string } | null;
  cancels?: TossCancel[] | null;
  failure?: { code: string; message: string } | null;
}

export interface TossFailure {
  ok: false;
  class: TossErrorClass;
  /** Toss's code, or ours for transport failures (TIMEOUT, NETWORK_ERROR, BAD_RESPONSE). */
  code: string;
  message: string;
  httpStatus: number | null;
}
export type TossResult<T> = { ok: true; value: T; httpStatus: number } | TossFailure;

export interface ChargeRequest {
  billingKey: string;
  customerKey: string;
  amount: number;
  orderId: string;
  orderName: string;
  customerEmail?: string | undefined;
  customerName?: string | undefined;
  /** Idempotency-Key; we always pass the order id for renewals. */
  idempotencyKey: string;
  /** TossPayments-Test-Code: force an error code (test keys only). */
  testCode?: string | undefined;
}

export interface CancelRequest {
  paymentKey: string;
  cancelReason: string;
  /** Omitted: the whole remaining balance. */
  cancelAmount?: number | undefined;
  idempotencyKey: string;
}

export interface TossClientOptions {
  secretKey: string;
  baseUrl: string;
  timeoutMs: number;
  /** Custom fetch (tests); default the global one. */
  fetch?: typeof fetch;
  /**
   * Bounds the calls in flight (TOSS_MAX_IN_FLIGHT per worker process): a call waits for a place
   * before its timeout starts. Without one, calls are unbounded.
   */
  gate?: Gate | undefined;
}

export interface TossClient {
  readonly mode: 'test' | 'live';
  charge(request: ChargeRequest, signal?: AbortSignal): Promise<TossResult<TossPayment>>;
  findByOrderId(orderId: string, signal?: AbortSignal): Promise<TossResult<TossPayment>>;
  cancel(request: CancelRequest, signal?: AbortSignal): Promise<TossResult<TossPayment>>;
}

/** orderId rules: 6–64 of [A-Za-z0-9_-] (Toss allows a few more characters; we never use them). */
export const ORDER_ID = /^[A-Za-z0-9_-]{6,64}$/;
const MAX_IDEMPOTENCY_KEY = 300;

function failure(cls: TossErrorClass, code: string, message: string, httpStatus: number | null): TossFailure {
  return { ok: false, class: cls, code, message, httpStatus };
}

export function createTossClient(options: TossClientOptions): TossClient {
  const doFetch = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/+$/, '');
  // Basic base64("secretKey:") — the trailing colon is the empty password Toss expects.
  const authorization = `Basic ${Buffer.from(`${options.secretKey}:`).toString('base64')}`;
  const mode = options.secretKey.startsWith('live_') ? 'live' : 'test';

  async function call(
    method: 'GET' | 'POST',
    path: string,
    body: object | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<TossResult<TossPayment>> {
    if (options.gate) {
      try {
        await options.gate.acquire(signal);
      } catch {
        // Stopped while waiting for a place: nothing was sent.
        return failure('unknown', 'ABORTED', 'the call was aborted (the worker is stopping)', null);
      }
      try {
        return await send(method, path, body, headers, signal);
      } finally {
        options.gate.release();
      }
    }
    return send(method, path, body, headers, signal);
  }

  async function send(
    method: 'GET' | 'POST',
    path: string,
    body: object | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<TossResult<TossPayment>> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let response: Response;
    let text: string;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: {
          Authorization: authorization,
          Accept: 'application/json',
          ...(body ? { 'Content-Type': 'application/json' } : {}),
          ...headers,
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: combined,
      });
      text = await response.text();
    } catch (error) {
      // The request may have reached Toss: a timeout or a dropped connection is an unknown outcome.
      if (timeout.aborted)
        return failure('unknown', 'TIMEOUT', `no answer within ${options.timeoutMs} ms`, null);
      if (signal?.aborted)
        return failure('unknown', 'ABORTED', 'the call was aborted (the worker is stopping)', null);
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      return failure('unknown', 'NETWORK_ERROR', `the connection failed (${cause})`, null);
    }
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.ok) {
      const payment = parsed as TossPayment | undefined;
      if (!payment || typeof payment.orderId !== 'string' || typeof payment.status !== 'string') {
        return failure(
          'unknown',
          'BAD_RESPONSE',
          `HTTP ${response.status} without a payment`,
          response.status,
        );
      }
      return { ok: true, value: payment, httpStatus: response.status };
    }
    const error = parsed as { code?: unknown; message?: unknown } | undefined;
    if (!error || typeof error.code !== 'string') {
      // 5xx (or anything) without Toss's error body: we cannot know what happened.
      return failure(
        'unknown',
        'BAD_RESPONSE',
        `HTTP ${response.status} without an error code`,
        response.status,
      );
    }
    const message = typeof error.message === 'string' ? error.message.slice(0, 500) : '';
    if (error.code === NOT_FOUND_PAYMENT)
      return failure('unknown', NOT_FOUND_PAYMENT, message, response.status);
    return failure(classifyTossCode(error.code), error.code, message, response.status);
  }

  function checkKey(key: string): TossFailure | undefined {
    if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY) {
      return failure(
        'config',
        'INVALID_IDEMPOTENCY_KEY',
        `an Idempotency-Key must be 1-${MAX_IDEMPOTENCY_KEY} characters`,
        null,
      );
    }
    return undefined;
  }

  return {
    mode,
    async charge(request, signal) {
      const bad = checkKey(request.idempotencyKey);
      if (bad) return bad;
      if (!ORDER_ID.test(request.orderId)) {
        return failure('config', 'INVALID_ORDER_ID', 'orderId must be 6-64 of [A-Za-z0-9_-]', null);
      }
      return call(
        'POST',
        `/v1/billing/${encodeURIComponent(request.billingKey)}`,
        {
          customerKey: request.customerKey,
          amount: request.amount,
          orderId: request.orderId,
          orderName: request.orderName.slice(0, 100),
          ...(request.customerEmail ? { customerEmail: request.customerEmail } : {}),
          ...(request.customerName ? { customerName: request.customerName } : {}),
        },
        {
          'Idempotency-Key': request.idempotencyKey,
          ...(request.testCode ? { 'TossPayments-Test-Code': request.testCode } : {}),
        },
        signal,
      );
    },
    findByOrderId(orderId, signal) {
      return call('GET', `/v1/payments/orders/${encodeURIComponent(orderId)}`, undefined, {}, signal);
    },
    async cancel(request, signal) {
      const bad = checkKey(request.idempotencyKey);
      if (bad) return bad;
      return call(
        'POST',
        `/v1/payments/${encodeURIComponent(request.paymentKey)}/cancel`,
        {
          cancelReason: request.cancelReason.slice(0, 200),
          ...(request.cancelAmount !== undefined ? { cancelAmount: request.cancelAmount } : {}),
        },
        { 'Idempotency-Key': request.idempotencyKey },
        signal,
      );
    },
  };
}
