import { describe, expect, it } from 'vitest';
import { createKeyring, DecryptionError, keyIdOf, open, reseal, seal } from '../../src/crypto/index.ts';

const key = (id: string, fill: number) => ({ id, key: Buffer.alloc(32, fill) });
const ring = createKeyring([key('k2', 2), key('k1', 1)]);
const TEXT = '오늘은 정말 행복한 하루였다. 비밀 일기 marker-7f3a';

describe('diary encryption', () => {
  it('round-trips Korean text and names the sealing key in the header', () => {
    const sealed = seal(ring, TEXT, 'user-1');
    expect(keyIdOf(sealed)).toBe('k2');
    expect(sealed.includes(Buffer.from('marker-7f3a'))).toBe(false);
    expect(open(ring, sealed, 'user-1')).toBe(TEXT);
  });

  it('detects tampering with the body, the tag or the header', () => {
    const sealed = seal(ring, TEXT, 'user-1');
    for (const index of [sealed.length - 1, 2 + 2 + 12 + 3, 3]) {
      const bad = Buffer.from(sealed);
      bad[index]! ^= 0x01;
      expect(() => open(ring, bad, 'user-1')).toThrow(DecryptionError);
    }
  });

  it('refuses a ciphertext moved to another owner', () => {
    const sealed = seal(ring, TEXT, 'user-1');
    expect(() => open(ring, sealed, 'user-2')).toThrow(/failed authentication under key k2/);
  });

  it('names an unknown key without revealing anything else', () => {
    const other = createKeyring([key('gone', 9)]);
    const sealed = seal(other, TEXT, 'u');
    const error = (() => {
      try {
        open(ring, sealed, 'u');
      } catch (e) {
        return e as DecryptionError;
      }
    })();
    expect(error).toBeInstanceOf(DecryptionError);
    expect(error!.message).toBe('ciphertext was sealed with key gone, which is not configured');
    expect(error!.message).not.toContain('marker');
  });

  it('reseals old ciphertexts with the active key and leaves current ones alone', () => {
    const old = seal(createKeyring([key('k1', 1)]), TEXT, 'u');
    const fresh = reseal(ring, old, 'u')!;
    expect(keyIdOf(fresh)).toBe('k2');
    expect(open(ring, fresh, 'u')).toBe(TEXT);
    expect(reseal(ring, fresh, 'u')).toBeUndefined();
  });

  it('rejects garbage with a format error', () => {
    expect(() => keyIdOf(Buffer.from([2, 1, 65]))).toThrow(/unknown format version/);
    expect(() => keyIdOf(Buffer.from([1, 2, 65, 66]))).toThrow(/truncated/);
  });
});
