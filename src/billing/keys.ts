/**
 * Billing keys at rest. A Toss billing key can charge a card without the user, so it is a secret
 * like diary text: sealed with the keyring (AES-256-GCM, the subscription id as context, so a
 * sealed key cannot be moved to another subscription), unique by its SHA-256 digest, and shown to
 * operators only as its last four characters.
 */
import { createHash } from 'node:crypto';
import { type Keyring, open, seal } from '../crypto/index.ts';

export interface SealedBillingKey {
  billing_key_enc: Buffer;
  billing_key_digest: Buffer;
  billing_key_hint: string;
}

function context(subscriptionId: string): string {
  return `billing-key:${subscriptionId}`;
}

export function billingKeyDigest(billingKey: string): Buffer {
  return createHash('sha256').update(billingKey, 'utf8').digest();
}

export function sealBillingKey(
  keyring: Keyring,
  subscriptionId: string,
  billingKey: string,
): SealedBillingKey {
  return {
    billing_key_enc: seal(keyring, billingKey, context(subscriptionId)),
    billing_key_digest: billingKeyDigest(billingKey),
    billing_key_hint: billingKey.slice(-4),
  };
}

export function openBillingKey(keyring: Keyring, subscriptionId: string, sealed: Buffer): string {
  return open(keyring, sealed, context(subscriptionId));
}

/** How an operator sees a billing key: never whole. */
export function maskBillingKey(hint: string | null): string {
  return hint ? `****${hint}` : '(none)';
}
