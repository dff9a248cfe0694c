// --output-file <path>: the output goes to a temporary file in the target's directory, which
// replaces the target by rename(2) once the output is complete, so a reader (node-exporter's
// textfile collector, a cron job) sees the old file or the new one, never half of one. The
// temporary file is removed when the run fails before that, on Ctrl-C and on SIGTERM/SIGHUP.
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Writable } from "node:stream";
import { CamError } from "../core/errors.js";
import { describeWriteError, type IOStreams } from "../term/iostreams.js";
import { msg } from "../text/untrusted.js";

export interface OutputFile {
  /** `io` with stdout going to the temporary file (not a terminal: no colour, no width). */
  io: IOStreams;
  /** The output is complete: flush it to disk and rename it over the target. */
  commit(): Promise<void>;
  /** Removes the temporary file unless committed; safe to call more than once. */
  discard(): Promise<void>;
  /** The sentence for a failed write to the file (the renderers' OutputFailed). */
  failed(err: NodeJS.ErrnoException): CamError;
}

const why = (e: unknown) => describeWriteError(e as NodeJS.ErrnoException);

/** Checks `target` and opens the temporary file next to it; refusals are usage errors, one sentence. */
export async function openOutputFile(target: string, io: IOStreams): Promise<OutputFile> {
  if (target === "") throw new CamError("usage", "--output-file needs a file name.");
  const dir = path.dirname(target);
  const st = await fsp.lstat(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw new CamError("usage", msg`Cannot use --output-file ${target}: ${why(e)}.`);
  });
  if (st?.isSymbolicLink()) {
    throw new CamError("usage", msg`--output-file ${target} is a symbolic link; camctl replaces the file itself, so give the real path.`);
  }
  if (st && !st.isFile()) throw new CamError("usage", msg`--output-file ${target} is not a regular file; give the path of a file to write.`);
  const parent = await fsp.stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw new CamError("usage", msg`Cannot write --output-file ${target}: its directory ${dir} ${e.code === "ENOENT" ? "does not exist" : `cannot be used (${why(e)})`}.`);
  });
  if (!parent.isDirectory()) throw new CamError("usage", msg`Cannot write --output-file ${target}: ${dir} is not a directory.`);

  // A dot name without the target's extension: the textfile collector reads only *.prom files.
  const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`);
  // Ctrl-C ends the process through bin/camctl's process.exit, which runs 'exit' listeners;
  // SIGTERM and SIGHUP (systemd stopping a unit, a closed terminal) would end it without them.
  const removeNow = () => {
    try {
      fs.unlinkSync(temp);
    } catch {
      /* already gone */
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    removeNow();
    unhook();
    process.kill(process.pid, signal); // the signal's own ending, now that nothing listens
  };
  const unhook = () => {
    process.off("exit", removeNow);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
  };
  // Hooked before the file exists: a signal between the two would leave it behind.
  process.on("exit", removeNow);
  process.once("SIGTERM", onSignal);
  process.once("SIGHUP", onSignal);

  let fd: number;
  try {
    // O_EXCL: never opens an existing file or follows a planted link.
    fd = fs.openSync(temp, "wx", 0o666);
  } catch (e) {
    unhook();
    throw new CamError("usage", msg`Cannot write --output-file ${target}: creating a file in ${dir} failed (${why(e)}).`);
  }
  // The descriptor stays ours (autoClose off) for the fsync before the rename.
  const stream: Writable = fs.createWriteStream("", { fd, autoClose: false });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    fs.closeSync(fd);
  };
  let writeError: NodeJS.ErrnoException | undefined;
  stream.on("error", (e: NodeJS.ErrnoException) => (writeError ??= e));
  let settled = false;

  const failed = (e: NodeJS.ErrnoException) =>
    new CamError("outputLost", msg`Could not write --output-file ${target}: ${describeWriteError(e)}; the file was left as it was.`);

  const discard = async () => {
    if (settled) return;
    settled = true;
    stream.destroy();
    try {
      close();
    } catch {
      /* nothing more to lose */
    }
    await fsp.unlink(temp).catch(() => undefined);
    unhook();
  };

  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(io)) as IOStreams;
  Object.defineProperties(out, {
    stdout: { value: stream, enumerable: true },
    stdoutIsTTY: { value: false, enumerable: true },
    color: { value: false, enumerable: true },
    width: { value: undefined, enumerable: true },
  });

  return {
    io: out,
    failed,
    discard,
    async commit() {
      if (settled) return;
      await new Promise<void>((resolve) => {
        if (writeError) return resolve();
        stream.once("error", () => resolve());
        stream.end(() => resolve());
      });
      try {
        if (writeError) throw writeError;
        fs.fsyncSync(fd);
        close();
        await fsp.rename(temp, target);
      } catch (e) {
        await discard();
        throw failed(e as NodeJS.ErrnoException);
      }
      settled = true;
      unhook();
    },
  };
}
