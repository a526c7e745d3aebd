/**
 * Progress on long work, on stderr only: a redrawn bar on a TTY, NDJSON lines with --json,
 * nothing otherwise (CI logs stay clean). Redraws are throttled so progress never costs throughput.
 */
import { formatDuration } from '../time/grammar.ts';

export interface Progress {
  /** Advance by n units (default 1). */
  tick(n?: number): void;
  /** Set the absolute position. */
  set(done: number): void;
  setTotal(total: number): void;
  done(message?: string): void;
}

export type ProgressReporter = (label: string, total: number) => Progress;

const REDRAW_MS = 100;
/** NDJSON lines are for machines reading a log: one a second is plenty. */
const JSON_EVERY_MS = 1000;

export function createProgress(options: { json: boolean; stream?: NodeJS.WriteStream }): ProgressReporter {
  return (label, initialTotal) => {
    // process.stderr is made on first use, not with the context: a command that reports no progress
    // and writes nothing to stderr never builds the stream.
    const stream = options.stream ?? process.stderr;
    let total = initialTotal;
    let done = 0;
    let lastDraw = 0;
    const started = performance.now();
    const mode: 'bar' | 'json' | 'none' = options.json ? 'json' : stream.isTTY ? 'bar' : 'none';
    const draw = (force = false) => {
      const now = performance.now();
      if (!force && now - lastDraw < (mode === 'json' ? JSON_EVERY_MS : REDRAW_MS)) return;
      lastDraw = now;
      const elapsed = now - started;
      const rate = elapsed > 0 ? (done / elapsed) * 1000 : 0;
      if (mode === 'json') {
        stream.write(`${JSON.stringify({ progress: label, done, total, rate: Math.round(rate) })}\n`);
      } else if (mode === 'bar') {
        const width = 28;
        const ratio = total > 0 ? Math.min(1, done / total) : 0;
        const filled = Math.round(ratio * width);
        const eta = rate > 0 && total > done ? ` eta ${formatDuration(((total - done) / rate) * 1000)}` : '';
        stream.write(
          `\r${label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total} ${Math.round(rate)}/s${eta}\x1b[K`,
        );
      }
    };
    return {
      tick: (n = 1) => {
        done += n;
        draw();
      },
      set: (value) => {
        done = value;
        draw();
      },
      setTotal: (value) => {
        total = value;
      },
      done: (message) => {
        draw(true);
        if (mode === 'bar')
          stream.write(
            `\r\x1b[K${message ?? `${label}: ${done}/${total}`} (${formatDuration(performance.now() - started)})\n`,
          );
      },
    };
  };
}
