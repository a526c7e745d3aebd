import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig, redactUrl } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('lists every problem at once', () => {
    const env = {
      DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
      SUMDA_ACTOR: 'not-an-email',
      SUMDA_ENCRYPTION_KEYS: `k1:${KEY},bad id:${KEY},k3:short`,
      SUMDA_ANALYZER: 'openai',
    };
    let error: ConfigError | undefined;
    try {
      loadConfig({}, env, tmpdir());
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.exitCode).toBe(2);
    expect(error!.problems).toEqual(
      expect.arrayContaining([
        'DATABASE_URL must start with postgres:// or postgresql://',
        'SUMDA_ACTOR must be an admin e-mail address',
        expect.stringContaining('LOG_LEVEL must be one of'),
        'SUMDA_ENCRYPTION_KEYS: entry 2 does not start with a key id (1-32 of [A-Za-z0-9_-]); is it written the wrong way round? It must be <key-id>:<base64>',
        'SUMDA_ENCRYPTION_KEYS: key k3 must be 32 bytes of base64 (got 3)',
        'SUMDA_ANALYZER=openai needs OPENAI_API_KEY',
      ]),
    );
    expect(error!.problems).toHaveLength(6);
  });

  it('takes flags over the environment over .env, and freezes the result', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sumda-config-'));
    await writeFile(
      join(dir, '.env'),
      'LOG_LEVEL=debug\nSUMDA_ACTOR=dotenv@sumda.kr\nDATABASE_URL=postgres://dotenv/db\n',
    );
    const config = loadConfig({ actor: 'Flag@Sumda.kr' }, { LOG_LEVEL: 'error' }, dir);
    expect(config.actor).toBe('flag@sumda.kr');
    expect(config.logLevel).toBe('error');
    expect(config.databaseUrl).toBe('postgres://dotenv/db');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.openai)).toBe(true);
  });

  it('parses keys in order (the first seals) and defaults the analyzer to local without an API key', () => {
    const config = loadConfig({}, { SUMDA_ENCRYPTION_KEYS: `new:${KEY}, old:${KEY}` }, tmpdir());
    expect(config.encryptionKeys?.map((k) => k.id)).toEqual(['new', 'old']);
    expect(config.analyzer).toBe('local');
    expect(loadConfig({}, { OPENAI_API_KEY: 'sk-x' }, tmpdir()).analyzer).toBe('openai');
  });

  it('never shows a secret when described', () => {
    const config = loadConfig(
      {},
      {
        DATABASE_URL: 'postgres://u:hunter2@h/db',
        SUMDA_ENCRYPTION_KEYS: `k1:${KEY}`,
        OPENAI_API_KEY: 'sk-secret',
      },
      tmpdir(),
    );
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('sk-secret');
    expect(redactUrl('postgres://u:pw@h:5/db')).toBe('postgres://u:*****@h:5/db');
  });

  it('reads numbers as Number() does and keeps the messages the zod schema gave', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({}, env, tmpdir());
        return [];
      } catch (e) {
        return (e as ConfigError).problems;
      }
    };
    expect(loadConfig({}, { TOSS_TIMEOUT_MS: ' 1e3 ', SUMDA_DB_POOL_SIZE: '0x10' }, tmpdir())).toMatchObject({
      billing: { tossTimeoutMs: 1000 },
      worker: { poolSize: 16 },
    });
    expect(problems({ TOSS_TIMEOUT_MS: 'soon' })).toEqual(['TOSS_TIMEOUT_MS must be a number']);
    expect(problems({ TOSS_TIMEOUT_MS: '1.5' })).toEqual(['TOSS_TIMEOUT_MS must be a whole number']);
    expect(problems({ SUMDA_DB_POOL_SIZE: '-1' })).toEqual([
      'SUMDA_DB_POOL_SIZE must be a number',
      'SUMDA_DB_POOL_SIZE must be at least 2',
    ]);
    expect(problems({ SUMDA_METRICS_PORT: '70000' })).toEqual(['SUMDA_METRICS_PORT must be a port']);
    expect(problems({ TOSS_MAX_IN_FLIGHT: '0' })).toEqual(['TOSS_MAX_IN_FLIGHT must be at least 1']);
    expect(loadConfig({}, {}, tmpdir()).billing.tossMaxInFlight).toBe(64);
    expect(loadConfig({}, { OPENAI_BASE_URL: ' http://127.0.0.1:9/v1 ' }, tmpdir()).openai.baseUrl).toBe(
      'http://127.0.0.1:9/v1',
    );
    expect(problems({ OPENAI_BASE_URL: 'not a url' })).toEqual(['OPENAI_BASE_URL must be a URL']);
  });
});
