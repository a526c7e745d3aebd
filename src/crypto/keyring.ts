/**
 * Where keys come from: SUMDA_ENCRYPTION_KEYS, always. Only on the embedded default (no
 * DATABASE_URL) and only when no keys are configured, a development key is generated into the data
 * folder, with a warning — it is not a production key and it is never stored in the database.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config, EncryptionKey } from '../config/index.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createKeyring, generateKey, type Keyring } from './index.ts';

export const DEV_KEY_FILE = 'dev-encryption-key';

export interface LoadedKeyring {
  keyring: Keyring;
  /** Set when the development key is in use; `generated` on the run that created it. */
  devKey?: { path: string; generated: boolean };
}

export async function loadKeyring(config: Config, log: Logger): Promise<LoadedKeyring> {
  if (config.encryptionKeys) return { keyring: createKeyring(config.encryptionKeys) };
  if (config.databaseUrl) {
    // A configuration problem, like every other one (exit 2); `sumda config` says the same.
    throw new ConfigError([
      'SUMDA_ENCRYPTION_KEYS is not set (with DATABASE_URL there is no development key); set it to <key-id>:<base64 of 32 bytes>[,<older-id>:<key>…] — `sumda keys generate` prints one',
    ]);
  }
  const path = join(config.dataDir, DEV_KEY_FILE);
  let generated = false;
  if (!existsSync(path)) {
    generated = true;
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(path, `${generateKey('dev1')}\n`, { mode: 0o600, flag: 'wx' }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error; // another sumda process wrote it first
      },
    );
    log.info(
      { path },
      'generated a DEVELOPMENT encryption key in the data folder; set SUMDA_ENCRYPTION_KEYS for any real data',
    );
  }
  const [id, b64] = (await readFile(path, 'utf8')).trim().split(':') as [string, string];
  const key: EncryptionKey = { id, key: Buffer.from(b64, 'base64') };
  return { keyring: createKeyring([key]), devKey: { path, generated } };
}
