// What the socket transport needs to reach a remote admin socket over SSH, checked once from the
// options (--ssh, --ssh-route, --sudo-user, --ssh-config) or a context (ssh, ssh_route, sudo_user,
// ssh_config, ssh_args). The link itself (link.ts) is started only when the source is opened.
import { usageError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";
import { checkRemoteSocketPath, SSH_ROUTES, type SshRoute } from "./route.js";
import { parseSshTarget, type SshTarget } from "./target.js";

export type { SshRoute } from "./route.js";

/** The routes, for the option's choices. */
export const SSH_ROUTE_NAMES: string[] = [...SSH_ROUTES];

export interface SshSettings {
  target: SshTarget;
  route: SshRoute;
  /** The sudo route's user (default prosody in link.ts). */
  sudoUser: string | undefined;
  /** Extra ssh arguments: -F <ssh_config> first, then a context's ssh_args. */
  extraArgs: string[];
}

const SUDO_USER = /^[a-z_][a-z0-9_-]{0,31}\$?$/;

/** Checks the values and builds the settings; a usage error names the option at fault. */
export function sshSettings(
  target: string,
  remoteSocket: string,
  o: { sshRoute?: SshRoute; sudoUser?: string; sshConfig?: string },
  sshArgs: readonly string[] = [],
): SshSettings {
  const parsed = parseSshTarget(target, "--ssh");
  checkRemoteSocketPath(remoteSocket, "--socket");
  const route = o.sshRoute ?? "forward";
  if (o.sudoUser !== undefined) {
    if (route !== "sudo") throw usageError("--sudo-user applies to the sudo route; add --ssh-route sudo.");
    if (!SUDO_USER.test(o.sudoUser)) throw usageError(`--sudo-user "${displaySafe(o.sudoUser)}" is not a user name.`);
  }
  if (o.sshConfig !== undefined && o.sshConfig.length === 0) throw usageError("--ssh-config was given an empty path.");
  return {
    target: parsed,
    route,
    sudoUser: o.sudoUser,
    extraArgs: [...(o.sshConfig !== undefined ? ["-F", o.sshConfig] : []), ...sshArgs],
  };
}
