/**
 * Secrets out of anything sumda echoes, logs or stores (config, errors, the audit trail's command
 * line): credentials inside URLs. Dependency-free, so the CLI can load it at start-up.
 *
 * Redacted: the user-info password (`postgres://u:secret@h`) and the query parameters that carry
 * secrets in libpq/pg connection strings (`password`, `sslpassword`, `sslkey`) or in API URLs
 * (`api_key`, `apikey`, `key`, `token`, `access_token`, `secret`).
 */

export const REDACTED = '*****';
const SECRET_PARAMS = new Set([
  'password',
  'sslpassword',
  'sslkey',
  'api_key',
  'apikey',
  'key',
  'token',
  'access_token',
  'secret',
]);

/** A URL with every credential replaced, safe to print or log; an unparseable one is withheld whole. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = REDACTED;
    for (const name of [...parsed.searchParams.keys()]) {
      if (SECRET_PARAMS.has(name.toLowerCase())) parsed.searchParams.set(name, REDACTED);
    }
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

/** Anything that looks like a URL (`scheme://…`) inside free text. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi;
/** `password=…` in a key-value connection string (`host=h password=secret`). */
const KV_SECRET = /(?<![?&])\b(password|sslpassword|sslkey)\s*=\s*('[^']*'|\S+)/gi;

/** An operator token (src/admins/tokens.ts) pasted into a command line. */
const OPERATOR_TOKEN = /\bsumda_tok_[A-Za-z0-9_-]+/g;

/** Free text (a command line, an error message) with every URL's credentials, key-value secrets and operator tokens redacted. */
export function redactText(text: string): string {
  return text
    .replace(URL_IN_TEXT, (url) => redactUrl(url))
    .replace(OPERATOR_TOKEN, `sumda_tok_${REDACTED}`)
    .replace(KV_SECRET, (_m, name: string) => `${name}=${REDACTED}`);
}
