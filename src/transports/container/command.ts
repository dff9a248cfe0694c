// The command line of the container route, pure (unit-tested word for word):
//   <engine> exec -i <name> perl -e <bridge> -- <socket>                  on this machine
//   ssh … <host> '<engine>' 'exec' '-i' '<name>' 'perl' '-e' '<bridge>' … on the SSH server
// The bridge is the SSH exec route's (ssh/bridge.ts): nothing is installed in the container;
// perl is in every Debian-based image (Snikket's, prosody/prosody's).
import { bridgeWords, remoteCommandLine } from "../ssh/bridge.js";
import { sshExecArgs } from "../ssh/link.js";
import type { ContainerEngine, ContainerSpec, SshSpec } from "../types.js";

/** Exit status of the engine chooser on an SSH server when neither engine is installed there. */
export const NO_ENGINE_EXIT = 45;

// With --ssh and no --container-engine, the server's shell picks the engine (docker first).
// No single quote or exclamation mark: it travels single-quoted (bridge.ts's quoting).
const CHOOSE_ENGINE =
  'for e in docker podman; do if command -v "$e" >/dev/null 2>&1; then exec "$e" exec -i "$0" "$@"; fi; done; ' +
  `echo "camctl: neither docker nor podman is installed" >&2; exit ${NO_ENGINE_EXIT}`;

/** The words that run the bridge's words inside the container: `<engine> exec -i <name>`, or the test template. */
export function execPrefix(container: ContainerSpec, engine: ContainerEngine | undefined): string[] {
  if (container.execTemplate) return container.execTemplate.map((w) => w.replaceAll("{name}", container.name));
  if (engine === undefined) return ["sh", "-c", CHOOSE_ENGINE, container.name];
  return [engine, "exec", "-i", container.name];
}

export interface ContainerCommandOptions {
  container: ContainerSpec;
  /** The admin socket's path inside the container. */
  socketPath: string;
  /** Run the engine on this SSH server. */
  ssh?: SshSpec;
  /**
   * The engine to run on this machine (without ssh: decided before, from PATH, when the spec
   * names none); with ssh, undefined lets the server's shell choose.
   */
  engine: ContainerEngine | undefined;
  probe?: boolean;
}

/** The program and its arguments. */
export function containerCommand(o: ContainerCommandOptions): { program: string; args: string[] } {
  const words = [...execPrefix(o.container, o.engine), ...bridgeWords(o.socketPath, o.probe)];
  if (o.ssh) return { program: "ssh", args: sshExecArgs(o.ssh, remoteCommandLine(words)) };
  return { program: words[0]!, args: words.slice(1) };
}
