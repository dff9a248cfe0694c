// One fake terminal for in-process tests: an IOStreams whose stdout and stderr are captured, with
// the terminal facts (TTY, colour, width, clock, environment) chosen by the test, and optionally a
// stdout that fails the way a full disk or a vanished reader does.
import { PassThrough, Writable } from "node:stream";
import type { IOStreams } from "../../src/term/iostreams.js";

export const FAKE_NOW = new Date("2026-11-27T12:00:00Z");

export interface FakeIOOptions {
  stdinIsTTY?: boolean;
  stdoutIsTTY?: boolean;
  color?: boolean;
  width?: number;
  env?: NodeJS.ProcessEnv;
  now?: Date;
  /** stdout fails with this error code (ENOSPC, EPIPE, EBADF, ...) after `failAfterBytes` bytes. */
  failWith?: string;
  failAfterBytes?: number;
}

export interface FakeIO {
  io: IOStreams;
  /** Everything written to stdout (before a simulated failure) and to stderr so far. */
  out(): string;
  err(): string;
  /** Bytes written to stdout so far. */
  outBytes(): number;
}

export function fakeIO(o: FakeIOOptions = {}): FakeIO {
  const outChunks: string[] = [];
  let outBytes = 0;
  let err = "";
  let failed = false;
  const stdout = new Writable({
    // Small, like a pipe: a long listing has to wait for it (backpressure is exercised).
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (o.failWith !== undefined && (failed || outBytes + chunk.length > (o.failAfterBytes ?? 0))) {
        failed = true;
        const code = o.failWith;
        callback(Object.assign(new Error(`${code}: simulated failure, write`), { code }));
        return;
      }
      outBytes += chunk.length;
      outChunks.push(chunk.toString("utf8"));
      setImmediate(callback);
    },
  });
  const stderr = new PassThrough();
  stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const io: IOStreams = {
    stdin: new PassThrough(),
    stdout,
    stderr,
    stdinIsTTY: o.stdinIsTTY ?? false,
    stdoutIsTTY: o.stdoutIsTTY ?? false,
    color: o.color ?? false,
    width: o.width,
    now: () => o.now ?? FAKE_NOW,
    // No config file unless a test names one: a developer's own contexts must not redirect camctl.
    env: { CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml", ...o.env },
  };
  return { io, out: () => outChunks.join(""), err: () => err, outBytes: () => outBytes };
}
