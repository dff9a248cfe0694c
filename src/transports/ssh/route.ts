// What the command line and the contexts file say about an SSH link, checked without loading the
// link itself (link.ts spawns ssh and is loaded only when a link is opened).
import { usageError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";

/** Whom the sudo route may run as: a POSIX user name (useradd's rule). */
const SUDO_USER = /^[a-z_][a-z0-9_-]{0,31}\$?$/;
export const isSudoUser = (name: string) => SUDO_USER.test(name);

/** sun_path is 108 bytes on Linux, 104 on BSDs. */
const MAX_SOCKET_PATH = 100;

/** Checks the server-side socket path; ssh's -L syntax and the bridge's quoting limit it. */
export function checkRemoteSocketPath(path: string, what = "--socket"): string {
  const shown = `"${displaySafe(path)}"`;
  if (!path.startsWith("/")) throw usageError(`${what} ${shown} must be an absolute path on the server, e.g. /var/lib/prosody/prosody.sock.`);
  // `%`: ssh expands %h, %r, … in a forwarded socket path (the forward route would reach another
  // socket than the one named, while the exec route and every message use the literal path).
  if (/[\s:'!\[\]\\"`$%\p{Cc}\p{Cf}]/u.test(path)) {
    throw usageError(`${what} ${shown} has a character camctl cannot pass through SSH (space, quote, colon, bracket, backslash, $, % or a control character).`);
  }
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw usageError(`${what} ${shown} is longer than a unix socket path may be.`);
  return path;
}

/** OpenSSH's option letters (ssh(1), OpenSSH 9.2; -P tag from 9.3) that take a value, and those that take none. */
const SSH_OPTIONS_WITH_VALUE = "BbcDEeFIiJLlmOopPQRSWw";
const SSH_FLAGS = "46AaCfGgKkMNnqsTtVvXxYy";

/**
 * Checks a context's ssh_args: options only, each with its value where it takes one (-J host,
 * -oName=value, -vvv). A positional word would become the destination ssh dials (or its command)
 * while camctl's messages name the configured host, so it is refused, as is "--" and anything
 * after it; so is -W host:port, which sends the admin stream to another host and port.
 */
export function checkSshArgs(args: readonly string[], what: string): string[] {
  const bad = (arg: string, why: string) => usageError(`${what}: ssh_args element "${displaySafe(arg)}" ${why}; ssh_args takes ssh options only, e.g. ["-J", "bastion.example.com"].`);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") throw bad(arg, "ends ssh's options, and what follows would be the destination or the command");
    if (!arg.startsWith("-") || arg === "-") throw bad(arg, "is not an option (ssh would take it as the destination or the command)");
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      if (SSH_OPTIONS_WITH_VALUE.includes(letter)) {
        if (letter === "W") throw bad(arg, "would send the admin stream to another host and port (-W)");
        if (j === arg.length - 1) {
          if (i === args.length - 1) throw bad(arg, `needs a value after -${letter}`);
          i++; // the next element is the value, whatever it looks like
        }
        break;
      }
      if (!SSH_FLAGS.includes(letter)) throw bad(arg, `has -${displaySafe(letter)}, which is not an option ssh takes`);
    }
  }
  return [...args];
}
