// The progress line of a long scan, on stderr when stderr is a terminal (nothing otherwise, so
// logs and pipes stay clean): accounts scanned / total, rate, time left. Redrawn in place at most
// a few times a second and erased before anything else is written to stderr.
import type { ScanProgress } from "../core/client-source.js";
import type { IOStreams } from "./iostreams.js";

const REDRAW_MS = 200;

export interface ProgressLine {
  /** `waiting`: the scan is held up by its own output (a pipe nobody reads yet), not the server. */
  update(p: ScanProgress, waiting?: boolean): void;
  /** Erases the line (call before writing anything else to stderr, and at the end). */
  clear(): void;
}

const NONE: ProgressLine = { update() {}, clear() {} };

export function formatProgress(p: ScanProgress, elapsedMs: number, waiting = false): string {
  const n = (x: number) => x.toLocaleString("en-US");
  const rate = elapsedMs > 0 ? (p.scanned * 1000) / elapsedMs : 0;
  let text = `scanned ${n(p.scanned)}${p.total !== null ? ` / ${n(p.total)}` : ""} accounts`;
  // No rate or time left then: what holds the scan is the reader of the output.
  if (waiting) return `${text} · waiting for the output to be read`;
  if (rate > 0) text += ` · ${n(Math.round(rate))}/s`;
  if (p.total !== null && rate > 0 && p.scanned < p.total) {
    const left = Math.ceil((p.total - p.scanned) / rate);
    text += ` · ${left >= 60 ? `${Math.floor(left / 60)} min ${left % 60} s` : `${left} s`} left`;
  }
  return text;
}

export function progressLine(io: IOStreams, now: () => number = Date.now): ProgressLine {
  if (!io.stderrIsTTY) return NONE;
  const started = now();
  let lastDraw = 0;
  let drawn = false;
  return {
    update(p, waiting) {
      const t = now();
      if (t - lastDraw < REDRAW_MS) return;
      lastDraw = t;
      // \r and erase-line: the line is redrawn in place; the text holds only digits and our words.
      io.stderr.write(`\r\x1b[2K${formatProgress(p, t - started, waiting)}`);
      drawn = true;
    },
    clear() {
      if (drawn) io.stderr.write("\r\x1b[2K");
      drawn = false;
    },
  };
}
