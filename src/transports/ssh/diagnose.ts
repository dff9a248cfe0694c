// Turns what ssh printed and how it ended into ONE sentence and an exit code. ssh's stderr is
// untrusted (the server chooses banners, disconnect messages and part of the error texts): it is
// matched against OpenSSH's own fixed messages, and only ever shown through displaySafe, shortened.
//
// Codes (the CLI contract's table): 3 cannot reach (name, TCP, link lost, no socket / nothing
// listening on the far side), 4 authentication (host key unknown or changed, login refused),
// 5 not permitted (the account may not open the socket, forwarding or sudo refused).
import { CamError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";
import { BRIDGE_EXIT, BRIDGE_READY } from "./bridge.js";
import type { SshRoute, SshTarget } from "../types.js";
import { formatSshTarget, sshCommandLine } from "./target.js";


export interface SshEvidence {
  target: SshTarget;
  route: SshRoute;
  remoteSocket: string;
  sudoUser: string;
  /** Whether the link was up (forwarding listening / bridge connected) before this happened. */
  wasReady: boolean;
  /** How ssh ended; undefined while it still runs. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** ssh's stderr, line by line, as received. */
  stderr: readonly string[];
}

/** The socket problem a probe (or the bridge) found on the far side. */
export type RemoteSocketProblem = "missing" | "permission" | "refused" | "notSocket" | "other";

export function socketProblemFromExit(code: number | null): RemoteSocketProblem | undefined {
  switch (code) {
    case BRIDGE_EXIT.missing: return "missing";
    case BRIDGE_EXIT.permission: return "permission";
    case BRIDGE_EXIT.refused: return "refused";
    case BRIDGE_EXIT.notSocket: return "notSocket";
    case BRIDGE_EXIT.other: return "other";
    default: return undefined;
  }
}

const MAX_DETAIL = 160;

/** One untrusted line, made safe and short, without ssh's "ssh: " prefix or a final dot. */
function detail(line: string): string {
  const s = displaySafe(line.replace(/^ssh: /, "").trim()).replace(/\.$/, "");
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL - 1)}…` : s;
}

/** The last line worth showing: not the bridge's own marker, not OpenSSH's warning banners. */
function lastMeaningful(stderr: readonly string[]): string | undefined {
  for (let i = stderr.length - 1; i >= 0; i--) {
    const l = stderr[i]!.trim();
    if (l === "" || l === BRIDGE_READY || /^@+$/.test(l) || /^Warning: Permanently added/.test(l)) continue;
    return l;
  }
  return undefined;
}

const has = (stderr: readonly string[], re: RegExp) => stderr.some((l) => re.test(l));

/** The sentence for a socket problem found on the far side. */
export function remoteSocketError(problem: RemoteSocketProblem | undefined, e: Pick<SshEvidence, "target" | "route" | "remoteSocket" | "sudoUser">): CamError {
  const host = displaySafe(e.target.host);
  const path = displaySafe(e.remoteSocket);
  const account = e.route === "sudo" ? `the user ${displaySafe(e.sudoUser)}` : e.target.user ? `the account ${displaySafe(e.target.user)}` : "the SSH account";
  switch (problem) {
    case "missing":
      return new CamError("unreachable",
        `There is no admin socket at ${path} on ${host}. Is Prosody running there with mod_admin_socket loaded? Give the right path with --socket.`);
    case "permission":
      return new CamError("forbidden",
        `On ${host}, ${account} may not open the admin socket ${path}. Add it to the prosody group and let the group write to the socket (umask = "007" in Prosody's config), or use the sudo route.`);
    case "refused":
      return new CamError("unreachable",
        `Nothing is listening on the admin socket ${path} on ${host} (a stale socket file?). Is Prosody running there?`);
    case "notSocket":
      return new CamError("unreachable", `${path} on ${host} is not a socket. Check --socket.`);
    default:
      return new CamError("unreachable",
        `${host} could not open the admin socket ${path}: it is missing, or ${account} may not open it. ` +
        `Check with: ${displaySafe(sshCommandLine(e.target))} ls -l ${path}`);
  }
}

/**
 * What went wrong, from ssh's messages and exit; undefined when nothing says the link failed
 * (then the caller's own error stands).
 */
