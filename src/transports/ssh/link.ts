// A link to a remote Prosody's admin socket through the system's OpenSSH client. camctl handles
// no SSH secret: ~/.ssh/config, the agent, known_hosts and ProxyJump apply as for `ssh host`.
//
// The link ends in a unix socket in a private directory on this machine (process-link.ts), so the
// admin-socket client (socket/adminstream.ts) connects to it exactly as to a local Prosody. Routes:
//   forward (default)  ssh -N -L <private>/s:<remote socket>: OpenSSH's own unix-socket
//                      forwarding; the server needs nothing but sshd's defaults.
//   exec / sudo        ssh runs a Perl bridge on the server (bridge.ts), as the login user or
//                      through `sudo -n -u prosody`; camctl relays the private socket to it.
// ssh never prompts (BatchMode) and its stderr is never shown raw (diagnose.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { CamError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";
import { EXPLAIN_GRACE_MS, findProgram, ProcessLink } from "../process-link.js";
import type { SshRoute, SshSpec, SshTarget } from "../types.js";
import { BRIDGE_READY, bridgeCommand } from "./bridge.js";
import { diagnoseSsh, remoteSocketError, socketProblemFromExit, type SshEvidence } from "./diagnose.js";
import { formatSshTarget, sshDestinationArgs } from "./target.js";

/** What a link is opened with: the resolved spec (every value checked before; see config/server-spec.ts), the deadline. */
export interface SshLinkOptions {
  /** Target, route, sudo user and extra ssh arguments (they come before camctl's defaults, so they win over them). */
  ssh: SshSpec;
  /** Absolute path of the admin socket on the server (checked by route.ts's checkRemoteSocketPath). */
  remoteSocket: string;
  /** The operation's deadline: aborting it kills ssh and rejects a pending open. */
  signal: AbortSignal;
  /** The ssh program (default: "ssh" from PATH). */
  program?: string;
  env?: NodeJS.ProcessEnv;
}

export interface SshLink {
  /** The private unix socket to connect to instead of the admin socket. */
  readonly localPath: string;
  readonly target: SshTarget;
  /** For messages: "the admin socket /var/lib/prosody/prosody.sock on admin@xmpp.example.com (over SSH)". */
  readonly where: string;
  /**
   * Given an error from the admin-socket client, the error to report: the link's own failure
   * when ssh says (or soon says) the link broke, otherwise `err` unchanged.
   */
  explain(err: unknown): Promise<unknown>;
  /** Kills ssh (if still running) and removes the private directory. Idempotent. */
  close(): Promise<void>;
}

/** What the forward route's LocalCommand prints on ssh's stdout once the forwarding listens. */
const FORWARD_READY = "camctl-link-ready";

/** ssh options camctl always sets, first, so neither ssh_config nor extra arguments can change them. */
const FIXED_OPTIONS = [
  "BatchMode=yes", // never prompt: no password, passphrase or host-key question
  "ControlMaster=no", // a forwarding added to a shared master would outlive camctl
  "ControlPath=none",
  "ForwardAgent=no",
  "ForwardX11=no",
];
/** Defaults after the extra arguments: the operator's -o options win. */
const DEFAULT_OPTIONS = [
  // ssh's default level, even if ssh_config lowers it: "channel N: open failed" (the far end
  // refused the socket) is an INFO message, and diagnose.ts needs it.
  "LogLevel=INFO",
  "ServerAliveInterval=10", // a silently dead link ends within ~30 s even on a long scan
  "ServerAliveCountMax=3",
];

// Keeps the forwarding ssh tied to camctl: it reads camctl's pipe and kills ssh when the pipe
// closes, which also happens when camctl dies without cleaning up (SIGKILL); then it removes the
// socket file and the (then empty) private directory, $1. ssh's status is the script's status.
// stdin of background jobs is /dev/null in sh, hence fd 3.
const WATCHDOG =
  'd=$1; shift; exec 3<&0; "$@" </dev/null 3<&- & p=$!; ' +
  '{ while read -r _ <&3; do :; done; kill -TERM "$p" 2>/dev/null; } & w=$!; ' +
  'exec 3<&-; wait "$p"; s=$?; kill "$w" 2>/dev/null; rm -f "$d/s"; rmdir "$d" 2>/dev/null; exit "$s"';

const PROBE_TIMEOUT_MS = 5_000;

/** No OpenSSH client on this machine (--ssh, and --container with --ssh). */
export function sshMissing(): CamError {
  return new CamError("unreachable", "camctl reaches remote servers through the OpenSSH client, but ssh is not installed or not on PATH; install openssh-client.");
}

/** ssh's arguments to run `remoteCommand` (one string, for the login shell) with stdin/stdout as the stream: the exec and sudo routes, and --container with --ssh. */
export function sshExecArgs(ssh: SshSpec, remoteCommand: string): string[] {
  const args: string[] = [];
  for (const opt of FIXED_OPTIONS) args.push("-o", opt);
  // stdout carries the admin stream here: no LocalCommand may write to it.
  args.push("-T", "-o", "PermitLocalCommand=no");
  args.push(...ssh.extraArgs);
  for (const opt of DEFAULT_OPTIONS) args.push("-o", opt);
  args.push(...sshDestinationArgs(ssh.target), remoteCommand);
  return args;
}

