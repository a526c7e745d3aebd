/**
 * Quoting what an operator typed back at them. An argument can be anything — a pasted file, a
 * 20,000-character token — and an error line must stay one readable line, so a quote is at most a
 * short prefix and says how long the whole was.
 */

/** The longest argument quoted whole; longer ones are cut to a prefix of QUOTE_PREFIX characters. */
export const QUOTE_MAX = 60;
const QUOTE_PREFIX = 40;

/** Shortens `text` for an error line: whole when short, else a prefix, `…` and the full length. */
export function clip(text: string, max = QUOTE_MAX): string {
  if (text.length <= max) return text;
  return `${text.slice(0, QUOTE_PREFIX)}…(${text.length} chars)`;
}

/** `text` as a JSON string literal for an error line, shortened as `clip` does. */
export function quote(text: string, max = QUOTE_MAX): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, QUOTE_PREFIX)).slice(0, -1)}…"(${text.length} chars)`;
}

/**
 * The last word on an error line: every long argument of this command line that the message
 * repeats (as typed or JSON-quoted) is replaced by its short quote, wherever the message came from.
 */
export function shortenArguments(message: string, args: readonly string[], maxLength = 500): string {
  let out = message;
  for (const arg of [...new Set(args)].sort((a, b) => b.length - a.length)) {
    if (arg.length <= QUOTE_MAX) continue;
    const quoted = JSON.stringify(arg);
    if (out.includes(quoted)) out = out.split(quoted).join(quote(arg));
    if (out.includes(arg)) out = out.split(arg).join(clip(arg));
    // Parts of a long argument (`--flag=value`, `key=value,…`) are long substrings too.
    const eq = arg.indexOf('=');
    if (eq > 0) {
      const value = arg.slice(eq + 1);
      if (value.length > QUOTE_MAX && out.includes(value)) out = out.split(value).join(clip(value));
    }
  }
  // Whatever still runs on (an argument transformed before it was quoted): one line, bounded.
  return out.length > maxLength ? `${out.slice(0, maxLength - 1)}…` : out;
}
