// The resolved server specification and its plain parts, as config/server-spec.ts builds it from
// flags, environment and the context file, and as everything downstream (the commands, the
// source factory, the SSH link, the XMPP login, doctor) takes it. Every value here is already
// checked and parsed; nothing downstream checks it again. This module imports nothing, so
// that config/, the transports and the XMPP features can all share it without a circle.

export const TLS_MODES = ["starttls", "direct", "none"] as const;
export type TlsMode = (typeof TLS_MODES)[number];

/** How the socket transport reaches a remote admin socket (transports/ssh/link.ts). */
export const SSH_ROUTES = ["forward", "exec", "sudo"] as const;
export type SshRoute = (typeof SSH_ROUTES)[number];

/** An OpenSSH destination, "[user@]host[:port]", parsed (transports/ssh/target.ts). */
export interface SshTarget {
  /** Login name, when given; otherwise ssh decides (User in ssh_config, else the local user). */
  user: string | undefined;
  /** Host name, alias or address (IPv6 without brackets). */
  host: string;
  port: number | undefined;
}

/** The SSH link to a remote admin socket. */
export interface SshSpec {
  target: SshTarget;
  route: SshRoute;
  /** The sudo route's user (default prosody in link.ts). */
  sudoUser: string | undefined;
  /** Extra ssh arguments: -F <ssh_config> first, then a context's ssh_args. */
  extraArgs: string[];
}

/** Container engines camctl runs `<engine> exec -i <name> …` with (transports/container). */
export const CONTAINER_ENGINES = ["docker", "podman"] as const;
export type ContainerEngine = (typeof CONTAINER_ENGINES)[number];

/** The admin socket inside a container, reached through the engine's exec and the perl bridge. */
export interface ContainerSpec {
  /** The container's name or id (docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]*). */
  name: string;
  /** undefined: whichever is installed, docker first (on the SSH server, with `ssh`). */
  engine: ContainerEngine | undefined;
  /**
   * Tests only ($CAMCTL_CONTAINER_EXEC_TEMPLATE): the words that replace `<engine> exec -i <name>`,
   * "{name}" standing for the name; e.g. nsenter into a namespace where no engine can run.
   */
  execTemplate?: string[];
}

/** Prosody's admin socket. */
export interface SocketTransport {
  kind: "socket";
  /** With `ssh`, the path on that server; with `container`, the path inside the container. */
  socketPath: string;
  /** Reach the admin socket of another machine through OpenSSH (transports/ssh). */
  ssh?: SshSpec;
  /** Reach the admin socket inside a container (on the SSH server, with `ssh`). */
  container?: ContainerSpec;
}

/** Where the XMPP password comes from; read (and checked) when the source is prepared. */
export type PasswordSpec =
  | { from: "file"; path: string }
  /** $CAMCTL_PASSWORD, as the environment had it. */
  | { from: "environment"; value: string }
  /** A hidden prompt (only on a terminal). `contextByName`: $CAMCTL_PASSWORD was not used because a context was chosen by name. */
  | { from: "prompt"; contextByName: boolean };

/** An XMPP login. */
export interface XmppTransport {
  kind: "xmpp";
  /** Account camctl logs in as (bare JID). */
  loginJid: string;
  password: PasswordSpec;
  server: { host: string; port: number | undefined } | undefined;
  tls: TlsMode;
  caFile: string | undefined;
}

export type Transport = SocketTransport | XmppTransport;

/** One server, resolved: how to reach it and how long to wait for it (--timeout, default applied). */
export interface ServerSpec<T extends Transport = Transport> {
  transport: T;
  timeoutSeconds: number;
}
