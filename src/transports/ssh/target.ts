// What --ssh and a context's `ssh = "…"` name: an OpenSSH destination, "[user@]host[:port]".
// The host is handed to ssh as written, so aliases from ~/.ssh/config (Host blocks, ProxyJump,
// User, Port, IdentityFile) apply exactly as they do for `ssh host`.
import { usageError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";
import type { SshTarget } from "../types.js";

// No whitespace, controls, quotes or shell/ssh metacharacters: what a user name or a host name
// can be, and nothing that could turn into an ssh option or a second argument.
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/;
const HOST = /^[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?$/;

/** Parses "[user@]host[:port]" (IPv6 as "[::1]:2222"), or throws a usage error naming `what`. */
export function parseSshTarget(input: string, what = "--ssh"): SshTarget {
  const shown = `"${displaySafe(input)}"`;
  const bad = (why: string) => usageError(`${what} ${shown} ${why}; give [user@]host[:port], e.g. prosody-admin@xmpp.example.com:22.`);
  let rest = input.startsWith("ssh://") ? input.slice("ssh://".length) : input;
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at !== -1) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!USER.test(user)) throw bad("has a user name that ssh would not accept");
  }
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
    if (!IPV6.test(host) || !host.includes(":")) throw bad("has something other than an IPv6 address in brackets");
  } else {
    const colon = rest.lastIndexOf(":");
    if (colon !== -1 && rest.indexOf(":") !== colon) throw bad("looks like an IPv6 address; put it in brackets, e.g. [2001:db8::1]:22");
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
    if (!HOST.test(host)) throw bad(host.length === 0 ? "has no host" : "has a host name that ssh would not accept");
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) throw bad("has a port that is not a number between 1 and 65535");
  }
  return { user, host, port };
}

/** How the target is shown in messages: "prosody-admin@xmpp.example.com:2222". */
export function formatSshTarget(t: SshTarget): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${t.user ? `${t.user}@` : ""}${host}${t.port ? `:${t.port}` : ""}`;
}

/** The ssh command a person types to reach `t` (ssh takes no host:port): "ssh -p 2222 admin@host". */
export function sshCommandLine(t: SshTarget): string {
  return `ssh ${t.port !== undefined ? `-p ${t.port} ` : ""}${t.user ? `${t.user}@` : ""}${t.host}`;
}

/** The ssh arguments that name the destination; they end the option list (nothing after is an option). */
export function sshDestinationArgs(t: SshTarget): string[] {
  const args: string[] = [];
  if (t.port !== undefined) args.push("-p", String(t.port));
  if (t.user !== undefined) args.push("-l", t.user);
  args.push("--", t.host);
  return args;
}
