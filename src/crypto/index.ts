/**
 * Diary text encryption: AES-256-GCM in the application, before anything reaches the database.
 *
 * Ciphertext layout (bytea in diary_entries.content_enc), shared with the app server:
 *   [0]        format version, 0x01
 *   [1]        n = length of the key id (1–32)
 *   [2, 2+n)   key id, ASCII — the key that sealed it, so keys can rotate
 *   next 12    IV (random per message)
 *   next 16    GCM tag
 *   rest       ciphertext
 * The header (version + key id) and the caller's context (we pass the owner's user id) are
 * authenticated as AAD, so a ciphertext cannot be relabelled or moved to another user's row.
 * `diary_entries.content_key_id` is a generated column reading bytes [2, 2+n).
 *
 * Plaintext leaves this module only as the return value of open(); it is never logged, never put
 * into an error message, and errors name only the key id.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import type { EncryptionKey } from '../config/index.ts';
import { SumdaError } from '../errors.ts';

export const FORMAT_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptionError extends SumdaError {}

export interface Keyring {
  /** The key that seals new text. */
  readonly active: EncryptionKey;
  /** Every key that may still open old text, by id. */
  readonly keys: ReadonlyMap<string, EncryptionKey>;
  /** Imported once: a KeyObject makes each cipher ~5x cheaper than a raw key buffer. */
  readonly objects: ReadonlyMap<string, KeyObject>;
}

export function createKeyring(keys: readonly EncryptionKey[]): Keyring {
  const [active] = keys;
  if (!active) throw new SumdaError('no encryption keys configured', { hint: 'set SUMDA_ENCRYPTION_KEYS' });
  return {
    active,
    keys: new Map(keys.map((k) => [k.id, k])),
    objects: new Map(keys.map((k) => [k.id, createSecretKey(k.key)])),
  };
}

/** IVs drawn from the CSPRNG in blocks: one syscall per 4096 messages instead of one each. */
const IV_BLOCK = 4096;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;
function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_BYTES * IV_BLOCK);
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV_BYTES);
  ivOffset += IV_BYTES;
  return iv;
}

function header(keyId: string): Buffer {
  const id = Buffer.from(keyId, 'ascii');
  return Buffer.concat([Buffer.from([FORMAT_VERSION, id.length]), id]);
}

function aadOf(head: Buffer, context: string): Buffer {
  return Buffer.concat([head, Buffer.from(context, 'utf8')]);
}

/** Seals text with the active key. `context` (e.g. the owner's user id) must be given again to open it. */
export function seal(keyring: Keyring, plaintext: string, context: string): Buffer {
  const head = header(keyring.active.id);
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', keyring.objects.get(keyring.active.id)!, iv);
  cipher.setAAD(aadOf(head, context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([head, iv, cipher.getAuthTag(), body]);
}

/** The id of the key that sealed a ciphertext, read from its header. */
export function keyIdOf(sealed: Buffer): string {
  if (sealed.length < 2 || sealed[0] !== FORMAT_VERSION) {
    throw new DecryptionError('ciphertext has an unknown format version');
  }
  const n = sealed[1]!;
  if (n < 1 || sealed.length < 2 + n + IV_BYTES + TAG_BYTES)
    throw new DecryptionError('ciphertext is truncated');
  return sealed.subarray(2, 2 + n).toString('ascii');
}

export function open(keyring: Keyring, sealed: Buffer, context: string): string {
  const keyId = keyIdOf(sealed);
  const key = keyring.keys.get(keyId);
  if (!key) {
    throw new DecryptionError(`ciphertext was sealed with key ${keyId}, which is not configured`, {
      hint: 'add that key back to SUMDA_ENCRYPTION_KEYS (after the active one) until rotation finishes',
    });
  }
  const headLength = 2 + Buffer.byteLength(keyId, 'ascii');
  const head = sealed.subarray(0, headLength);
  const iv = sealed.subarray(headLength, headLength + IV_BYTES);
  const tag = sealed.subarray(headLength + IV_BYTES, headLength + IV_BYTES + TAG_BYTES);
  const body = sealed.subarray(headLength + IV_BYTES + TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyring.objects.get(keyId) ?? key.key, iv);
    decipher.setAAD(aadOf(head, context));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    throw new DecryptionError(
      `ciphertext failed authentication under key ${keyId} (tampered, or sealed for another row)`,
    );
  }
}

/**
 * Whether `sealed` authenticates under the configured key its header names (for checking a key,
 * not for reading: the text is decrypted to verify the tag and dropped here, never returned).
 */
export function authenticates(keyring: Keyring, sealed: Buffer, context: string): boolean {
  try {
    open(keyring, sealed, context);
    return true;
  } catch (error) {
    if (error instanceof DecryptionError) return false;
    throw error;
  }
}

/** Re-seals with the active key; returns undefined when it already is sealed with it. */
export function reseal(keyring: Keyring, sealed: Buffer, context: string): Buffer | undefined {
  if (keyIdOf(sealed) === keyring.active.id) return undefined;
  return seal(keyring, open(keyring, sealed, context), context);
}

/** A fresh key in the SUMDA_ENCRYPTION_KEYS format, `<id>:<base64>`. */
export function generateKey(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

const safetyKeys = new WeakMap<Keyring, Buffer>();

/**
 * The one identifier of a user that may leave sumda (OpenAI's `safety_identifier`): an HMAC of the
 * user id under a key derived from the active encryption key, so nobody holding a list of user ids
 * can map it back. It changes when the active key rotates, which only resets the provider's view.
 */
export function safetyIdentifier(keyring: Keyring, userId: string): string {
  let key = safetyKeys.get(keyring);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', keyring.active.key, Buffer.alloc(0), 'sumda-safety-identifier', 32));
    safetyKeys.set(keyring, key);
  }
  return createHmac('sha256', key).update(userId).digest('hex').slice(0, 32);
}
