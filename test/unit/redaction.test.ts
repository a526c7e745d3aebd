/**
 * Secrets never echoed: URL credentials (user:password and the password, sslpassword, sslkey query
 * parameters) in `sumda config`, the audit trail's command line and free text; a key entry written
 * the wrong way round is reported without printing the key.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { redactArgv } from '../../src/cli/context.ts';
import { describeConfig, loadConfig } from '../../src/config/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { redactText, redactUrl } from '../../src/util/redact.ts';

const SECRET = 'hunter2-Secret';

describe('redactUrl / redactText', () => {
  it.each([
    [`postgres://app:${SECRET}@db:5432/sumda`, 'postgres://app:*****@db:5432/sumda'],
    [
      `postgres://app@db/sumda?password=${SECRET}&sslmode=require`,
      'postgres://app@db/sumda?password=*****&sslmode=require',
    ],
    [
      `postgresql://db/sumda?sslpassword=${SECRET}&sslkey=/keys/${SECRET}.key`,
      'postgresql://db/sumda?sslpassword=*****&sslkey=*****',
    ],
    [
      `https://user:${SECRET}@llm.internal/v1?api_key=${SECRET}`,
      'https://user:*****@llm.internal/v1?api_key=*****',
    ],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
    expect(redactText(`connect to ${url} failed`)).toBe(`connect to ${expected} failed`);
  });

  it('key-value connection strings and unparseable URLs', () => {
    expect(redactText(`host=db user=app password=${SECRET} sslpassword='${SECRET} x'`)).not.toContain(SECRET);
    expect(redactUrl(`not a url ${SECRET}`)).toBe('<unparseable url>');
  });
});

describe('the audit command line', () => {
  it('redacts credentials wherever they appear in argv', () => {
    const line = redactArgv([
      '--database-url',
      `postgres://app:${SECRET}@db/sumda`,
      `--database-url=postgres://db/sumda?password=${SECRET}`,
      'policy',
      'publish',
      `--notes=see postgres://x:${SECRET}@h/db?sslpassword=${SECRET}`,
    ]);
    expect(line).not.toContain(SECRET);
    expect(line).toContain('sumda --database-url postgres://app:*****@db/sumda');
  });
});

describe('configuration', () => {
  it('sumda config shows no credentials of DATABASE_URL, SUMDA_WORKER_DATABASE_URL or OPENAI_BASE_URL', () => {
    const config = loadConfig(
      {},
      {
        DATABASE_URL: `postgres://app:${SECRET}@db/sumda?sslpassword=${SECRET}`,
        SUMDA_WORKER_DATABASE_URL: `postgres://worker_1:${SECRET}@db/sumda?password=${SECRET}`,
        OPENAI_BASE_URL: `https://proxy:${SECRET}@llm.internal/v1`,
        OPENAI_API_KEY: SECRET,
        SUMDA_AUDIT_KEY: `a1:${randomBytes(32).toString('base64')}`,
      },
      tmpdir(),
    );
    const shown = JSON.stringify(describeConfig(config));
    expect(shown).not.toContain(SECRET);
    expect(shown).toContain('"SUMDA_AUDIT_KEY":"a1:*****"');
    expect(shown).toContain(
      '"SUMDA_WORKER_DATABASE_URL":"postgres://worker_1:*****@db/sumda?password=*****"',
    );
    expect(config.workerDatabaseUrl).toBe(`postgres://worker_1:${SECRET}@db/sumda?password=${SECRET}`);
  });

  it('a key entry written the wrong way round is named by position, its key never printed', () => {
    const key = randomBytes(32).toString('base64');
    for (const variable of ['SUMDA_ENCRYPTION_KEYS', 'SUMDA_AUDIT_KEY']) {
      let error: ConfigError | undefined;
      try {
        loadConfig({}, { [variable]: `${key}:k1` }, tmpdir());
      } catch (e) {
        error = e as ConfigError;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error!.message).not.toContain(key.slice(0, 8));
      expect(error!.problems).toEqual([
        `${variable}: entry 1 does not start with a key id (1-32 of [A-Za-z0-9_-]); is it written the wrong way round? It must be <key-id>:<base64>`,
      ]);
    }
  });
});
