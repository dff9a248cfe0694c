// Terminal facts passed into every command, so tests can fake TTY, colour and width and capture
// what was written; and the two ways output leaves camctl: results on stdout (written through an
// OutputWriter, which notices a failed write), messages on stderr (one `camctl: …` line each,
// escaped by the net in messageLine).
import { isatty } from "node:tty";
import type { Readable, Writable } from "node:stream";
import { escapeUnsafe, type SafeText } from "../text/untrusted.js";

export interface IOStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  /** stderr is a terminal: progress lines are drawn there only then. Absent means no. */
  stderrIsTTY?: boolean;
  /** Colour on stdout: decided once from --no-color, NO_COLOR, FORCE_COLOR and the TTY. */
  color: boolean;
  /** Columns available on stdout; undefined when not a terminal (no width limit). */
  width: number | undefined;
  /** Reference time for relative timestamps ("3 hours ago"). */
  now: () => Date;
  env: NodeJS.ProcessEnv;
}

export function decideColor(env: NodeJS.ProcessEnv, isTTY: boolean, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  // https://no-color.org: any non-empty value disables colour.
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return isTTY && env.TERM !== "dumb";
}

export function systemIO(noColorFlag = false): IOStreams {
  const stdoutIsTTY = Boolean(process.stdout.isTTY);
  return {
    // process.stdin builds a stream on first use, which costs start-up time; only prompts need it.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: isatty(0),
    stdoutIsTTY,
    stderrIsTTY: Boolean(process.stderr.isTTY),
    color: decideColor(process.env, stdoutIsTTY, noColorFlag),
    width: stdoutIsTTY ? process.stdout.columns || 80 : undefined,
    now: () => new Date(),
    env: process.env,
  };
}

// ---------------------------------------------------------------------------------------------
// Messages on stderr

const MESSAGE_PREFIX = "camctl: ";

/**
 * One message line for stderr. The net: whatever unsafe character is still in `text` (an
 * untrusted value someone interpolated without msg``) is escaped here; escaped text is unchanged.
 */
export function messageLine(text: string | SafeText): string {
  return MESSAGE_PREFIX + escapeUnsafe(String(text)) + "\n";
}

/**
 * `io` with a stderr whose message lines (writes that start with "camctl: ") pass through the
 * net, so a warning written by any module is covered too. Everything else written there (a
 * prompt's own cursor movements) passes unchanged; the stream itself is the same stream.
 */
