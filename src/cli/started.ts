/**
 * How this process started: from the bundle `npm run build` made (scripts/build.ts), or from
 * source. bin/sumda decides and tells `main`; `sumda config` shows it, so "why is every command
 * slow" has an answer.
 */
export interface StartInfo {
  /** Set when the code runs from the bundle: when it was built. */
  bundle?: { builtAt: string } | undefined;
}

let started: StartInfo = {};

export function recordStart(info: StartInfo): void {
  started = info;
}

export function startInfo(): StartInfo {
  return started;
}
