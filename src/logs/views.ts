/**
 * Read-only views over the logs the API server and every service write: errors (list, stats), API
 * latency and error rates per endpoint, and the login security report of the seed's scenarios.
 * Reading admin.error_logs to show it is fine; deciding anything from it is not (see retention).
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';

export async function listErrors(
  db: Kysely<Database>,
  options: { since: Date; service?: string; severity?: string; limit?: number },
) {
  let query = db
    .selectFrom('admin.error_logs')
    .select(['id', 'created_at', 'severity', 'service', 'ref_id', 'message'])
    .where('created_at', '>=', options.since)
    .orderBy('id', 'desc')
    .limit(options.limit ?? 100);
  if (options.service) query = query.where('service', '=', options.service as never);
  if (options.severity) query = query.where('severity', '=', options.severity as never);
  return query.execute();
}

/** Per service and severity: how many, since when, and the most frequent message. */
export async function errorStats(db: Kysely<Database>, options: { since: Date }) {
  const rows = await sql<{
    service: string;
    severity: string;
    errors: number;
    first: Date;
    last: Date;
    top_message: string;
    top_count: number;
  }>`
    select service, severity, count(*)::int as errors, min(created_at) as first, max(created_at) as last,
           (array_agg(message order by n desc, message))[1] as top_message, max(n)::int as top_count
    from (select service, severity, created_at, message,
                 count(*) over (partition by service, severity, message) as n
          from admin.error_logs where created_at >= ${options.since}) e
    group by service, severity order by errors desc, service, severity`.execute(db);
  return rows.rows;
}

/** Per endpoint: calls, latency p50/p95/p99, share of 4xx and 5xx answers. */
export async function apiStats(db: Kysely<Database>, options: { since: Date; limit?: number }) {
  const rows = await sql<{
    method: string;
    endpoint: string;
    calls: number;
    p50: number;
    p95: number;
    p99: number;
    client_errors: number;
    server_errors: number;
  }>`
    select method, endpoint, count(*)::int as calls,
           percentile_cont(0.5) within group (order by latency_ms) as p50,
           percentile_cont(0.95) within group (order by latency_ms) as p95,
           percentile_cont(0.99) within group (order by latency_ms) as p99,
           count(*) filter (where status_code between 400 and 499)::int as client_errors,
           count(*) filter (where status_code >= 500)::int as server_errors
    from admin.api_logs where created_at >= ${options.since}
    group by method, endpoint order by calls desc, endpoint, method
    limit ${options.limit ?? 100}`.execute(db);
  return rows.rows.map((r) => ({
    ...r,
    p50: Math.round(Number(r.p50)),
    p95: Math.round(Number(r.p95)),
    p99: Math.round(Number(r.p99)),
    errorRate: Math.round((r.server_errors / r.calls) * 10_000) / 10_000,
    clientErrorRate: Math.round((r.client_errors / r.calls) * 10_000) / 10_000,
  }));
}

export interface SecurityThresholds {
  /** Failures from one IP (or against one account) within `window` that make a burst. */
  burst: number;
  /** Bucket of a burst, e.g. '10 minutes'. */
  window: string;
  /** Distinct IPs trying one account that make it suspicious. */
  ips: number;
}

export const DEFAULT_THRESHOLDS: SecurityThresholds = { burst: 5, window: '10 minutes', ips: 3 };

/**
 * The login security report since `since`: failed-login bursts per IP and per account (failures in
 * one window bucket), accounts tried from many IPs, and successful logins from a country the account
 * never logged in from before (accounts with no earlier login are new, not suspicious).
 */
export async function loginSecurity(
  db: Kysely<Database>,
  options: { since: Date; thresholds?: SecurityThresholds },
) {
  const t = options.thresholds ?? DEFAULT_THRESHOLDS;
  const window = sql`${t.window}::interval`;
  const ipBursts = await sql<{ ip: string; window_start: Date; failures: number; accounts: number }>`
    select host(ip) as ip, date_bin(${window}, created_at, timestamptz '2000-01-01') as window_start,
           count(*)::int as failures, count(distinct user_id)::int as accounts
    from admin.login_logs where not success and ip is not null and created_at >= ${options.since}
    group by ip, window_start having count(*) >= ${t.burst}
    order by failures desc, window_start limit 100`.execute(db);
  const accountBursts = await sql<{ user_id: string; window_start: Date; failures: number; ips: number }>`
    select user_id, date_bin(${window}, created_at, timestamptz '2000-01-01') as window_start,
           count(*)::int as failures, count(distinct ip)::int as ips
    from admin.login_logs where not success and user_id is not null and created_at >= ${options.since}
    group by user_id, window_start having count(*) >= ${t.burst}
    order by failures desc, window_start limit 100`.execute(db);
  const manyIps = await sql<{ user_id: string; ips: number; failures: number; successes: number }>`
    select user_id, count(distinct ip)::int as ips, count(*) filter (where not success)::int as failures,
           count(*) filter (where success)::int as successes
    from admin.login_logs where user_id is not null and created_at >= ${options.since}
    group by user_id having count(distinct ip) >= ${t.ips}
    order by ips desc, failures desc limit 100`.execute(db);
  const newCountry = await sql<{
    user_id: string;
    at: Date;
    country: string;
    ip: string | null;
    known: string[];
  }>`
    select l.user_id, l.created_at as at, l.country, host(l.ip) as ip,
           array(select distinct p.country from admin.login_logs p
                 where p.user_id = l.user_id and p.success and p.country is not null and p.created_at < l.created_at
                 order by 1) as known
    from admin.login_logs l
    where l.success and l.country is not null and l.user_id is not null and l.created_at >= ${options.since}
      and exists (select 1 from admin.login_logs p where p.user_id = l.user_id and p.success
                  and p.country is not null and p.created_at < l.created_at)
      and not exists (select 1 from admin.login_logs p where p.user_id = l.user_id and p.success
                      and p.country = l.country and p.created_at < l.created_at)
    order by l.created_at desc limit 100`.execute(db);
  return {
    since: options.since,
    thresholds: t,
    ipBursts: ipBursts.rows,
    accountBursts: accountBursts.rows,
    manyIps: manyIps.rows,
    newCountry: newCountry.rows,
  };
}
