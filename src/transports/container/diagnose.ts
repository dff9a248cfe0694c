// Turns what the container engine printed and how it ended into ONE sentence and an exit code
// (3 cannot reach, 5 not permitted). The engine's stderr is matched against these messages of
// the engines themselves (docker CLI 20–29 with its daemon's answers, podman 4–5; nsenter for
// the test substitute, see docs/containers.md), and is only ever shown through displaySafe:
//
//   engine missing        (camctl finds neither on PATH; over ssh: our chooser's exit 45, or
//                         "sh: docker: not found" / exit 127 before the engine started)
//   daemon unreachable    docker: "Cannot connect to the Docker daemon at … Is the docker daemon running?"
//                         podman --remote: "Cannot connect to Podman"
//   permission denied     docker: "permission denied while trying to connect to the Docker daemon
//                         socket at …" (docker 29: "… to the docker API at …"), "… connect: permission denied"
//                         nsenter: "reassociate to namespace … failed: Operation not permitted"
//   no such container     docker: "No such container: <name>"
//                         podman: "no container with name or ID "<name>" found: no such container"
//                         nsenter: "cannot open /proc/<pid>/ns/…: No such file or directory"
//   container not running docker: "Container <id> is not running", "… is paused, unpause the
//                         container before exec", "… is restarting, wait until the container is running"
//                         podman: "can only create exec sessions on running containers: container state improper"
//   no perl inside        docker: `exec: "perl": executable file not found in $PATH` (126/127)
//                         podman: "executable file `perl` not found in $PATH" (127)
//                         nsenter: "failed to execute perl"
//   no socket inside      the bridge's own exit codes (ssh/bridge.ts), passed through by `exec`.
import { CamError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";
import { BRIDGE_EXIT, BRIDGE_READY } from "../ssh/bridge.js";
import { diagnoseSsh } from "../ssh/diagnose.js";
import type { ContainerSpec, SshSpec } from "../types.js";
import { NO_ENGINE_EXIT } from "./command.js";

export interface ContainerEvidence {
  container: ContainerSpec;
  /** The engine run ("docker", "podman"), or undefined when the SSH server's shell chose it. */
  engine: string | undefined;
  socketPath: string;
  ssh: SshSpec | undefined;
  wasReady: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  stderr: readonly string[];
}

const MAX_DETAIL = 160;

function detail(line: string): string {
  const s = displaySafe(line.replace(/^(Error( response from daemon)?|ssh|nsenter): /i, "").trim()).replace(/\.$/, "");
  return s.length > MAX_DETAIL ? `${s.slice(0, MAX_DETAIL - 1)}…` : s;
}

function lastMeaningful(stderr: readonly string[]): string | undefined {
  for (let i = stderr.length - 1; i >= 0; i--) {
    const l = stderr[i]!.trim();
    if (l === "" || l === BRIDGE_READY || /^Warning: Permanently added/.test(l)) continue;
    return l;
  }
  return undefined;
}

/** "the container snikket" or "the container snikket on xmpp.example.com". */
function containerWhere(e: Pick<ContainerEvidence, "container" | "ssh">): string {
  return `the container ${displaySafe(e.container.name)}${e.ssh ? ` on ${displaySafe(e.ssh.target.host)}` : ""}`;
}

const engineName = (e: Pick<ContainerEvidence, "engine">) => e.engine ?? "the container engine";

/** camctl found no engine to run (on this machine). */
export function engineMissing(engine: string | undefined): CamError {
  return new CamError("unreachable", engine === undefined
    ? "--container needs docker or podman, and neither is installed or on PATH here; install one, or add --ssh to run it on the container's host."
    : `--container-engine ${displaySafe(engine)} is not installed or not on PATH here; install it, or choose the other engine with --container-engine.`, "container-engine-missing");
}

/** The sentence for what the bridge found inside the container (its exit code). */
function socketInside(code: number | null, e: ContainerEvidence): CamError | undefined {
  const path = displaySafe(e.socketPath);
  const where = containerWhere(e);
  switch (code) {
    case BRIDGE_EXIT.missing:
      return new CamError("unreachable",
        `There is no admin socket at ${path} inside ${where}. Is Prosody running there with mod_admin_socket? Snikket's is /snikket/prosody/prosody.sock: give it with --socket.`, "container-no-socket");
    case BRIDGE_EXIT.permission:
      return new CamError("forbidden", `Inside ${where}, the exec user may not open the admin socket ${path}; run the engine's exec as root or as prosody.`, "container-socket-permission");
    case BRIDGE_EXIT.refused:
      return new CamError("unreachable", `Nothing is listening on the admin socket ${path} inside ${where} (a stale socket file?). Is Prosody running there?`, "container-no-socket");
    case BRIDGE_EXIT.notSocket:
      return new CamError("unreachable", `${path} inside ${where} is not a socket. Check --socket.`, "container-no-socket");
    case BRIDGE_EXIT.other:
      return new CamError("unreachable", `${where} could not open the admin socket ${path}${lastMeaningful(e.stderr) ? ` (${detail(lastMeaningful(e.stderr)!)})` : ""}.`, "container-no-socket");
    default:
      return undefined;
  }
}

const has = (stderr: readonly string[], re: RegExp) => stderr.some((l) => re.test(l));

/** What went wrong; undefined when nothing says the link failed (then the caller's own error stands). */
export function diagnoseContainer(e: ContainerEvidence): CamError | undefined {
  const { stderr } = e;
  const where = containerWhere(e);
  const name = displaySafe(e.container.name);
  const engine = engineName(e);
  if (!e.exit) return undefined;
  if (e.wasReady && e.exit.code === 0 && e.exit.signal === null) return undefined;

  if (!e.wasReady) {
    const inside = socketInside(e.exit.code, e);
    if (inside && has(stderr, /^camctl-bridge: /)) return inside;
  }
  if (has(stderr, /permission denied while trying to connect to the docker|dial unix .*: connect: permission denied|reassociate to namespace .* failed: Operation not permitted/i)) {
    return new CamError("forbidden",
      `${e.ssh ? `On ${displaySafe(e.ssh.target.host)}, this` : "This"} account may not use ${engine}'s socket to reach ${where}; add it to the docker group, or run camctl as root${e.ssh ? " there" : ""}.`, "container-engine-permission");
  }
  if (has(stderr, /Cannot connect to the Docker daemon|Is the docker daemon running|Cannot connect to Podman/i)) {
    return new CamError("unreachable",
      `${engine === "the container engine" ? "The container engine" : displaySafe(engine)}${e.ssh ? ` on ${displaySafe(e.ssh.target.host)}` : ""} cannot reach its daemon (${detail(stderr.find((l) => /Cannot connect/i.test(l))!)}); is it running, or should DOCKER_HOST name another one?`, "container-engine-down");
  }
  if (has(stderr, /No such container|no container with name or ID|nsenter: cannot open \/proc\/\d+\/ns\/.*No such file or directory/i)) {
    return new CamError("unreachable",
      `There is no container named ${name}${e.ssh ? ` on ${displaySafe(e.ssh.target.host)}` : ""}; \`${e.engine === "podman" ? "podman" : "docker"} ps\` lists the running ones${e.engine === "podman" ? " (podman shows each user only their own containers: run camctl as the user who started it)" : ""}.`, "container-missing");
  }
  if (has(stderr, /Container \S+ is (not running|paused|restarting)|container state improper|exec sessions on running containers/i)) {
    return new CamError("unreachable", `The container ${name}${e.ssh ? ` on ${displaySafe(e.ssh.target.host)}` : ""} is not running; start it (docker compose up -d) and retry.`, "container-not-running");
  }
  if (has(stderr, /exec: "perl": executable file not found|executable file `perl` not found|nsenter: failed to execute perl/)) {
    return new CamError("unreachable", `${where} has no perl, which camctl's bridge needs; reach the socket through the volume instead (docs/containers.md).`, "container-no-perl");
  }
  if (e.exit.code === NO_ENGINE_EXIT && has(stderr, /^camctl: neither docker nor podman/)) {
    return new CamError("unreachable", `Neither docker nor podman is installed on ${displaySafe(e.ssh?.target.host ?? "the server")} (or not on the SSH account's PATH); name it with --container-engine.`, "container-engine-missing");
  }
  if (e.ssh) {
    const sshError = diagnoseSsh({ target: e.ssh.target, route: "exec", remoteSocket: e.socketPath, sudoUser: "prosody", wasReady: e.wasReady, exit: e.exit, stderr });
    // ssh's own failures (host key, login, connection; ssh exits 255) stand; the far end is ours to say.
    if (sshError && (sshError.kind === "auth" || e.exit.code === 255 || has(stderr, /^ssh: |kex_exchange_identification/))) return sshError;
    if (!e.wasReady && (e.exit.code === 127 || has(stderr, /(docker|podman): (command )?not found/))) {
      return new CamError("unreachable", `${displaySafe(engine)} is not installed on ${displaySafe(e.ssh.target.host)} (or not on the SSH account's PATH).`, "container-engine-missing");
    }
  }
  const why = lastMeaningful(stderr);
  const how = why ? detail(why) : e.exit.signal ? `ended by ${e.exit.signal}` : `exit status ${e.exit.code}`;
  if (!e.wasReady) return new CamError("unreachable", `${displaySafe(engine)} could not reach the admin socket inside ${where}: ${how}.`);
  return new CamError("unreachable",
    `The link into ${where} was lost before Prosody answered (${how}). A revocation may or may not have been done: list the clients again to see.`, "container-link-lost");
}
