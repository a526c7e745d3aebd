/**
 * A SIMULATION of Toss Payments' billing API on a local HTTP port: what the tests, the benchmark
 * and `sumda demo` charge instead of real cards. It speaks the protocol of
 * `shared/reference/toss-billing.md` — Basic auth, orderId/amount/customerKey validation,
 * `Idempotency-Key` (the first response replayed for a reused key, 409
 * IDEMPOTENT_REQUEST_PROCESSING while the first is still running), `TossPayments-Test-Code` — and
 * adds programmable faults: latency, 5xx, decline codes per card, and "charge, then drop the
 * connection". It keeps a ledger of the charges it really made, which tests compare with the
 * database.
 *
 * One assumption to verify against Toss before going live: a response of the *temporary* class
 * (and any 5xx) is not stored under its idempotency key, so retrying with the same key is
 * processed again. Every other answer (DONE, a decline, a validation error) is replayed.
 *
 * Billing keys: those registered with `registerBillingKey`, and every key of the form
 * `testBillingKeyFor(customerKey)`, which `sumda seed` gives its subscriptions.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatInstant } from '../time/calendar.ts';
import { classifyTossCode, ORDER_ID, type TossPayment } from './toss.ts';

/** The billing key the double accepts for a customer key without registration (seeded data). */
export function testBillingKeyFor(customerKey: string): string {
  return `bk_test_${createHash('sha256').update(`sumda-double:${customerKey}`).digest('hex').slice(0, 40)}`;
}

export interface LedgerCharge {
  paymentKey: string;
  orderId: string;
  billingKey: string;
  customerKey: string;
  amount: number;
  at: Date;
}

export interface LedgerCancel {
  paymentKey: string;
  orderId: string;
  amount: number;
  reason: string;
  at: Date;
}

/** A fault for the next matching request(s). */
export interface Fault {
  /** Which requests: charge (POST billing), lookup (GET by order), cancel; default charge. */
  on?: 'charge' | 'lookup' | 'cancel';
  /** Only requests for this order id (charges/lookups). */
  orderId?: string;
  /** How many matching requests it applies to; default 1. */
  times?: number;
  /**
   * - `drop`: charge, record it, then destroy the connection without answering;
   * - `error`: answer `status` with `code` without charging;
   * - `bare5xx`: answer 500 with no body, without charging;
   * - `hang`: never answer (the client times out) — and do not charge;
   * - `chargeThenHang`: charge, record it, then never answer (the caller dies or times out waiting).
   */
  kind: 'drop' | 'error' | 'bare5xx' | 'hang' | 'chargeThenHang';
  code?: string;
  status?: number;
}

export interface TossDoubleOptions {
  /** The secret key to accept; default any `test_sk_…` key. */
  secretKey?: string;
  /** Added before every answer (the first request with a key is "processing" meanwhile). */
  latencyMs?: number;
  /** Probability that a charge is made and then its connection dropped (chaos tests). */
  dropRate?: number;
  /** Deterministic randomness for dropRate; default Math.random. */
  random?: () => number;
  port?: number;
}

interface StoredPayment extends TossPayment {
  billingKey: string;
  customerKey: string;
}

interface Answer {
  status: number;
  body: unknown;
  /** Kept under the idempotency key (replayed for a reused key). */
  store: boolean;
  /** Destroy the connection instead of answering. */
  drop?: boolean;
}

type Stored = { state: 'processing' } | { state: 'done'; status: number; body: string };

const STATUS_BY_CLASS: Record<string, number> = {
  temporary: 500,
  soft_decline: 403,
  hard_decline: 403,
  config: 400,
  unknown: 500,
};

export class TossDouble {
  readonly ledger: LedgerCharge[] = [];
  readonly cancels: LedgerCancel[] = [];
  /** Every request, in order (method, path, order id when there is one), for assertions. */
  readonly requests: {
    method: string;
    path: string;
    orderId: string | null;
    idempotencyKey: string | null;
  }[] = [];
  readonly #options: TossDoubleOptions;
  readonly #payments = new Map<string, StoredPayment>();
  readonly #byPaymentKey = new Map<string, StoredPayment>();
  readonly #idempotency = new Map<string, Stored>();
  readonly #billingKeys = new Map<string, string>();
  readonly #cardCodes = new Map<string, string>();
  #faults: Fault[] = [];
  #server: Server | undefined;
  #url = '';
  latencyMs: number;
  dropRate: number;

