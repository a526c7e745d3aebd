/**
 * A key rotation re-seals billing keys as well as diary entries: after `keys.reencrypt`'s batches
 * every billing key is under the new key, opens to the same key, keeps its digest and hint, and
 * still charges; one that fails to open is recorded once (an operator alert, key id only) and
 * passed over, and the rotation still ends.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { openBillingKey } from '../../src/billing/keys.ts';
import { renewSubscription } from '../../src/billing/renewal.ts';
import { createKeyring, keyIdOf } from '../../src/crypto/index.ts';
import { keyStatus, planRotation, reencryptAll } from '../../src/keys/rotation.ts';
import { useTestDatabase } from '../support/db.ts';
import { useTossDouble } from '../support/toss.ts';
import { clock, createSubscriber, deps, ensurePlan, KEYRING, kst, subscription } from './support.ts';

const database = useTestDatabase();
const toss = useTossDouble();

it('keys.reencrypt re-seals billing keys under the new key; a tampered one is alerted once and passed over', async () => {
  await ensurePlan(database.db, 'basic', 9900);
  const due = kst('2026-06-01T00:00:00');
  const subs = await Promise.all(Array.from({ length: 5 }, () => createSubscriber(database.db, { due })));
  const broken = await createSubscriber(database.db, { due });
  const before = await subscription(database.db, broken.subscriptionId);
  const tampered = Buffer.from(before.billing_key_enc!);
  tampered[tampered.length - 1] = tampered.at(-1)! ^ 0xff;
  await database.db
    .updateTable('subscriptions')
    .set({ billing_key_enc: tampered })
    .where('id', '=', broken.subscriptionId)
    .execute();

  const old = KEYRING.keys.get('bill1')!;
  const rotated = createKeyring([
    { id: 'bill2', key: randomBytes(32) },
    { id: 'bill1', key: old.key },
  ]);
  const plan = await planRotation(database.db, rotated);
  expect(plan).toMatchObject({ billingKeys: 6, missing: [] });
  expect((await keyStatus(database.db, rotated)).billingKeys).toEqual({ bill1: 6 });

  // Batches of 2: the chain takes several batches, each re-sealing a few billing keys.
  const result = await reencryptAll(database.db, rotated, { batchSize: 2 });
  expect(result).toMatchObject({ stopped: null, remaining: 0, skipped: 1, billingKeys: 5 });
  expect(result.batches).toBeGreaterThanOrEqual(3);

  for (const s of subs) {
    const row = await subscription(database.db, s.subscriptionId);
    expect(keyIdOf(row.billing_key_enc!)).toBe('bill2');
    expect(openBillingKey(rotated, s.subscriptionId, row.billing_key_enc!)).toBe(s.billingKey);
    expect(row.billing_key_hint).toBe(s.billingKey.slice(-4));
  }
  const alerts = await database.db
    .selectFrom('subscription_history')
    .select(['event', 'detail'])
    .where('subscription_id', '=', broken.subscriptionId)
    .execute();
  expect(alerts).toEqual([
    {
      event: 'operator_alert',
      detail: { problem: 'billing key cannot be opened', rotation: '0', key_id: 'bill1' },
    },
  ]);
  const errors = await database.db
    .selectFrom('admin.error_logs')
    .select(['service', 'ref_id', 'message'])
    .where('ref_id', '=', broken.subscriptionId)
    .execute();
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ service: 'billing' });
  expect(errors[0]!.message).not.toContain(broken.billingKey);
  expect((await keyStatus(database.db, rotated)).billingKeys).toEqual({ bill2: 5, bill1: 1 });

  // A second pass has nothing to do and does not alert again.
  const again = await reencryptAll(database.db, rotated, { batchSize: 2 });
  expect(again).toMatchObject({ billingKeys: 0, remaining: 0, skipped: 0 });

  // The re-sealed key still charges, opened with the new keyring only.
  const c = clock(kst('2026-06-01T09:00:00'));
  const onlyNew = createKeyring([{ id: 'bill2', key: rotated.keys.get('bill2')!.key }]);
  const d = { ...deps(database.db, toss.url, c.now), keyring: onlyNew };
  expect(await renewSubscription(d, subs[0]!.subscriptionId)).toMatchObject({ outcome: 'approved' });
});
