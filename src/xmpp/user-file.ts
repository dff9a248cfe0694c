// Reading a file the user named on the command line (--password-file, --ca-file). Only regular
// files are read: reading a FIFO or a device can block inside Node's thread pool, where neither
// --timeout nor Ctrl-C can end it (process.exit waits for that thread), so anything else is
// refused before it is opened for reading, and the open itself never blocks (O_NONBLOCK).
import { constants as fsc } from "node:fs";
import fsp from "node:fs/promises";

/** Why a user file was not read, in words: "it does not exist", "it is a FIFO or pipe, not a regular file, …". */
export class UserFileError extends Error {}

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case "ENOENT":
      return "it does not exist";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    default:
      return code ?? "unreadable";
  }
}

function kind(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isFIFO()) return "a FIFO or pipe";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "something else";
}

/** The text of a regular file (links to one are fine) of at most `maxBytes`; else a UserFileError. */
export async function readUserFile(file: string, maxBytes: number): Promise<string> {
  try {
    const st = await fsp.stat(file);
    if (st.isDirectory()) throw new UserFileError("it is a directory");
    if (!st.isFile()) throw new UserFileError(`it is ${kind(st)}, not a regular file, and camctl reads only regular files`);
    const handle = await fsp.open(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | (fsc.O_NOCTTY ?? 0));
    try {
      const opened = await handle.stat(); // what was opened, in case it was swapped meanwhile
      if (!opened.isFile()) throw new UserFileError(`it is ${kind(opened)}, not a regular file, and camctl reads only regular files`);
      const buffer = Buffer.alloc(maxBytes + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (bytesRead > maxBytes) throw new UserFileError(`it is larger than ${maxBytes} bytes`);
      return buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close().catch(() => undefined);
    }
  } catch (e) {
    throw e instanceof UserFileError ? e : new UserFileError(why(e));
  }
}