  constructor(options: TossDoubleOptions = {}) {
    this.#options = options;
    this.latencyMs = options.latencyMs ?? 0;
    this.dropRate = options.dropRate ?? 0;
  }

  get url(): string {
    return this.#url;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) this.#send(res, 500, { code: 'UNKNOWN_ERROR', message: 'double failed' });
      });
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => server.listen(this.#options.port ?? 0, '127.0.0.1', resolve));
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.#url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  registerBillingKey(billingKey: string, customerKey: string): void {
    this.#billingKeys.set(billingKey, customerKey);
  }

  /** Every charge with this billing key answers `code` until cleared with null. */
  setCardCode(billingKey: string, code: string | null): void {
    if (code === null) this.#cardCodes.delete(billingKey);
    else this.#cardCodes.set(billingKey, code);
  }

  addFault(fault: Fault): void {
    this.#faults.push({ times: 1, on: 'charge', ...fault });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Charges per order id (a correct client never has more than one). */
  chargesByOrder(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.ledger) counts.set(c.orderId, (counts.get(c.orderId) ?? 0) + 1);
    return counts;
  }

  /** Charge POSTs received for an order id. */
  chargeRequests(orderId: string): number {
    return this.requests.filter(
      (r) => r.method === 'POST' && r.orderId === orderId && r.path.startsWith('/v1/billing/'),
    ).length;
  }

  #takeFault(on: Fault['on'], orderId: string | null): Fault | undefined {
    const index = this.#faults.findIndex((f) => f.on === on && (!f.orderId || f.orderId === orderId));
    if (index < 0) return undefined;
    const fault = this.#faults[index]!;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.#faults.splice(index, 1);
    return fault;
  }

  #send(res: ServerResponse, status: number, body: unknown): string {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(text);
    return text;
  }

  #error(code: string, message: string, status?: number) {
    return { status: status ?? STATUS_BY_CLASS[classifyTossCode(code)] ?? 400, body: { code, message } };
  }

  #authorized(req: IncomingMessage): { code: string; message: string } | undefined {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Basic '))
      return { code: 'UNAUTHORIZED_KEY', message: '인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.' };
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    if (!decoded.endsWith(':'))
      return {
        code: 'INCORRECT_BASIC_AUTH_FORMAT',
        message: '잘못된 요청입니다. ":" 를 포함해 인코딩해주세요.',
      };
    const key = decoded.slice(0, -1);
    const ok = this.#options.secretKey ? key === this.#options.secretKey : /^test_g?sk_/.test(key);
    if (!ok)
      return { code: 'UNAUTHORIZED_KEY', message: '인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.' };
    return undefined;
  }

  async #body(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (chunks.length === 0) return {};
    try {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const method = req.method ?? 'GET';
    const body = method === 'POST' ? await this.#body(req) : {};
    const idempotencyKey = (req.headers['idempotency-key'] as string | undefined) ?? null;
    const charge = /^\/v1\/billing\/([^/]+)$/.exec(url.pathname);
    const lookup = /^\/v1\/payments\/orders\/([^/]+)$/.exec(url.pathname);
    const cancel = /^\/v1\/payments\/([^/]+)\/cancel$/.exec(url.pathname);
    const orderId = charge
      ? typeof body?.orderId === 'string'
        ? body.orderId
        : null
      : lookup
        ? decodeURIComponent(lookup[1]!)
        : null;
    this.requests.push({ method, path: url.pathname, orderId, idempotencyKey });

    const auth = this.#authorized(req);
    if (auth) {
      this.#send(res, 401, auth);
      return;
    }
    if (method === 'GET' && lookup) {
      await this.#delay();
      const fault = this.#takeFault('lookup', orderId);
      if (fault && (await this.#applyFault(fault, res))) return;
      const payment = this.#payments.get(orderId!);
      if (!payment)
        this.#send(res, 404, { code: 'NOT_FOUND_PAYMENT', message: '존재하지 않는 결제 정보 입니다.' });
      else this.#send(res, 200, this.#public(payment));
      return;
    }
    if (method !== 'POST' || (!charge && !cancel)) {
      this.#send(res, 404, { code: 'NOT_FOUND', message: 'no such endpoint in the double' });
      return;
    }
    if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > 300)) {
      this.#send(res, 400, { code: 'INVALID_IDEMPOTENCY_KEY', message: '멱등키는 300자 이하여야 합니다.' });
      return;
    }
    // Dedup on (key, API key, URL, method); the body is not compared.
    const slot = idempotencyKey
      ? `${idempotencyKey}|${req.headers.authorization}|${url.pathname}|${method}`
      : undefined;
    if (slot) {
      const stored = this.#idempotency.get(slot);
      if (stored?.state === 'processing') {
        this.#send(res, 409, {
          code: 'IDEMPOTENT_REQUEST_PROCESSING',
          message: '이전 멱등 요청이 처리 중입니다.',
        });
        return;
      }
      if (stored?.state === 'done') {
        res.writeHead(stored.status, { 'Content-Type': 'application/json' });
        res.end(stored.body);
        return;
      }
      this.#idempotency.set(slot, { state: 'processing' });
    }
    let answer: Answer | 'faulted';
    try {
      await this.#delay();
      answer = charge
        ? await this.#charge(decodeURIComponent(charge[1]!), body, req, res)
        : this.#cancel(decodeURIComponent(cancel![1]!), body, res);
    } catch (error) {
      if (slot) this.#idempotency.delete(slot);
      throw error;
    }
    if (answer === 'faulted') {
      if (slot) this.#idempotency.delete(slot);
      return;
    }
    const text = JSON.stringify(answer.body);
    if (slot) {
      // A dropped charge did happen: a retry with the key replays its success.
      if (answer.store) this.#idempotency.set(slot, { state: 'done', status: answer.status, body: text });
      else this.#idempotency.delete(slot);
    }
    if (answer.drop) {
      res.socket?.destroy();
      return;
    }
    res.writeHead(answer.status, { 'Content-Type': 'application/json' });
    res.end(text);
  }

  async #delay(): Promise<void> {
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
  }

  /** Applies a fault that does not charge; true when the response is taken care of. */
  async #applyFault(fault: Fault, res: ServerResponse): Promise<boolean> {
    if (fault.kind === 'hang') {
      await new Promise<void>((resolve) => res.on('close', resolve));
      return true;
    }
    if (fault.kind === 'bare5xx') {
      res.writeHead(fault.status ?? 500);
      res.end();
      return true;
    }
    if (fault.kind === 'error') {
      const e = this.#error(fault.code ?? 'PROVIDER_ERROR', 'fault injected by the double', fault.status);
      this.#send(res, e.status, e.body);
      return true;
    }
    return false;
  }

  async #charge(
    billingKey: string,
    body: Record<string, unknown> | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<Answer | 'faulted'> {
    const reply = (code: string, message: string, status?: number) => {
      const e = this.#error(code, message, status);
      const cls = classifyTossCode(code);
      return { ...e, store: cls !== 'temporary' && e.status < 500 };
    };
    if (!body) return reply('INVALID_REQUEST', '잘못된 요청입니다.');
    const { customerKey, amount, orderId, orderName } = body;
    const testCode = req.headers['tosspayments-test-code'];
    if (typeof testCode === 'string' && testCode.length > 0) return reply(testCode, `test code ${testCode}`);
    const fault = this.#takeFault('charge', typeof orderId === 'string' ? orderId : null);
    if (fault && fault.kind !== 'drop' && fault.kind !== 'chargeThenHang') {
      await this.#applyFault(fault, res);
      return 'faulted';
    }
    if (typeof customerKey !== 'string' || !/^[A-Za-z0-9\-_=.,@]{2,300}$/.test(customerKey)) {
      return reply(
        'INVALID_REQUEST',
        'customerKey는 2자 이상 300자 이하의 영문 대소문자, 숫자, 특수문자(-, _, =, ., @)만 허용합니다.',
      );
    }
    if (typeof orderId !== 'string' || !ORDER_ID.test(orderId)) {
      return reply(
        'INVALID_ORDER_ID',
        'orderId는 6자 이상 64자 이하의 영문 대소문자, 숫자, -, _ 만 허용합니다.',
      );
    }
    if (typeof orderName !== 'string' || orderName.length === 0 || orderName.length > 100) {
      return reply('INVALID_REQUEST', 'orderName은 1자 이상 100자 이하여야 합니다.');
    }
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) {
      return reply('INVALID_REQUEST', 'amount는 양의 정수여야 합니다.');
    }
    if (amount < 100) return reply('BELOW_MINIMUM_AMOUNT', '카드 결제는 100원 이상부터 가능합니다.');
    const owner =
      this.#billingKeys.get(billingKey) ??
      (billingKey === testBillingKeyFor(customerKey) ? customerKey : undefined);
    if (owner === undefined) return reply('NOT_FOUND_BILLING', '존재하지 않는 빌링키입니다.');
    if (owner !== customerKey)
      return reply('NOT_MATCHES_CUSTOMER_KEY', '빌링키 발급 시 사용한 customerKey와 일치하지 않습니다.');
    if (this.#payments.has(orderId))
      return reply('DUPLICATED_ORDER_ID', '이미 승인 및 취소가 진행된 중복된 주문번호 입니다.');
    const cardCode = this.#cardCodes.get(billingKey);
    if (cardCode) return reply(cardCode, `the card answers ${cardCode}`);

    const now = new Date();
    const payment: StoredPayment = {
      paymentKey: `tpk_${randomUUID().replaceAll('-', '')}`,
      type: 'BILLING',
      orderId,
      orderName,
      mId: 'tvivarepublica',
      currency: 'KRW',
      method: '카드',
      totalAmount: amount,
      balanceAmount: amount,
      status: 'DONE',
      requestedAt: formatInstant(now),
      approvedAt: formatInstant(now),
      card: {
        issuerCode: '71',
        acquirerCode: '71',
        number: '43301234****123*',
        cardType: '신용',
        ownerType: '개인',
      },
      receipt: {
        url: `https://dashboard.tosspayments.com/receipt/redirection?transactionId=${orderId}&ref=double`,
      },
      cancels: null,
      failure: null,
      billingKey,
      customerKey,
    };
    this.#payments.set(orderId, payment);
    this.#byPaymentKey.set(payment.paymentKey, payment);
    this.ledger.push({ paymentKey: payment.paymentKey, orderId, billingKey, customerKey, amount, at: now });
    const random = this.#options.random ?? Math.random;
    // Charged; with `drop` the answer never arrives.
    const drop = fault?.kind === 'drop' || (this.dropRate > 0 && random() < this.dropRate);
    if (fault?.kind === 'chargeThenHang') {
      await new Promise<void>((resolve) => res.on('close', resolve));
    }
    return { status: 200, body: this.#public(payment), store: true, drop };
  }

  #cancel(
    paymentKey: string,
    body: Record<string, unknown> | undefined,
    res: ServerResponse,
  ): Answer | 'faulted' {
    const reply = (code: string, message: string) => ({ ...this.#error(code, message), store: true });
    const payment = this.#byPaymentKey.get(paymentKey);
    const fault = this.#takeFault('cancel', payment?.orderId ?? null);
    if (fault) {
      void this.#applyFault(fault, res);
      return 'faulted';
    }
    if (!payment)
      return { ...this.#error('NOT_FOUND_PAYMENT', '존재하지 않는 결제 정보 입니다.', 404), store: true };
    if (
      !body ||
      typeof body.cancelReason !== 'string' ||
      body.cancelReason.length === 0 ||
      body.cancelReason.length > 200
    ) {
      return reply('INVALID_REQUEST', 'cancelReason은 1자 이상 200자 이하여야 합니다.');
    }
    if (payment.balanceAmount === 0) return reply('ALREADY_CANCELED_PAYMENT', '이미 취소된 결제 입니다.');
    const amount = body.cancelAmount === undefined ? payment.balanceAmount : body.cancelAmount;
    if (
      typeof amount !== 'number' ||
      !Number.isInteger(amount) ||
      amount <= 0 ||
      amount > payment.balanceAmount
    ) {
      return reply('NOT_CANCELABLE_AMOUNT', '취소 할 수 없는 금액 입니다.');
    }
    const now = new Date();
    payment.balanceAmount -= amount;
    payment.status = payment.balanceAmount === 0 ? 'CANCELED' : 'PARTIAL_CANCELED';
    payment.cancels = [
      ...(payment.cancels ?? []),
      {
        cancelAmount: amount,
        cancelReason: body.cancelReason,
        canceledAt: formatInstant(now),
        transactionKey: randomUUID(),
      },
    ];
    this.cancels.push({ paymentKey, orderId: payment.orderId, amount, reason: body.cancelReason, at: now });
    return { status: 200, body: this.#public(payment), store: true };
  }

  #public(payment: StoredPayment): TossPayment {
    const { billingKey: _b, customerKey: _c, ...rest } = payment;
    return rest;
  }
}