class OpenSshLink extends ProcessLink implements SshLink {
  readonly target: SshTarget;
  readonly where: string;
  private readonly route: SshRoute;
  private readonly sudoUser: string;

  constructor(private readonly o: SshLinkOptions, private readonly program: string) {
    super(o.signal, "camctl-ssh-");
    this.target = o.ssh.target;
    this.route = o.ssh.route;
    this.sudoUser = o.ssh.sudoUser ?? "prosody";
    this.where = `the admin socket ${o.remoteSocket} on ${formatSshTarget(this.target)} (over SSH)`;
  }

  protected isReadyLine(line: string): boolean {
    return line === BRIDGE_READY && this.route !== "forward";
  }

  private evidence(): SshEvidence {
    return {
      target: this.target,
      route: this.route,
      remoteSocket: this.o.remoteSocket,
      sudoUser: this.sudoUser,
      wasReady: this.ready,
      exit: this.exit,
      stderr: this.stderrLines(),
    };
  }

  private sshArgs(forProbe = false): string[] {
    const args: string[] = [];
    for (const opt of FIXED_OPTIONS) args.push("-o", opt);
    if (this.route === "forward" && !forProbe) {
      // The readiness signal: ssh runs LocalCommand only once its -L listener listens (the socket
      // file alone appears at bind(), a moment before listen()); its output goes to ssh's stdout.
      args.push("-o", "PermitLocalCommand=yes", "-o", `LocalCommand=echo ${FORWARD_READY}`);
      args.push("-N", "-o", "ExitOnForwardFailure=yes", "-o", "StreamLocalBindUnlink=yes", "-o", "StreamLocalBindMask=0177",
        "-L", `${this.localPath}:${this.o.remoteSocket}`);
    } else {
      return sshExecArgs(this.o.ssh, bridgeCommand({
        remoteSocket: this.o.remoteSocket,
        sudoUser: this.route === "sudo" ? this.sudoUser : undefined,
        probe: forProbe,
      }));
    }
    args.push(...this.o.ssh.extraArgs);
    for (const opt of DEFAULT_OPTIONS) args.push("-o", opt);
    args.push(...sshDestinationArgs(this.target));
    return args;
  }

  async open(): Promise<void> {
    const env = this.o.env ?? process.env;
    // forward: ssh serves the private socket itself, under the watchdog; exec/sudo: the private
    // socket is relayed to the bridge's stdin/stdout.
    const forward = this.route === "forward";
    const child = await this.start(forward
      ? { program: "/bin/sh", args: ["-c", WATCHDOG, "camctl-ssh", this.dir, this.program, ...this.sshArgs()], env, relay: false, name: "ssh" }
      : { program: this.program, args: this.sshArgs(), env, relay: true, name: "ssh" });
    if (forward) this.watchForwardReady(child);
    await this.becomeReady(() => diagnoseSsh(this.evidence()), `ssh could not set up the link to ${displaySafe(formatSshTarget(this.target))}.`);
  }

  private watchForwardReady(child: ChildProcess): void {
    let seen = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      if (this.ready) return;
      seen = (seen + d).slice(-200);
      if (seen.split(/\r?\n/).includes(FORWARD_READY)) {
        this.ready = true;
        this.notify();
      }
    });
  }

  async explain(err: unknown): Promise<unknown> {
    if (!this.mayExplain(err)) return err;
    const openFailed = () => this.stderrLines().some((l) => /open failed/.test(l));
    await this.waitUntil(() => this.exit !== undefined || openFailed(), EXPLAIN_GRACE_MS);
    if (this.signal.aborted) return err;
    const ev = this.evidence();
    if (this.route === "forward" && ev.stderr.some((l) => /open failed: connect failed/.test(l))) {
      // sshd says only "open failed"; ask the server what is wrong with the socket, if we may.
      const problem = await this.probe();
      if (problem) return remoteSocketError(problem, ev);
    }
    return diagnoseSsh(ev) ?? err;
  }

  /** Runs the bridge in probe mode; undefined when that is not possible (no shell, no perl). */
  private async probe(): Promise<ReturnType<typeof socketProblemFromExit>> {
    if (this.signal.aborted) return undefined;
    const child = spawn(this.program, this.sshArgs(true), { env: this.o.env ?? process.env, detached: true, stdio: ["ignore", "ignore", "ignore"] });
    const done = new Promise<number | null>((resolve) => {
      child.once("error", () => resolve(null));
      child.once("exit", (code) => resolve(code));
    });
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone already
      }
    };
    this.signal.addEventListener("abort", kill, { once: true });
    const timer = setTimeout(kill, PROBE_TIMEOUT_MS);
    try {
      return socketProblemFromExit(await done);
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener("abort", kill);
    }
  }
}

/**
 * Opens a link to `remoteSocket` on `target` through OpenSSH. Resolves once the private socket
 * (`localPath`) is ready; rejects with one sentence (CamError: 3 unreachable, 4 host key / login
 * refused, 5 not permitted) or with the signal's reason when the deadline fires first.
 */
export async function openSshLink(o: SshLinkOptions): Promise<SshLink> {
  const env = o.env ?? process.env;
  const program = findProgram(o.program ?? "ssh", env);
  if (!program) throw sshMissing();
  return ProcessLink.opened(new OpenSshLink(o, program));
}
