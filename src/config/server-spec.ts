// The resolved server spec (transports/types.ts), decided here and nowhere else. Each value is
// checked once, where it enters:
//   - the command line, as commander parses it (the flag parsers below): --timeout, --ssh, --jid,
//     --sudo-user, --ssh-config, --container (--container-engine is a commander choice);
//   - the config file, as it is loaded (contexts.ts): a context's timeout, ssh, socket, sudo_user,
//     ssh_args, jid, tls, container, container_engine;
//   - what depends on where a value came from or on the other values, in resolveServerSpec: the
//     remote (or in-container) socket path typed with --socket, $CAMCTL_JID,
//     $CAMCTL_CONTAINER_EXEC_TEMPLATE (tests only), --server, the combinations of options,
//     and the defaults (--timeout 15, --tls starttls, the sudo route's user is link.ts's).
// selection.ts decides which server(s) and merges flags, environment and contexts
// (contexts.ts applyContext) into AppliedOptions; this turns one AppliedOptions into the spec.
import { InvalidArgumentError } from "commander";
import { CamError, usageError } from "../core/errors.js";
import { isTimeoutSeconds, parseBareJid, TIMEOUT_RANGE } from "../core/validate.js";
import { displaySafe, msg } from "../text/untrusted.js";
import { checkContainerName, parseExecTemplate } from "../transports/container/route.js";
import { checkRemoteSocketPath, isSudoUser } from "../transports/ssh/route.js";
import { parseSshTarget } from "../transports/ssh/target.js";
import type { ContainerSpec, PasswordSpec, ServerSpec, SshTarget, Transport } from "../transports/types.js";
import type { AppliedOptions } from "./contexts.js";

export const DEFAULT_TIMEOUT_SECONDS = 15;

/** Prosody's default admin socket, inside a container (Snikket's is /snikket/prosody/prosody.sock: --socket). */
export const DEFAULT_SOCKET_INSIDE = "/var/lib/prosody/prosody.sock";

// ---------------------------------------------------------------------------
// The command line's values, checked as commander parses them (options.ts declares the options).

export function parseTimeoutFlag(value: string): number {
  const n = Number(value);
  if (!isTimeoutSeconds(n)) throw new InvalidArgumentError(`give ${TIMEOUT_RANGE}, e.g. --timeout 15.`);
  return n;
}

export const parseSshFlag = (value: string): SshTarget => parseSshTarget(value, "--ssh");

export const parseContainerFlag = (value: string): string => checkContainerName(value, "--container");

export const parseJidFlag = (value: string): string => parseBareJid(value, "login JID (--jid)");

export function parseSudoUserFlag(value: string): string {
  if (!isSudoUser(value)) throw usageError(`--sudo-user "${displaySafe(value)}" is not a user name.`);
  return value;
}

export function parseSshConfigFlag(value: string): string {
  if (value.length === 0) throw usageError("--ssh-config was given an empty path.");
  return value;
}

// ---------------------------------------------------------------------------
// One server's spec

/** --server or a context's server: "host" or "host:port" (IPv6 in brackets). */
function parseServer(value: string): { host: string; port: number | undefined } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(value);
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!m || (port !== undefined && (port < 1 || port > 65535))) {
    throw new CamError("usage", msg`--server takes host or host:port, e.g. xmpp.example.com:5222; got "${value}".`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

function passwordSpec(a: AppliedOptions): PasswordSpec {
  if (a.passwordFile !== undefined) return { from: "file", path: a.passwordFile };
  if (a.environmentPassword !== undefined) return { from: "environment", value: a.environmentPassword };
  return { from: "prompt", contextByName: !a.passwordFromEnv };
}

/** The container part of a socket transport; the test-only exec template is read here. */
function containerSpec(a: AppliedOptions): ContainerSpec | undefined {
  if (a.container === undefined) {
    if (a.containerEngine !== undefined) throw usageError("--container-engine applies to --container; add --container <name>.");
    return undefined;
  }
  const template = a.containerExecTemplate;
  return { name: a.container, engine: a.containerEngine, ...(template === undefined ? {} : { execTemplate: parseExecTemplate(template) }) };
}

/** The spec of one server from the merged options; a usage error says which option is at fault. */
export function resolveServerSpec(a: AppliedOptions, defaultSocket: string): ServerSpec {
  const sshOnly = a.ssh === undefined ? (["sshRoute", "sudoUser", "sshConfig"] as const).filter((k) => a[k] !== undefined) : [];
  if (sshOnly.length > 0) throw usageError("--ssh-route, --sudo-user and --ssh-config apply to --ssh; add --ssh [user@]host.");
  let transport: Transport;
  if (a.jid !== undefined && a.socket === undefined && a.ssh === undefined && a.container === undefined) {
    transport = {
      kind: "xmpp",
      // The command line's and a context's were checked as they were read; the environment's is checked here.
      loginJid: a.origin.jid === "environment" ? parseBareJid(a.jid, "login JID (--jid)") : a.jid,
      password: passwordSpec(a),
      server: a.server === undefined ? undefined : parseServer(a.server),
      tls: a.tls ?? "starttls",
      caFile: a.caFile,
    };
  } else {
    if (a.jid !== undefined) throw usageError(`Give either ${a.container !== undefined ? "--container" : a.ssh !== undefined ? "--ssh" : "--socket"} or --jid, not both.`);
    const xmppOnly = (["passwordFile", "server", "caFile"] as const).filter((k) => a[k] !== undefined);
    if (xmppOnly.length > 0 || (a.tls && a.tls !== "starttls")) {
      throw usageError("--password-file, --server, --tls and --ca-file apply to the XMPP transport; add --jid to use it.");
    }
    const container = containerSpec(a);
    if (a.ssh === undefined && container === undefined) {
      transport = { kind: "socket", socketPath: a.socket ?? defaultSocket };
    } else if (a.ssh === undefined) {
      // Inside the container: Prosody's default path there, whatever $CAMCTL_SOCKET says about this machine.
      const socketPath = a.socket === undefined || a.origin.socket === "environment" ? DEFAULT_SOCKET_INSIDE : a.origin.socket === "command line" ? checkRemoteSocketPath(a.socket, "--socket") : a.socket;
      transport = { kind: "socket", socketPath, container };
    } else {
      // A context's socket was checked with its ssh when the file was loaded; --socket is checked here.
      const socketPath = a.socket === undefined ? (container ? DEFAULT_SOCKET_INSIDE : defaultSocket) : a.origin.socket === "command line" ? checkRemoteSocketPath(a.socket, "--socket") : a.socket;
      const route = a.sshRoute ?? "forward";
      if (a.sudoUser !== undefined && route !== "sudo") throw usageError("--sudo-user applies to the sudo route; add --ssh-route sudo.");
      transport = {
        kind: "socket",
        socketPath,
        ssh: {
          target: a.ssh,
          route,
          sudoUser: a.sudoUser,
          extraArgs: [...(a.sshConfig !== undefined ? ["-F", a.sshConfig] : []), ...(a.sshArgs ?? [])],
        },
        ...(container ? { container } : {}),
      };
    }
  }
  return { transport, timeoutSeconds: a.timeout ?? DEFAULT_TIMEOUT_SECONDS };
}
