/**
 * Table-driven constraint tests: for every table one valid row that is accepted, for every CHECK,
 * UNIQUE (constraint or unique index) and FOREIGN KEY one write that violates it and is rejected
 * with the right SQLSTATE naming that very constraint, and for every NOT NULL column of the valid
 * row a NULL that is rejected. The last test reads the catalog and fails if a constraint was added
 * without a case here. Each case runs in its own transaction, rolled back afterwards, on top of a
 * committed set of fixture rows.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const CHECK = '23514';
const UNIQUE = '23505';
const FK = '23503';
const NOT_NULL = '23502';

type Row = Record<string, unknown>;

interface Case {
  /** The constraint (or unique index) the write must trip. */
  constraint: string;
  code: string;
  /** Columns replacing the valid row's; the insert is the valid row with these. */
  patch?: Row;
  /** Or a custom write, run inside the case's transaction on `client`. */
  run?: (client: pg.Client) => Promise<unknown>;
}

interface TableSpec {
  valid: Row;
  cases: Case[];
}

/** Fixture ids, fixed at load time so the specs below can name them. */
const F = {
  adminA: randomUUID(),
  adminB: randomUUID(),
  user1: randomUUID(),
  user2: randomUUID(),
  user3: randomUUID(),
  diary1: randomUUID(),
  diary2: randomUUID(),
  analysis1: randomUUID(),
  subscription1: randomUUID(),
  subscription2: randomUUID(),
  payment1: randomUUID(),
  event1: randomUUID(),
  announcement1: randomUUID(),
  inquiry1: randomUUID(),
  slipV1: randomUUID(),
  slipV2: randomUUID(),
  toneV1: randomUUID(),
};

const DIGEST1 = Buffer.alloc(32, 1);
const DIGEST3 = Buffer.alloc(32, 3);

/** A well-formed ciphertext header (version 1, key id "k001") followed by IV, tag and a body. */
const CIPHERTEXT = Buffer.concat([
  Buffer.from([1, 4]),
  Buffer.from('k001', 'ascii'),
  Buffer.alloc(12 + 16 + 8, 7),
]);
const missing = () => randomUUID();

