// Reading a file the user named on the command line (--password-file, --ca-file). Only regular
// files are read: reading a FIFO or a device can block inside Node's thread pool, where neither
// --timeout nor Ctrl-C can end it (process.exit waits for that thread), so anything else is
// refused before it is opened for reading, and the open itself never blocks (O_NONBLOCK).
// A file that holds a secret (--password-file, --new-password-file, a context's password_file)
// must also be private: owned by this user and readable by nobody else, checked on what was
// opened (fstat), and not reached through another user's symbolic link.
import { constants as fsc } from "node:fs";
import fsp from "node:fs/promises";
import { chmodHint, exposure, ownedByAnother } from "../../core/file-trust.js";

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

/** Why a file that holds a secret is not private, or undefined when it is (owner only: chmod 600). */
function notPrivate(st: { uid: number; mode: number }): string | undefined {
  const e = exposure(st, { rootMayOwn: true, othersMayRead: false });
  if (!e) return undefined;
  if (e.kind === "owner") return "it belongs to another user; use a file of your own that only you can read (chmod 600)";
  return `other users may ${e.kind === "others-read" ? "read" : "change"} it ${chmodHint(e.mode)}`;
}

export interface UserFileRules {
  /** It holds a secret: refuse it unless it is private (see notPrivate). */
  secret?: boolean;
}

/** The text of a regular file (links to one are fine) of at most `maxBytes`; else a UserFileError. */
export async function readUserFile(file: string, maxBytes: number, rules: UserFileRules = {}): Promise<string> {
  try {
    if (rules.secret) {
      // A link someone else put there could lead anywhere they like: only the user's own (or root's).
      const link = await fsp.lstat(file);
      if (link.isSymbolicLink() && ownedByAnother(link.uid)) {
        throw new UserFileError("it is a symbolic link that belongs to another user; give the path of your own file");
      }
    }
    const st = await fsp.stat(file);
    if (st.isDirectory()) throw new UserFileError("it is a directory");
    if (!st.isFile()) throw new UserFileError(`it is ${kind(st)}, not a regular file, and camctl reads only regular files`);
    const handle = await fsp.open(file, fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0) | (fsc.O_NOCTTY ?? 0));
    try {
      const opened = await handle.stat(); // what was opened, in case it was swapped meanwhile
      if (!opened.isFile()) throw new UserFileError(`it is ${kind(opened)}, not a regular file, and camctl reads only regular files`);
      const exposed = rules.secret ? notPrivate(opened) : undefined;
      if (exposed) throw new UserFileError(exposed);
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
