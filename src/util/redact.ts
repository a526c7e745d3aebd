/** Secrets out of anything sumda echoes: URLs with passwords. Dependency-free, so the CLI can load it at start-up. */

/** A postgres URL with its password replaced, safe to print or log. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '*****';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
