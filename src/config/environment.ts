// What camctl takes from the environment about servers and its config file, read in this one
// place. An empty variable counts as unset. Precedence over flags and contexts is decided in
// contexts.ts (applyContext); NO_COLOR / FORCE_COLOR belong to the terminal (term/iostreams.ts).

export interface ServerEnvironment {
  /** $CAMCTL_SOCKET: an admin socket on this machine. */
  socket: string | undefined;
  /** $CAMCTL_JID: log in over XMPP as this account (checked where it is used: server-spec.ts). */
  jid: string | undefined;
  /** $CAMCTL_PASSWORD: the XMPP password itself. */
  password: string | undefined;
  /** $CAMCTL_CONTEXT: the context to use. */
  context: string | undefined;
  /** $CAMCTL_CONFIG: the config file's path. */
  configFile: string | undefined;
  /** $XDG_CONFIG_HOME, where the config file is otherwise. */
  xdgConfigHome: string | undefined;
  /** $HOME, for ~ in the config file's paths. */
  home: string | undefined;
  /** $CAMCTL_WATCH_QUEUE: events the server holds per watcher before it drops (docs/watch.md). */
  watchQueue: string | undefined;
  /** $CAMCTL_CONTAINER_EXEC_TEMPLATE: tests only; replaces `<engine> exec -i <name>` (transports/container/route.ts). */
  containerExecTemplate: string | undefined;
  /** $CAMCTL_TEST_DOCKER_VOLUMES_DIR: tests only; replaces /var/lib/docker/volumes where doctor looks for a Snikket volume's socket (doctor/socket.ts). */
  dockerVolumesDir: string | undefined;
  /** $SUDO_USER: who ran camctl through sudo, named in Prosody's log by the socket path (untrusted: capped there). */
  sudoUser: string | undefined;
}

export function serverEnvironment(env: NodeJS.ProcessEnv): ServerEnvironment {
  const get = (name: string) => env[name] || undefined;
  return {
    socket: get("CAMCTL_SOCKET"),
    jid: get("CAMCTL_JID"),
    password: get("CAMCTL_PASSWORD"),
    context: get("CAMCTL_CONTEXT"),
    configFile: get("CAMCTL_CONFIG"),
    xdgConfigHome: get("XDG_CONFIG_HOME"),
    home: get("HOME"),
    watchQueue: get("CAMCTL_WATCH_QUEUE"),
    containerExecTemplate: get("CAMCTL_CONTAINER_EXEC_TEMPLATE"),
    dockerVolumesDir: get("CAMCTL_TEST_DOCKER_VOLUMES_DIR"),
    sudoUser: get("SUDO_USER"),
  };
}