export function withMessageNet(io: IOStreams): IOStreams {
  const stderr = io.stderr;
  const write = (chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === "string" && chunk.startsWith(MESSAGE_PREFIX) ? netLines(chunk) : chunk;
    return (stderr.write as (...args: unknown[]) => boolean)(text, ...rest);
  };
  const guarded = new Proxy(stderr, {
    get(target, key) {
      if (key === "write") return write;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  // Copy the descriptors (not the values): systemIO's stdin is a getter that must stay lazy.
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(io)) as IOStreams;
  Object.defineProperty(out, "stderr", { value: guarded, enumerable: true });
  return out;
}

/** Message text with its final line feed kept and every unsafe character before it escaped. */
function netLines(chunk: string): string {
  const body = chunk.endsWith("\n") ? chunk.slice(0, -1) : chunk;
  return escapeUnsafe(body) + (body === chunk ? "" : "\n");
}

// ---------------------------------------------------------------------------------------------
// Results on stdout

/** What happened to an output stream: its first write error, and whether a command already said so. */
interface WriteState {
  error: NodeJS.ErrnoException | undefined;
  /** A bulk command wrote its own sentence about the lost output (main adds none). */
  reported: boolean;
}

/** The first error each output stream reported, watched from before the first write. */
const firstErrors = new WeakMap<Writable, WriteState>();

/**
 * Starts (once per stream) recording the first write error of `stream`. Having a listener also
 * keeps a failed write (ENOSPC, EPIPE, EBADF) from becoming an uncaught 'error' event.
 */
export function watchWrites(stream: Writable): Readonly<WriteState> {
  let state = firstErrors.get(stream);
  if (!state) {
    const s: WriteState = { error: undefined, reported: false };
    stream.on("error", (err: NodeJS.ErrnoException) => (s.error ??= err));
    firstErrors.set(stream, s);
    state = s;
  }
  return state;
}

/** Raised inside a command when its output stream failed; cli.ts turns it into the exit code. */
export class OutputFailed extends Error {
  constructor(override readonly cause: NodeJS.ErrnoException) {
    super(`output failed: ${cause.code ?? cause.message}`);
    this.name = "OutputFailed";
  }
}

/** Whether a write error only means that the reader went away (`camctl … | head`). */
export const readerGone = (err: NodeJS.ErrnoException) => err.code === "EPIPE";

/** "no space left on device (ENOSPC)" from "ENOSPC: no space left on device, write". */
export function describeWriteError(err: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(err.message);
  const what = m?.[1] ?? err.message;
  return err.code && !what.includes(err.code) ? `${what} (${err.code})` : what;
}

/** Waits until `stream` has drained or failed (then the watcher has the error). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("error", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("error", done);
    stream.on("close", done);
  });
}

/**
 * Writes results in chunks of about `chunkSize` characters, waits when the reader is slower
 * (so a long listing never piles up in memory) and stops with OutputFailed as soon as the
 * stream reports an error, instead of writing on into nothing.
 *
 * With `keepGoing` (the bulk commands: a write failure must never stop a confirmed revocation
 * half-way), a failed stream throws nothing: what is written after the failure is dropped, and
 * `lost` and `records` tell the command what to say at the end.
 */
export class OutputWriter {
  private pending = "";
  private pendingRecords = 0;
  private delivered = 0;
  private readonly watch: WriteState;

  constructor(
    private readonly stream: Writable,
    private readonly chunkSize = 64 * 1024,
    private readonly keepGoing = false,
  ) {
    this.watch = watchWrites(stream) as WriteState;
  }

  /** Buffers `text`, which completes `records` records (counted once they are handed to the stream). */
  async write(text: string, records = 0): Promise<void> {
    if (this.keepGoing && this.lost) return;
    this.pending += text;
    this.pendingRecords += records;
    if (this.pending.length >= this.chunkSize) await this.flush();
  }

  /** Hands everything buffered to the stream; resolves when the stream can take more. */
  async flush(): Promise<void> {
    if (this.keepGoing && this.lost) return;
    this.check();
    if (this.pending !== "") {
      const text = this.pending;
      const records = this.pendingRecords;
      this.pending = "";
      this.pendingRecords = 0;
      // Counted once the system took them (a failed stream fails every write after it).
      const ok = this.stream.write(text, (err) => {
        if (!err) this.delivered += records;
      });
      if (!ok && !this.stream.destroyed) await drained(this.stream);
    }
    if (this.keepGoing && this.lost) return;
    this.check();
  }

  /** flush(), then waits until the stream has written it all (or failed): `lost` is then final. */
  async settle(): Promise<void> {
    await this.flush();
    if (!this.lost) await flushed(this.stream);
  }

  /** The error that cut the output short, if it was (keepGoing: nothing was thrown). */
  get lost(): NodeJS.ErrnoException | undefined {
    return this.watch.error ?? (this.stream.destroyed ? closedError() : undefined);
  }

  /** How many records the stream has written (before it failed, or in all). */
  get records(): number {
    return this.delivered;
  }

  /** The command has said on stderr that the output was lost: main adds no sentence of its own. */
  reported(): void {
    this.watch.reported = true;
  }

  private check(): void {
    const error = this.lost;
    if (error) throw new OutputFailed(error);
  }
}

function closedError(): NodeJS.ErrnoException {
  return Object.assign(new Error("ERR_STREAM_DESTROYED: the output stream was closed, write"), { code: "ERR_STREAM_DESTROYED" });
}

/** Resolves once everything written to `stream` so far has been handed to the system (or failed). */
export function flushed(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.write("", () => resolve()));
}