const SPECS: Record<string, TableSpec> = {
  'admin.admins': {
    valid: { email: 'new.operator@sumda.test', role: 'operator', display_name: 'New', created_by: F.adminA },
    cases: [
      { constraint: 'admins_email_check', code: CHECK, patch: { email: 'not-an-email' } },
      { constraint: 'admins_role_check', code: CHECK, patch: { role: 'root' } },
      { constraint: 'admins_created_by_fkey', code: FK, patch: { created_by: missing() } },
      { constraint: 'admins_email_lower_key', code: UNIQUE, patch: { email: 'ADMIN.A@SUMDA.TEST' } },
      {
        // Two operators cannot share one database login (0019): the login names who acts.
        constraint: 'admins_db_login_key',
        code: UNIQUE,
        run: async (client) => {
          await insert(client, 'admin.admins', {
            email: 'first@sumda.test',
            role: 'operator',
            db_login: 'ops_kim',
          });
          await insert(client, 'admin.admins', {
            email: 'second@sumda.test',
            role: 'operator',
            db_login: 'ops_kim',
          });
        },
      },
    ],
  },
  'admin.operator_tokens': {
    // Only the SHA-256 of a token is stored (0020); a token lives at most 366 days.
    valid: {
      admin_id: F.adminA,
      token_hash: randomBytes(32),
      label: 'laptop',
      created_by: F.adminB,
      expires_at: new Date(Date.now() + 30 * 86_400_000),
    },
    cases: [
      { constraint: 'operator_tokens_admin_id_fkey', code: FK, patch: { admin_id: missing() } },
      { constraint: 'operator_tokens_created_by_fkey', code: FK, patch: { created_by: missing() } },
      {
        constraint: 'operator_tokens_revoked_by_fkey',
        code: FK,
        patch: { revoked_by: missing(), revoked_at: new Date() },
      },
      {
        constraint: 'operator_tokens_token_hash_check',
        code: CHECK,
        patch: { token_hash: Buffer.alloc(20, 1) },
      },
      { constraint: 'operator_tokens_label_check', code: CHECK, patch: { label: '' } },
      {
        constraint: 'operator_tokens_lifetime_check',
        code: CHECK,
        patch: { expires_at: new Date(Date.now() + 400 * 86_400_000) },
      },
      { constraint: 'operator_tokens_revoked_check', code: CHECK, patch: { revoked_by: F.adminA } },
      {
        constraint: 'operator_tokens_token_hash_key',
        code: UNIQUE,
        run: async (client) => {
          const hash = randomBytes(32);
          const row = { admin_id: F.adminA, token_hash: hash, expires_at: new Date(Date.now() + 86_400_000) };
          await insert(client, 'admin.operator_tokens', row);
          await insert(client, 'admin.operator_tokens', row);
        },
      },
    ],
  },
  'admin.audit_log': {
    valid: {
      actor_id: F.adminA,
      actor_email: 'admin.a@sumda.test',
      actor_role: 'admin',
      action: 'policy.activate',
      target_type: 'policy',
      target_id: 'slip:global',
      before: '{"version":"v1.0.0"}',
      after: '{"version":"v1.1.0"}',
      reason: 'test',
      request_id: randomUUID(),
      command: 'sumda policy activate slip v1.1.0',
    },
    cases: [
      { constraint: 'audit_log_action_check', code: CHECK, patch: { action: 'Activate' } },
      { constraint: 'audit_log_outcome_check', code: CHECK, patch: { outcome: 'maybe' } },
      { constraint: 'audit_log_actor_id_fkey', code: FK, patch: { actor_id: missing() } },
      { constraint: 'audit_log_actor_identity_check', code: CHECK, patch: { actor_identity: 'claimed' } },
      { constraint: 'audit_log_mac_check', code: CHECK, patch: { mac_key_id: 'k1' } },
      {
        // A REPEATABLE READ snapshot taken before another writer committed computes a chain_seq that
        // is already taken: the UNIQUE refuses it instead of forking the chain.
        constraint: 'audit_log_chain_seq_key',
        code: UNIQUE,
        run: async (client) => {
          await client.query('rollback');
          await client.query('begin isolation level repeatable read');
          await client.query('select 1');
          await withOtherClient((other) =>
            insert(other, 'admin.audit_log', { action: 'test.concurrent_write' }),
          );
          await insert(client, 'admin.audit_log', { action: 'test.stale_snapshot' });
        },
      },
    ],
  },
  'public.users': {
    valid: { email: 'someone@example.com', password_hash: 'x', nickname: '새 사용자', profile_image: null },
    cases: [
      { constraint: 'users_state_check', code: CHECK, patch: { state: 'deleted' } },
      { constraint: 'users_email_lower_key', code: UNIQUE, patch: { email: 'User1@Example.COM' } },
    ],
  },
  'public.diary_entries': {
    valid: { user_id: F.user1, title: '오늘', content_enc: CIPHERTEXT },
    cases: [
      { constraint: 'diary_entries_user_id_fkey', code: FK, patch: { user_id: missing() } },
      {
        constraint: 'diary_entries_content_enc_check',
        code: CHECK,
        patch: { content_enc: Buffer.concat([Buffer.from([2]), CIPHERTEXT.subarray(1)]) },
      },
      {
        constraint: 'diary_entries_moderation_state_check',
        code: CHECK,
        patch: { moderation_state: 'hidden' },
      },
      {
        constraint: 'diary_entries_flag_reason_check',
        code: CHECK,
        patch: { flag_reason: 'why', flagged_at: null },
      },
    ],
  },
  'public.analysis_results': {
    valid: {
      diary_id: F.diary1,
      user_id: F.user1,
      summary: '요약',
      emotion_flow: '[{"phase":"아침","emotion":"calm","intensity":0.3,"note":"."}]',
      reflection_question: '?',
      interpretation: '.',
      keywords: ['산책', '커피'],
      metadata: '{"tier_a":1.2}',
      prompt_name: 'analysis.daily',
      prompt_version: 'v2',
    },
    cases: [
      // user_id is enforced through (diary_id, user_id) -> diary_entries, whose user_id -> users.
      { constraint: 'analysis_results_diary_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'analysis_results_diary_fkey', code: FK, patch: { diary_id: F.diary2 } },
      { constraint: 'analysis_results_emotion_flow_check', code: CHECK, patch: { emotion_flow: '{"a":1}' } },
      { constraint: 'analysis_results_metadata_check', code: CHECK, patch: { metadata: '[1]' } },
      { constraint: 'analysis_results_diary_prompt_key', code: UNIQUE, patch: { prompt_version: 'v1' } },
    ],
  },
  'public.reports': {
    valid: {
      user_id: F.user1,
      period_type: 'monthly',
      period_start: '2026-02-01',
      period_end: '2026-03-01',
      summary: '{"entries":3}',
    },
    cases: [
      { constraint: 'reports_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'reports_period_type_check', code: CHECK, patch: { period_type: 'hourly' } },
      { constraint: 'reports_summary_check', code: CHECK, patch: { summary: '"text"' } },
      {
        constraint: 'reports_period_check',
        code: CHECK,
        patch: { period_type: 'daily', period_start: '2026-02-02', period_end: '2026-02-02' },
      },
      {
        // An ISO week starts on Monday; 2026-02-03 is a Tuesday.
        constraint: 'reports_period_shape_check',
        code: CHECK,
        patch: { period_type: 'weekly', period_start: '2026-02-03', period_end: '2026-02-10' },
      },
      {
        constraint: 'reports_user_period_key',
        code: UNIQUE,
        patch: { period_type: 'daily', period_start: '2026-01-01', period_end: '2026-01-02' },
      },
    ],
  },
  'admin.user_status_logs': {
    valid: {
      user_id: F.user1,
      old_state: 'active',
      new_state: 'banned',
      changed_by: F.adminA,
      reason: 'abuse',
    },
    cases: [
      { constraint: 'user_status_logs_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'user_status_logs_old_state_check', code: CHECK, patch: { old_state: 'gone' } },
      { constraint: 'user_status_logs_new_state_check', code: CHECK, patch: { new_state: 'gone' } },
      { constraint: 'user_status_logs_changed_by_fkey', code: FK, patch: { changed_by: missing() } },
      { constraint: 'user_status_logs_change_check', code: CHECK, patch: { new_state: 'active' } },
    ],
  },
  'admin.content_moderation_logs': {
    valid: { diary_id: F.diary1, action: 'block', reason: 'policy', admin_id: F.adminA },
    cases: [
      { constraint: 'content_moderation_logs_diary_id_fkey', code: FK, patch: { diary_id: missing() } },
      { constraint: 'content_moderation_logs_action_check', code: CHECK, patch: { action: 'hide' } },
      { constraint: 'content_moderation_logs_admin_id_fkey', code: FK, patch: { admin_id: missing() } },
    ],
  },
  'public.plans': {
    valid: {
      code: 'yearly',
      name: '연간',
      price: 99000,
      billing_interval: 'year',
      trial_days: 7,
      features: '{}',
    },
    cases: [
      { constraint: 'plans_code_key', code: UNIQUE, patch: { code: 'basic' } },
      { constraint: 'plans_code_check', code: CHECK, patch: { code: 'Yearly Plan' } },
      { constraint: 'plans_price_check', code: CHECK, patch: { price: -1 } },
      { constraint: 'plans_currency_check', code: CHECK, patch: { currency: 'krw' } },
      { constraint: 'plans_billing_interval_check', code: CHECK, patch: { billing_interval: 'week' } },
      { constraint: 'plans_trial_days_check', code: CHECK, patch: { trial_days: -1 } },
      { constraint: 'plans_features_check', code: CHECK, patch: { features: '[]' } },
    ],
  },
  'public.subscriptions': {
    valid: {
      user_id: F.user3,
      plan: 'basic',
      status: 'trial',
      customer_key: 'ck-3',
      billing_key_enc: CIPHERTEXT,
      billing_key_digest: DIGEST3,
      billing_key_hint: 'bk-3',
      next_billing_at: '2026-03-01T00:00:00+09:00',
      trial_end: '2026-03-01T00:00:00+09:00',
    },
    cases: [
      {
        constraint: 'subscriptions_user_id_key',
        code: UNIQUE,
        patch: { user_id: F.user1, billing_key_enc: null, billing_key_digest: null },
      },
      { constraint: 'subscriptions_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'subscriptions_plan_fkey', code: FK, patch: { plan: 'platinum' } },
      { constraint: 'subscriptions_status_check', code: CHECK, patch: { status: 'paused' } },
      { constraint: 'subscriptions_provider_check', code: CHECK, patch: { provider: 'stripe' } },
      { constraint: 'subscriptions_quantity_check', code: CHECK, patch: { quantity: 0 } },
      { constraint: 'subscriptions_price_override_check', code: CHECK, patch: { price_override: -1 } },
      { constraint: 'subscriptions_currency_check', code: CHECK, patch: { currency: 'WON!' } },
      {
        constraint: 'subscriptions_dates_check',
        code: CHECK,
        patch: { start_date: '2026-02-01T00:00:00Z', end_date: '2026-01-01T00:00:00Z' },
      },
      {
        constraint: 'subscriptions_billing_key_digest_key',
        code: UNIQUE,
        patch: { billing_key_digest: DIGEST1 },
      },
      { constraint: 'subscriptions_billing_key_check', code: CHECK, patch: { billing_key_enc: null } },
      {
        constraint: 'subscriptions_billing_key_check',
        code: CHECK,
        patch: { billing_key_digest: Buffer.alloc(8) },
      },
      { constraint: 'subscriptions_billing_cycle_check', code: CHECK, patch: { billing_cycle: -1 } },
      { constraint: 'subscriptions_dunning_attempt_check', code: CHECK, patch: { dunning_attempt: -1 } },
      { constraint: 'subscriptions_pending_plan_fkey', code: FK, patch: { pending_plan: 'platinum' } },
      { constraint: 'subscriptions_past_due_check', code: CHECK, patch: { status: 'past_due' } },
    ],
  },
  'public.payments': {
    valid: {
      user_id: F.user1,
      subscription_id: F.subscription1,
      amount: 9900,
      method: 'card',
      provider_tx_id: 'tx-new',
      order_id: 'order-new',
      status: 'approved',
      approved_at: '2026-02-01T00:00:00Z',
      method_detail: '{"card":"****"}',
    },
    cases: [
      { constraint: 'payments_user_id_fkey', code: FK, patch: { user_id: missing(), subscription_id: null } },
      // user2 paying through user1's subscription.
      { constraint: 'payments_subscription_fkey', code: FK, patch: { user_id: F.user2 } },
      { constraint: 'payments_amount_check', code: CHECK, patch: { amount: -1 } },
      { constraint: 'payments_currency_check', code: CHECK, patch: { currency: 'usd' } },
      { constraint: 'payments_provider_check', code: CHECK, patch: { provider: 'paypal' } },
      { constraint: 'payments_provider_tx_id_key', code: UNIQUE, patch: { provider_tx_id: 'tx-1' } },
      { constraint: 'payments_order_id_key', code: UNIQUE, patch: { order_id: 'order-1' } },
      { constraint: 'payments_status_check', code: CHECK, patch: { status: 'done' } },
      { constraint: 'payments_refunded_amount_check', code: CHECK, patch: { refunded_amount: 10000 } },
      { constraint: 'payments_refunded_amount_check', code: CHECK, patch: { refunded_amount: -1 } },
      {
        constraint: 'payments_refund_status_check',
        code: CHECK,
        patch: { status: 'refunded', refunded_amount: 100 },
      },
      {
        constraint: 'payments_refund_status_check',
        code: CHECK,
        patch: { status: 'partially_refunded', refunded_amount: 9900 },
      },
      { constraint: 'payments_kind_check', code: CHECK, patch: { kind: 'gift' } },
      { constraint: 'payments_attempt_check', code: CHECK, patch: { attempt: 0 } },
      { constraint: 'payments_renewal_shape_check', code: CHECK, patch: { kind: 'renewal' } },
      {
        constraint: 'payments_detached_check',
        code: CHECK,
        patch: { detached_at: '2026-02-01T00:00:00Z' },
      },
      {
        constraint: 'payments_one_charge_per_period_key',
        code: UNIQUE,
        patch: { kind: 'renewal', period_start: '2026-01-01T00:00:00+09:00', attempt: 2 },
      },
      {
        constraint: 'payments_one_open_attempt_key',
        code: UNIQUE,
        patch: { kind: 'renewal', period_start: '2026-02-01T00:00:00+09:00', attempt: 2, status: 'pending' },
      },
      {
        constraint: 'payments_renewal_attempt_key',
        code: UNIQUE,
        patch: { kind: 'renewal', period_start: '2026-03-01T00:00:00+09:00', attempt: 1, status: 'failed' },
      },
    ],
  },
  'public.payment_attempts': {
    valid: { payment_id: F.payment1, operation: 'charge', outcome: 'approved', code: null, http_status: 200 },
    cases: [
      { constraint: 'payment_attempts_payment_id_fkey', code: FK, patch: { payment_id: missing() } },
      { constraint: 'payment_attempts_operation_check', code: CHECK, patch: { operation: 'void' } },
      { constraint: 'payment_attempts_outcome_check', code: CHECK, patch: { outcome: 'maybe' } },
    ],
  },
  'public.subscription_history': {
    valid: { subscription_id: F.subscription1, event: 'renewed', from_status: 'active', to_status: 'active' },
    cases: [
      {
        constraint: 'subscription_history_subscription_id_fkey',
        code: FK,
        patch: { subscription_id: missing() },
      },
      { constraint: 'subscription_history_event_check', code: CHECK, patch: { event: 'exploded' } },
      { constraint: 'subscription_history_payment_id_fkey', code: FK, patch: { payment_id: missing() } },
      { constraint: 'subscription_history_actor_id_fkey', code: FK, patch: { actor_id: missing() } },
    ],
  },
  'public.billing_consents': {
    valid: {
      subscription_id: F.subscription1,
      user_id: F.user1,
      kind: 'price_increase',
      plan: 'basic',
      amount: 12900,
      consented_at: '2026-02-01T00:00:00Z',
    },
    cases: [
      {
        constraint: 'billing_consents_subscription_id_fkey',
        code: FK,
        patch: { subscription_id: missing() },
      },
      { constraint: 'billing_consents_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'billing_consents_kind_check', code: CHECK, patch: { kind: 'vibes' } },
      { constraint: 'billing_consents_amount_check', code: CHECK, patch: { amount: -1 } },
      { constraint: 'billing_consents_currency_check', code: CHECK, patch: { currency: 'won' } },
      { constraint: 'billing_consents_channel_check', code: CHECK, patch: { channel: 'fax' } },
      { constraint: 'billing_consents_recorded_by_fkey', code: FK, patch: { recorded_by: missing() } },
    ],
  },
  'public.payment_refunds': {
    valid: { payment_id: F.payment1, idempotency_key: 'refund-new', amount: 100, reason: '환불' },
    cases: [
      { constraint: 'payment_refunds_payment_id_fkey', code: FK, patch: { payment_id: missing() } },
      {
        constraint: 'payment_refunds_idempotency_key_key',
        code: UNIQUE,
        patch: { idempotency_key: 'refund-1' },
      },
      { constraint: 'payment_refunds_amount_check', code: CHECK, patch: { amount: 0 } },
      { constraint: 'payment_refunds_reason_check', code: CHECK, patch: { reason: '' } },
      { constraint: 'payment_refunds_status_check', code: CHECK, patch: { status: 'maybe' } },
      { constraint: 'payment_refunds_requested_by_fkey', code: FK, patch: { requested_by: missing() } },
    ],
  },
  'public.notifications': {
    valid: {
      user_id: F.user1,
      type: 'event',
      title: '출석 이벤트',
      message: '10P 지급',
      read: true,
      read_at: '2026-02-01T00:00:00Z',
      visible_from: '2026-01-01T00:00:00Z',
      visible_to: '2026-03-01T00:00:00Z',
      announcement_id: F.announcement1,
      event_id: F.event1,
      dedupe_key: 'event:reward:new',
    },
    cases: [
      { constraint: 'notifications_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'notifications_type_check', code: CHECK, patch: { type: 'marketing' } },
      { constraint: 'notifications_announcement_id_fkey', code: FK, patch: { announcement_id: missing() } },
      { constraint: 'notifications_event_id_fkey', code: FK, patch: { event_id: missing() } },
      {
        constraint: 'notifications_window_check',
        code: CHECK,
        patch: { visible_to: '2025-12-31T00:00:00Z' },
      },
      { constraint: 'notifications_read_at_check', code: CHECK, patch: { read: false } },
      { constraint: 'notifications_user_id_dedupe_key_key', code: UNIQUE, patch: { dedupe_key: 'dedupe-1' } },
    ],
  },
  'public.event_attendance': {
    valid: { user_id: F.user1, event_id: F.event1, date: '2026-01-02', streak: 2, reward_code: 'R2' },
    cases: [
      { constraint: 'event_attendance_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'event_attendance_event_id_fkey', code: FK, patch: { event_id: missing() } },
      { constraint: 'event_attendance_streak_check', code: CHECK, patch: { streak: 0 } },
      { constraint: 'event_attendance_user_event_date_key', code: UNIQUE, patch: { date: '2026-01-01' } },
    ],
  },
  'public.user_points_ledger': {
    valid: { user_id: F.user1, delta: 10, reason: 'attendance', ref_type: 'attendance', ref_id: 'att-2' },
    cases: [
      { constraint: 'user_points_ledger_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'user_points_ledger_delta_check', code: CHECK, patch: { delta: 0 } },
      { constraint: 'user_points_ledger_reason_check', code: CHECK, patch: { reason: 'gift' } },
      { constraint: 'user_points_ledger_ref_type_check', code: CHECK, patch: { ref_type: 'coupon' } },
      { constraint: 'user_points_ledger_ref_check', code: CHECK, patch: { ref_id: null } },
      {
        constraint: 'user_points_ledger_expiry_check',
        code: CHECK,
        patch: { reason: 'expiry', ref_type: null, ref_id: null },
      },
      // The fixture user has 100 points.
      { constraint: 'user_points_ledger_balance_after_check', code: CHECK, patch: { delta: -101 } },
      {
        constraint: 'user_points_ledger_ref_key',
        code: UNIQUE,
        patch: { reason: 'event', ref_type: 'event', ref_id: 'e-1' },
      },
    ],
  },
  'public.announcements': {
    valid: {
      title: '업데이트',
      body: '# 새 기능',
      tags: ['update'],
      published_at: '2026-01-01T00:00:00Z',
      expires_at: '2026-02-01T00:00:00Z',
    },
    cases: [
      {
        constraint: 'announcements_window_check',
        code: CHECK,
        patch: { expires_at: '2026-01-01T00:00:00Z' },
      },
      { constraint: 'announcements_segment_check', code: CHECK, patch: { segment: 'vip' } },
    ],
  },
  'public.support_faq': {
    valid: { category: 'payment', question: '환불은?', answer: '고객센터로 문의하세요', order_no: 1 },
    cases: [],
  },
  'admin.events': {
    valid: { title: '2월 출석', description: null, start_date: '2026-02-01', end_date: '2026-03-01' },
    cases: [{ constraint: 'events_dates_check', code: CHECK, patch: { end_date: '2026-02-01' } }],
  },
  'admin.event_rewards': {
    valid: { event_id: F.event1, streak_days: 7, points: 100 },
    cases: [
      { constraint: 'event_rewards_event_id_fkey', code: FK, patch: { event_id: missing() } },
      { constraint: 'event_rewards_streak_days_check', code: CHECK, patch: { streak_days: 0 } },
      { constraint: 'event_rewards_points_check', code: CHECK, patch: { points: 0 } },
    ],
  },
  'admin.api_logs': {
    valid: { user_id: F.user1, method: 'POST', endpoint: '/v1/diaries', status_code: 201, latency_ms: 42 },
    cases: [
      { constraint: 'api_logs_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'api_logs_method_check', code: CHECK, patch: { method: 'post' } },
      { constraint: 'api_logs_status_code_check', code: CHECK, patch: { status_code: 600 } },
      { constraint: 'api_logs_latency_ms_check', code: CHECK, patch: { latency_ms: -1 } },
    ],
  },
  'admin.error_logs': {
    valid: {
      severity: 'error',
      service: 'payment',
      ref_id: randomUUID(),
      message: 'toss timeout',
      stack: 'Error: ...',
      context: '{"attempt":2}',
    },
    cases: [
      { constraint: 'error_logs_severity_check', code: CHECK, patch: { severity: 'critical' } },
      { constraint: 'error_logs_service_check', code: CHECK, patch: { service: 'mailer' } },
      { constraint: 'error_logs_context_check', code: CHECK, patch: { context: 'null' } },
    ],
  },
  'admin.support_inquiries': {
    valid: { user_id: F.user1, category: 'bug', message: '앱이 멈춰요', status: 'open' },
    cases: [
      { constraint: 'support_inquiries_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'support_inquiries_category_check', code: CHECK, patch: { category: 'praise' } },
      { constraint: 'support_inquiries_status_check', code: CHECK, patch: { status: 'resolved' } },
      { constraint: 'support_inquiries_assignee_id_fkey', code: FK, patch: { assignee_id: missing() } },
      { constraint: 'support_inquiries_closed_at_check', code: CHECK, patch: { status: 'closed' } },
      {
        constraint: 'support_inquiries_closed_after_check',
        code: CHECK,
        patch: { status: 'closed', closed_at: '2000-01-01T00:00:00Z' },
      },
      {
        constraint: 'support_inquiries_first_response_after_check',
        code: CHECK,
        patch: { first_response_at: '2000-01-01T00:00:00Z' },
      },
    ],
  },
  'admin.support_responses': {
    valid: { inquiry_id: F.inquiry1, admin_id: F.adminA, response: '확인했습니다' },
    cases: [
      { constraint: 'support_responses_inquiry_id_fkey', code: FK, patch: { inquiry_id: missing() } },
      { constraint: 'support_responses_admin_id_fkey', code: FK, patch: { admin_id: missing() } },
    ],
  },
  'admin.login_logs': {
    valid: { user_id: F.user1, ip: '203.0.113.7', device: 'iPhone 15', ua: 'Sumda/1.0', success: true },
    cases: [
      { constraint: 'login_logs_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'login_logs_country_check', code: CHECK, patch: { country: 'kr' } },
    ],
  },
  'admin.slip_conditions': {
    valid: {
      user_id: F.user2,
      analysis_id: F.analysis1,
      metrics: '{"tier_a":3.9,"tier_m":3.1}',
      status: 'slipped',
      source: 'auto',
      duration: '24 hours',
      triggered_at: '2026-01-01T00:00:00Z',
      released_at: null,
    },
    cases: [
      { constraint: 'slip_conditions_user_id_fkey', code: FK, patch: { user_id: missing() } },
      { constraint: 'slip_conditions_analysis_id_fkey', code: FK, patch: { analysis_id: missing() } },
      { constraint: 'slip_conditions_metrics_check', code: CHECK, patch: { metrics: '[]' } },
      { constraint: 'slip_conditions_status_check', code: CHECK, patch: { status: 'paused' } },
      { constraint: 'slip_conditions_source_check', code: CHECK, patch: { source: 'user' } },
      { constraint: 'slip_conditions_duration_check', code: CHECK, patch: { duration: '-1 hour' } },
      {
        constraint: 'slip_conditions_released_at_check',
        code: CHECK,
        patch: { released_at: '2025-12-31T00:00:00Z' },
      },
      { constraint: 'slip_conditions_release_reason_check', code: CHECK, patch: { release_reason: 'calm' } },
      {
        constraint: 'slip_conditions_override_by_fkey',
        code: FK,
        patch: { override_by: missing(), override_reason: 'r' },
      },
      { constraint: 'slip_conditions_override_check', code: CHECK, patch: { override_by: F.adminA } },
      {
        constraint: 'slip_conditions_released_by_fkey',
        code: FK,
        patch: { released_by: missing(), released_at: '2026-01-02T00:00:00Z', release_reason: 'operator' },
      },
      { constraint: 'slip_conditions_released_by_check', code: CHECK, patch: { released_by: F.adminA } },
      {
        constraint: 'slip_conditions_reviewed_by_fkey',
        code: FK,
        patch: { reviewed_by: missing(), reviewed_at: '2026-01-02T00:00:00Z', review_outcome: 'confirmed' },
      },
      {
        constraint: 'slip_conditions_review_outcome_check',
        code: CHECK,
        patch: { reviewed_by: F.adminA, reviewed_at: '2026-01-02T00:00:00Z', review_outcome: 'maybe' },
      },
      {
        constraint: 'slip_conditions_review_check',
        code: CHECK,
        patch: { reviewed_at: '2026-01-02T00:00:00Z' },
      },
      // user1 already has an open slip.
      { constraint: 'slip_conditions_one_open_key', code: UNIQUE, patch: { user_id: F.user1 } },
    ],
  },
  'admin.ai_policy_versions': {
    valid: {
      policy_name: 'slip',
      version: 'v2.0.0',
      scope: 'user:abc_123',
      config: '{"threshold":3.5}',
      content_hash: 'h',
      notes: null,
      created_by: F.adminA,
    },
    cases: [
      { constraint: 'ai_policy_versions_policy_name_check', code: CHECK, patch: { policy_name: 'music' } },
      { constraint: 'ai_policy_versions_version_check', code: CHECK, patch: { version: '2.0' } },
      { constraint: 'ai_policy_versions_scope_check', code: CHECK, patch: { scope: 'team:x' } },
      { constraint: 'ai_policy_versions_config_check', code: CHECK, patch: { config: '[]' } },
      { constraint: 'ai_policy_versions_created_by_fkey', code: FK, patch: { created_by: missing() } },
      {
        constraint: 'ai_policy_versions_name_scope_version_key',
        code: UNIQUE,
        patch: { scope: 'global', version: 'v1.0.0' },
      },
    ],
  },
  'admin.ai_policy_active': {
    valid: {
      policy_name: 'tone',
      scope: 'global',
      version_id: F.toneV1,
      activated_by: F.adminA,
      reason: 'launch',
    },
    cases: [
      { constraint: 'ai_policy_active_policy_name_check', code: CHECK, patch: { policy_name: 'music' } },
      { constraint: 'ai_policy_active_scope_check', code: CHECK, patch: { scope: 'user:' } },
      // The tone pointer naming a slip version.
      { constraint: 'ai_policy_active_version_fkey', code: FK, patch: { version_id: F.slipV1 } },
      {
        constraint: 'ai_policy_active_previous_version_fkey',
        code: FK,
        patch: { previous_version_id: F.slipV1 },
      },
      {
        constraint: 'ai_policy_active_previous_check',
        code: CHECK,
        patch: { previous_version_id: F.toneV1 },
      },
      { constraint: 'ai_policy_active_activated_by_fkey', code: FK, patch: { activated_by: missing() } },
      {
        constraint: 'ai_policy_active_policy_scope_key',
        code: UNIQUE,
        patch: { policy_name: 'slip', version_id: F.slipV2 },
      },
    ],
  },
  'admin.ai_overrides': {
    valid: {
      target: 'tenant:acme',
      key: 'slip.duration',
      value: '"12 hours"',
      reason: 'hotfix',
      rollout_percent: 25,
      expires_at: '2099-01-01T00:00:00Z',
      created_by: F.adminA,
    },
    cases: [
      { constraint: 'ai_overrides_target_check', code: CHECK, patch: { target: 'everyone' } },
      { constraint: 'ai_overrides_key_check', code: CHECK, patch: { key: 'Slip.duration' } },
      { constraint: 'ai_overrides_rollout_percent_check', code: CHECK, patch: { rollout_percent: 101 } },
      { constraint: 'ai_overrides_created_by_fkey', code: FK, patch: { created_by: missing() } },
    ],
  },
  'admin.prompt_registry': {
    valid: {
      name: 'analysis.daily',
      model: 'gpt-4o-mini',
      version: 'v2',
      template: '{{entry}}',
      metadata: '{"max_tokens":800}',
      content_hash: 'h2',
      created_by: F.adminA,
    },
    cases: [
      { constraint: 'prompt_registry_name_check', code: CHECK, patch: { name: 'Daily Analysis' } },
      { constraint: 'prompt_registry_metadata_check', code: CHECK, patch: { metadata: '1' } },
      { constraint: 'prompt_registry_created_by_fkey', code: FK, patch: { created_by: missing() } },
      { constraint: 'prompt_registry_name_version_key', code: UNIQUE, patch: { version: 'v1' } },
    ],
  },
};

/**
 * Unique constraints that contain the primary key: they exist only as targets of composite foreign
 * keys, and no write can violate them without violating the primary key first.
 */
const IMPLIED_BY_PRIMARY_KEY = [
  'diary_entries_id_user_id_key',
  'subscriptions_id_user_id_key',
  'ai_policy_versions_id_name_scope_key',
];

const database = useTestDatabase();
let client: pg.Client;
const tripped = new Set<string>();
const notNullColumns = new Map<string, Set<string>>();

async function insert(on: pg.Client, table: string, row: Row): Promise<Row> {
  const columns = Object.keys(row);
  const text = `insert into ${table} (${columns.map((c) => `"${c}"`).join(', ')})
    values (${columns.map((_, i) => `$${i + 1}`).join(', ')}) returning *`;
  const result = await on.query(text, Object.values(row));
  return result.rows[0] as Row;
}

async function withOtherClient<T>(fn: (other: pg.Client) => Promise<T>): Promise<T> {
  const other = new pg.Client({ connectionString: database.url });
  await other.connect();
  try {
    return await fn(other);
  } finally {
    await other.end();
  }
}

/** Runs `fn` in a transaction that is always rolled back; returns the error it raised, if any. */
async function attempt(
  fn: () => Promise<unknown>,
): Promise<(Error & { code?: string; constraint?: string; column?: string }) | undefined> {
  await client.query('begin');
  try {
    await fn();
    return undefined;
  } catch (error) {
    return error as Error;
  } finally {
    await client.query('rollback');
  }
}

beforeAll(async () => {
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const columns = await client.query<{ t: string; column_name: string }>(
    `select table_schema || '.' || table_name as t, column_name from information_schema.columns
     where table_schema in ('public', 'admin') and is_nullable = 'NO'`,
  );
  for (const { t, column_name } of columns.rows) {
    notNullColumns.set(t, (notNullColumns.get(t) ?? new Set()).add(column_name));
  }

  // Fixtures, committed: the parents of every valid row and the originals the UNIQUE cases duplicate.
  const c = client;
  await insert(c, 'admin.admins', { id: F.adminA, email: 'admin.a@sumda.test', role: 'admin' });
  await insert(c, 'admin.admins', { id: F.adminB, email: 'admin.b@sumda.test', created_by: F.adminA });
  await insert(c, 'public.users', { id: F.user1, email: 'user1@example.com', nickname: '하나' });
  await insert(c, 'public.users', { id: F.user2, email: 'user2@example.com', nickname: '둘' });
  await insert(c, 'public.users', { id: F.user3, email: null, nickname: '셋' });
  await insert(c, 'public.diary_entries', { id: F.diary1, user_id: F.user1, content_enc: CIPHERTEXT });
  await insert(c, 'public.diary_entries', { id: F.diary2, user_id: F.user2, content_enc: CIPHERTEXT });
  await insert(c, 'public.analysis_results', {
    ...SPECS['public.analysis_results']!.valid,
    id: F.analysis1,
    prompt_version: 'v1',
  });
  await insert(c, 'public.reports', {
    user_id: F.user1,
    period_type: 'daily',
    period_start: '2026-01-01',
    period_end: '2026-01-02',
    summary: '{}',
  });
  await insert(c, 'public.plans', { code: 'basic', name: '베이직', price: 9900, billing_interval: 'month' });
  await insert(c, 'public.subscriptions', {
    id: F.subscription1,
    user_id: F.user1,
    plan: 'basic',
    billing_key_enc: CIPHERTEXT,
    billing_key_digest: DIGEST1,
  });
  await insert(c, 'public.subscriptions', { id: F.subscription2, user_id: F.user2, plan: 'basic' });
  await insert(c, 'public.payments', {
    id: F.payment1,
    user_id: F.user1,
    subscription_id: F.subscription1,
    amount: 9900,
    provider_tx_id: 'tx-1',
    order_id: 'order-1',
    status: 'approved',
    kind: 'renewal',
    period_start: '2026-01-01T00:00:00+09:00',
    attempt: 1,
  });
  await insert(c, 'public.payments', {
    user_id: F.user1,
    subscription_id: F.subscription1,
    amount: 9900,
    order_id: 'order-2',
    status: 'pending',
    kind: 'renewal',
    period_start: '2026-02-01T00:00:00+09:00',
    attempt: 1,
  });
  await insert(c, 'public.payments', {
    user_id: F.user1,
    subscription_id: F.subscription1,
    amount: 9900,
    order_id: 'order-3',
    status: 'failed',
    kind: 'renewal',
    period_start: '2026-03-01T00:00:00+09:00',
    attempt: 1,
  });
  await insert(c, 'public.payment_refunds', {
    payment_id: F.payment1,
    idempotency_key: 'refund-1',
    reason: '환불',
  });
  await insert(c, 'admin.events', { id: F.event1, title: '1월 출석', start_date: '2026-01-01' });
  await insert(c, 'public.announcements', { id: F.announcement1, title: '공지', body: '본문' });
  await insert(c, 'public.notifications', {
    user_id: F.user1,
    type: 'notice',
    title: 't',
    message: 'm',
    dedupe_key: 'dedupe-1',
  });
  await insert(c, 'public.event_attendance', {
    user_id: F.user1,
    event_id: F.event1,
    date: '2026-01-01',
    streak: 1,
  });
  await insert(c, 'public.user_points_ledger', {
    user_id: F.user1,
    delta: 100,
    reason: 'event',
    ref_type: 'event',
    ref_id: 'e-1',
  });
  await insert(c, 'admin.support_inquiries', { id: F.inquiry1, category: 'other', message: '?' });
  await insert(c, 'admin.slip_conditions', { user_id: F.user1, metrics: '{}', status: 'warning' });
  const version = { scope: 'global', config: '{}', content_hash: 'h', created_by: F.adminA };
  await insert(c, 'admin.ai_policy_versions', {
    ...version,
    id: F.slipV1,
    policy_name: 'slip',
    version: 'v1.0.0',
  });
  await insert(c, 'admin.ai_policy_versions', {
    ...version,
    id: F.slipV2,
    policy_name: 'slip',
    version: 'v1.1.0',
  });
  await insert(c, 'admin.ai_policy_versions', {
    ...version,
    id: F.toneV1,
    policy_name: 'tone',
    version: 'v1.0.0',
  });
  await insert(c, 'admin.ai_policy_active', {
    policy_name: 'slip',
    version_id: F.slipV1,
    activated_by: F.adminA,
  });
  await insert(c, 'admin.prompt_registry', {
    ...SPECS['admin.prompt_registry']!.valid,
    version: 'v1',
    content_hash: 'h1',
  });
});

afterAll(async () => {
  await client?.end();
});

for (const [table, spec] of Object.entries(SPECS)) {
  describe(table, () => {
    it('accepts a valid row', async () => {
      let inserted: Row | undefined;
      const error = await attempt(async () => {
        inserted = await insert(client, table, spec.valid);
      });
      expect(error).toBeUndefined();
      for (const [column, value] of Object.entries(spec.valid)) {
        if (value !== null && typeof value !== 'object') expect(inserted?.[column], column).toBeDefined();
      }
    });

    for (const c of spec.cases) {
      const what = c.patch ? JSON.stringify(c.patch) : 'custom write';
      it(`rejects ${what} with ${c.code} (${c.constraint})`, async () => {
        const error = await attempt(() =>
          c.run ? c.run(client) : insert(client, table, { ...spec.valid, ...c.patch }),
        );
        expect(error, 'the write was accepted').toBeDefined();
        expect({ code: error?.code, constraint: error?.constraint }).toEqual({
          code: c.code,
          constraint: c.constraint,
        });
        tripped.add(c.constraint);
      });
    }

    it('rejects NULL in every NOT NULL column of the valid row with 23502', async () => {
      const required = Object.keys(spec.valid).filter((column) => notNullColumns.get(table)?.has(column));
      expect(required.length).toBeGreaterThan(0);
      for (const column of required) {
        const error = await attempt(() => insert(client, table, { ...spec.valid, [column]: null }));
        expect({ column, code: error?.code, errorColumn: error?.column }).toEqual({
          column,
          code: NOT_NULL,
          errorColumn: column,
        });
      }
    });
  });
}

it('every CHECK, UNIQUE and FOREIGN KEY in the schema has a case above', async () => {
  const constraints = await client.query<{ name: string }>(
    `select con.conname as name from pg_constraint con
       join pg_class r on r.oid = con.conrelid join pg_namespace n on n.oid = r.relnamespace
      where n.nspname in ('public', 'admin') and con.contype in ('c', 'u', 'f')
     union
     select i.relname from pg_index x
       join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
      where n.nspname in ('public', 'admin') and x.indisunique and not x.indisprimary
        and not exists (select 1 from pg_constraint con where con.conindid = x.indexrelid)`,
  );
  const all = constraints.rows.map((r) => r.name).sort();
  expect(all.length).toBeGreaterThan(100);
  expect(all.filter((name) => !tripped.has(name) && !IMPLIED_BY_PRIMARY_KEY.includes(name))).toEqual([]);
  expect([...tripped].filter((name) => !all.includes(name))).toEqual([]);

  // The exemptions really do contain their table's primary key.
  for (const name of IMPLIED_BY_PRIMARY_KEY) {
    const covers = await client.query<{ ok: boolean }>(
      `select pk.conkey <@ u.conkey as ok from pg_constraint u
         join pg_constraint pk on pk.conrelid = u.conrelid and pk.contype = 'p'
        where u.conname = $1 and u.contype = 'u'`,
      [name],
    );
    expect(covers.rows[0]?.ok, name).toBe(true);
  }
});

it('covers all 33 tables', () => {
  expect(Object.keys(SPECS)).toHaveLength(33);
});