export function diagnoseSsh(e: SshEvidence): CamError | undefined {
  const { stderr } = e;
  const host = displaySafe(e.target.host);
  const shownTarget = displaySafe(formatSshTarget(e.target));

  // Host keys: checked before anything is sent, so these never depend on the account.
  if (has(stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/)) {
    return new CamError("auth",
      `The SSH host key of ${host} does not match the one in known_hosts: this may be an attack, or the server was reinstalled. ` +
      `Verify the new key with its administrator, then replace the old entry (ssh-keygen -R ${host}).`, "host-key-changed");
  }
  if (has(stderr, /No \S+ host key is known for|Host key verification failed|host key for .* is not known/i)) {
    return new CamError("auth",
      `The SSH host key of ${host} is not in known_hosts, and camctl never accepts a new key on its own. ` +
      `Check and accept it once with \`${displaySafe(sshCommandLine(e.target))}\`, then retry.`, "host-key-unknown");
  }
  const denied = stderr.find((l) => /Permission denied \(([^)]*)\)/.test(l));
  if (denied) {
    const methods = displaySafe(/Permission denied \(([^)]*)\)/.exec(denied)![1]!);
    return new CamError("auth",
      `${host} refused the SSH login${e.target.user ? ` as ${displaySafe(e.target.user)}` : ""} (${methods}). ` +
      `Check that your key is offered (ssh-add -l, IdentityFile) and authorized on the server; camctl never asks for passwords or passphrases.`, "ssh-login-refused");
  }
  if (has(stderr, /Too many authentication failures/)) {
    return new CamError("auth",
      `${host} closed the SSH login after too many keys were tried. Name the right key for this host (IdentityFile and IdentitiesOnly yes in ~/.ssh/config).`, "ssh-login-refused");
  }

  // Reaching the SSH server at all.
  const resolve = stderr.find((l) => /Could not resolve hostname/.test(l));
  if (resolve) {
    return new CamError("unreachable", `Cannot find the SSH host ${host}: ${detail(resolve.replace(/^.*Could not resolve hostname [^:]*: /, ""))}. Check --ssh or your ssh config.`);
  }
  const connect = stderr.find((l) => /connect to host .* port .*:|Connection timed out during banner exchange|kex_exchange_identification|Connection (closed|reset) by .* port/.test(l));
  if (connect && !e.wasReady) {
    return new CamError("unreachable", `Cannot connect to the SSH server of ${host}: ${detail(connect.replace(/^ssh: connect to host \S+ port \d+: /, ""))}.`);
  }

  // The far end of the link: forwarding refused, or the socket could not be opened.
  if (has(stderr, /open failed: administratively prohibited/)) {
    return new CamError("forbidden",
      `The SSH server of ${host} does not allow forwarding to unix sockets for this account (AllowStreamLocalForwarding, DisableForwarding, or "restrict" in authorized_keys). Allow it, or use the exec route.`, "forwarding-prohibited");
  }
  if (has(stderr, /open failed: connect failed/)) return remoteSocketError(undefined, e);
  if (e.route !== "forward" && e.exit && !e.wasReady) {
    const problem = socketProblemFromExit(e.exit.code);
    if (problem) return remoteSocketError(problem, e);
    if (e.route === "sudo" && has(stderr, /^sudo: /)) {
      const sudoLine = stderr.find((l) => /^sudo: /.test(l))!;
      return new CamError("forbidden",
        `sudo on ${host} would not run the bridge as ${displaySafe(e.sudoUser)} without a password (${detail(sudoLine)}). Add the NOPASSWD rule from docs/servers.md ("Setting up the server"), or use the forward route.`, "sudo-refused");
    }
    if (e.exit.code === 127 || has(stderr, /perl: (command )?not found|This account is currently not available|nologin/)) {
      return new CamError("unreachable",
        `${host} could not start the bridge (perl) for the ${e.route} route: the account needs a login shell and perl (${detail(lastMeaningful(stderr) ?? `exit ${e.exit.code}`)}). Use the forward route instead.`);
    }
  }

  if (!e.exit) return undefined;
  // The bridge ends with 0 when Prosody closed the admin session: that is Prosody's doing, not the link's.
  if (e.wasReady && e.exit.code === 0 && e.exit.signal === null) return undefined;
  // ssh ended: the link is gone. Before it was up, ssh says why; afterwards the request was cut off.
  const why = lastMeaningful(stderr);
  const how = why ? detail(why) : e.exit.signal ? `ssh ended by ${e.exit.signal}` : `ssh exited with status ${e.exit.code}`;
  if (!e.wasReady) {
    return new CamError("unreachable", `ssh could not set up the link to ${shownTarget}: ${how}.`);
  }
  return new CamError("unreachable",
    `The SSH connection to ${host} was lost before Prosody answered (${how}). A revocation may or may not have been done: list the clients again to see.`, "ssh-link-lost");
}
