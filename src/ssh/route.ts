// What the command line and the contexts file say about an SSH link, checked without loading the
// link itself (link.ts spawns ssh and is loaded only when a link is opened).
import { usageError } from "../errors.js";
import { displaySafe } from "../text/untrusted.js";
import type { SshRoute } from "./diagnose.js";

export type { SshRoute } from "./diagnose.js";
export const SSH_ROUTES: readonly SshRoute[] = ["forward", "exec", "sudo"];

/** sun_path is 108 bytes on Linux, 104 on BSDs. */
const MAX_SOCKET_PATH = 100;

/** Checks the server-side socket path; ssh's -L syntax and the bridge's quoting limit it. */
export function checkRemoteSocketPath(path: string, what = "--socket"): string {
  const shown = `"${displaySafe(path)}"`;
  if (!path.startsWith("/")) throw usageError(`${what} ${shown} must be an absolute path on the server, e.g. /var/lib/prosody/prosody.sock.`);
  if (/[\s:'!\[\]\\"`$\p{Cc}\p{Cf}]/u.test(path)) {
    throw usageError(`${what} ${shown} has a character camctl cannot pass through SSH (space, quote, colon, bracket, backslash, $ or a control character).`);
  }
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw usageError(`${what} ${shown} is longer than a unix socket path may be.`);
  return path;
}
