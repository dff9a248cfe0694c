// The source factory: a resolved server spec (config/server-spec.ts) in, a PreparedSource
// (lifecycle.ts) out. Each transport is imported only on the path that needs it, so the socket
// path never loads the XMPP client or the SSH link.
import { userInfo } from "node:os";
import { serverEnvironment } from "../config/environment.js";
import type { IOStreams } from "../term/iostreams.js";
import { msg } from "../text/untrusted.js";
import type { PreparedSource } from "./lifecycle.js";
import type { Operator } from "./socket/lua.js";
import type { ServerSpec } from "./types.js";

export type PrepareSource = (spec: ServerSpec, io: IOStreams) => Promise<PreparedSource>;

export const prepareSource: PrepareSource = async (spec, io) => {
  const t = spec.transport;
  if (t.kind === "socket" && t.container) {
    const container = t.container;
    const ssh = t.ssh;
    const [{ SocketClientSource }, { openSourceInContainer }] = await Promise.all([import("./socket/socket-source.js"), import("./ssh/ssh-source.js")]);
    return {
      where: containerWhere(t.socketPath, container.name, ssh?.target.host),
      open: (signal) => openSourceInContainer({ container, socketPath: t.socketPath, ssh, signal }, (path) => new SocketClientSource(path, signal, operator(io))),
    };
  }
  if (t.kind === "socket" && t.ssh) {
    const ssh = t.ssh;
    const [{ SocketClientSource }, { openSourceOverSsh }, { formatSshTarget }] = await Promise.all([
      import("./socket/socket-source.js"), import("./ssh/ssh-source.js"), import("./ssh/target.js"),
    ]);
    return {
      where: msg`the admin socket ${t.socketPath} on ${formatSshTarget(ssh.target)} (over SSH)`.toString(),
      open: (signal) => openSourceOverSsh({ ssh, remoteSocket: t.socketPath, signal }, (path) => new SocketClientSource(path, signal, operator(io))),
    };
  }
  if (t.kind === "socket") {
    const { SocketClientSource } = await import("./socket/socket-source.js");
    return { where: String(msg`the admin socket ${t.socketPath}`), open: async (signal) => new SocketClientSource(t.socketPath, signal, operator(io)) };
  }
  const { prepareXmppSource } = await import("./xmpp/open.js");
  return prepareXmppSource({ transport: t, timeoutSeconds: spec.timeoutSeconds }, io);
};

/** For messages: "the admin socket /var/lib/prosody/prosody.sock in the container snikket[ on host (over SSH)]". */
export function containerWhere(socketPath: string, name: string, sshHost: string | undefined): string {
  return String(msg`the admin socket ${socketPath} in the container ${name}${sshHost === undefined ? "" : msg` on ${sshHost} (over SSH)`}`);
}

/** Who runs camctl here, for Prosody's log: the OS user (none when it has no passwd entry) and $SUDO_USER. */
export function operator(io: IOStreams): Operator {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = undefined;
  }
  return { user, sudoUser: serverEnvironment(io.env).sudoUser };
}
