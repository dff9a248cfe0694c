// A link to a remote Prosody's admin socket through the system's OpenSSH client. camctl handles
// no SSH secret: ~/.ssh/config, the agent, known_hosts and ProxyJump apply as for `ssh host`.
//
// The link ends in a unix socket in a private directory on this machine, so the admin-socket
// client (socket/adminstream.ts) connects to it exactly as to a local Prosody. Routes:
//   forward (default)  ssh -N -L <private>/s:<remote socket>: OpenSSH's own unix-socket
//                      forwarding; the server needs nothing but sshd's defaults.
//   exec / sudo        ssh runs a Perl bridge on the server (bridge.ts), as the login user or
//                      through `sudo -n -u prosody`; camctl relays the private socket to it.
// ssh never prompts (BatchMode), its stderr is never shown raw (diagnose.ts), and the ssh
// process is killed on close, on abort, and when camctl itself goes away.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { delimiter, isAbsolute, join } from "node:path";
import { CamError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";
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

/** How long an error from the socket client waits for ssh to say why the link broke. */
const EXPLAIN_GRACE_MS = 400;
const PROBE_TIMEOUT_MS = 5_000;
const KILL_GRACE_MS = 1_000;
const STDERR_SETTLE_MS = 100;
const MAX_STDERR_LINES = 400;
const MAX_LINE = 2_000;


/** Finds `program` the way a shell would; undefined when it is not there. */
export function findProgram(program: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates = program.includes("/") ? [program] : (env.PATH ?? "/usr/bin:/bin").split(delimiter).filter(isAbsolute).map((d) => join(d, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return undefined;
}

function privateDir(): string {
  // mkdtemp creates it 0700: only this user can reach the socket inside. Short base: sun_path.
  // $TMPDIR as os.tmpdir() reads it on Linux; node:os itself is kept off camctl's start-up path.
  const t = (process.env.TMPDIR || "/tmp").replace(/(.)\/+$/, "$1");
  return mkdtempSync(join(t.length <= 60 ? t : "/tmp", "camctl-ssh-"));
}

// Links still open when camctl exits are killed synchronously (process groups, see spawn below).
const live = new Set<{ killNow(): void }>();
let exitHookInstalled = false;
function track(link: { killNow(): void }): void {
  live.add(link);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const l of live) l.killNow();
    });
  }
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

class OpenSshLink implements SshLink {
  readonly localPath: string;
  readonly target: SshTarget;
  readonly where: string;
  private readonly dir: string;
  private readonly route: SshRoute;
  private readonly sudoUser: string;
  private readonly program: string;
  private child: ChildProcess | undefined;
  private server: Server | undefined;
  private relayed: Socket | undefined;
  private readonly stderr: string[] = [];
  private partial = "";
  private exit: SshEvidence["exit"];
  private exited: Promise<void> = Promise.resolve();
  private ready = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly changed = new Set<() => void>();

  constructor(private readonly o: SshLinkOptions, program: string) {
    this.target = o.ssh.target;
    this.route = o.ssh.route;
    this.sudoUser = o.ssh.sudoUser ?? "prosody";
    this.program = program;
    this.where = `the admin socket ${o.remoteSocket} on ${formatSshTarget(this.target)} (over SSH)`;
    this.dir = privateDir();
    this.localPath = join(this.dir, "s");
  }

  private evidence(): SshEvidence {
    return {
      target: this.target,
      route: this.route,
      remoteSocket: this.o.remoteSocket,
      sudoUser: this.sudoUser,
      wasReady: this.ready,
      exit: this.exit,
      stderr: this.partial ? [...this.stderr, this.partial] : this.stderr,
    };
  }

  private notify(): void {
    for (const f of [...this.changed]) f();
  }

  /** Resolves when `done()` holds, `ms` passed, or the deadline fired (whichever first). */
  private waitUntil(done: () => boolean, ms: number): Promise<void> {
    if (done() || this.o.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.changed.delete(check);
        this.o.signal.removeEventListener("abort", finish);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, ms);
      this.changed.add(check);
      this.o.signal.addEventListener("abort", finish, { once: true });
    });
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

  private onStderr(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop()!.slice(0, MAX_LINE);
    for (const line of lines) {
      if (line === BRIDGE_READY && this.route !== "forward") {
        this.ready = true;
        continue;
      }
      this.stderr.push(line.slice(0, MAX_LINE));
    }
    if (this.stderr.length > MAX_STDERR_LINES) this.stderr.splice(0, this.stderr.length - MAX_STDERR_LINES);
    this.notify();
  }

  async open(): Promise<void> {
    const { signal } = this.o;
    signal.throwIfAborted();
    if (this.route !== "forward") await this.listen();
    const env = this.o.env ?? process.env;
    // A process group of its own (detached), so close() can kill ssh and everything it started
    // at once; the watchdog / the bridge's stdin still ties it to camctl's life.
    const child =
      this.route === "forward"
        ? spawn("/bin/sh", ["-c", WATCHDOG, "camctl-ssh", this.dir, this.program, ...this.sshArgs()], { env, detached: true, stdio: ["pipe", "pipe", "pipe"] })
        : spawn(this.program, this.sshArgs(), { env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    track(this);
    child.stdin!.on("error", () => undefined); // ssh gone: its exit says why
    child.stderr!.setEncoding("utf8").on("data", (d: string) => this.onStderr(d));
    this.exited = new Promise<void>((resolve) => {
      child.once("error", (err) => {
        this.exit ??= { code: null, signal: null };
        this.stderr.push(`ssh: ${err.message}`);
        this.notify();
        resolve();
      });
      child.once("exit", (code, sig) => {
        // Let ssh's last words arrive before deciding what happened (briefly: a ProxyCommand
        // may hold stderr open longer than ssh lives).
        const settle = () => {
          clearTimeout(timer);
          if (this.exit !== undefined) return;
          this.exit = { code, signal: sig };
          this.notify();
          resolve();
        };
        const timer = setTimeout(settle, STDERR_SETTLE_MS);
        if (child.stderr!.readableEnded || child.stderr!.destroyed) settle();
        else child.stderr!.once("close", settle);
      });
    });
    if (this.route !== "forward") this.relayStdio(child);
    else this.watchForwardReady(child);
    await this.waitUntil(() => this.ready || this.exit !== undefined, 24 * 3600_000);
    if (signal.aborted) {
      await this.close();
      throw signal.reason;
    }
    if (!this.ready || this.exit !== undefined) {
      await this.exited;
      const err = diagnoseSsh(this.evidence()) ?? new CamError("unreachable", `ssh could not set up the link to ${displaySafe(formatSshTarget(this.target))}.`);
      await this.close();
      throw err;
    }
    signal.addEventListener("abort", () => void this.close(), { once: true });
  }

  /** exec/sudo routes: the private socket, relayed to the bridge's stdin/stdout; one connection. */
  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((conn) => {
        if (this.relayed || !this.child) {
          conn.destroy();
          return;
        }
        this.relayed = conn;
        const child = this.child;
        conn.on("error", () => undefined);
        conn.pipe(child.stdin!);
        child.stdout!.pipe(conn);
      });
      this.server = server;
      server.once("error", reject);
      server.listen(this.localPath, () => resolve());
    });
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

  private relayStdio(child: ChildProcess): void {
    child.stdout!.on("error", () => undefined);
    // Bytes that arrive before anyone connected wait in the pipe; nothing is read until then.
    child.stdout!.pause();
  }

  async explain(err: unknown): Promise<unknown> {
    if (this.closed || this.o.signal.aborted) return err;
    if (!(err instanceof CamError) || err.kind !== "unreachable") return err;
    const openFailed = () => this.evidence().stderr.some((l) => /open failed/.test(l));
    await this.waitUntil(() => this.exit !== undefined || openFailed(), EXPLAIN_GRACE_MS);
    if (this.o.signal.aborted) return err;
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
    if (this.o.signal.aborted) return undefined;
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
    this.o.signal.addEventListener("abort", kill, { once: true });
    const timer = setTimeout(kill, PROBE_TIMEOUT_MS);
    try {
      return socketProblemFromExit(await done);
    } finally {
      clearTimeout(timer);
      this.o.signal.removeEventListener("abort", kill);
    }
  }

  killNow(): void {
    const pid = this.child?.pid;
    if (pid !== undefined && this.exit === undefined) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    this.relayed?.destroy();
    this.server?.close();
    const child = this.child;
    if (child?.pid !== undefined && this.exit === undefined) {
      child.stdin?.end();
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone already
      }
      const grace = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // gone already
        }
      }, KILL_GRACE_MS);
      await this.exited;
      clearTimeout(grace);
    }
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
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
  if (!program) {
    throw new CamError("unreachable", "camctl reaches remote servers through the OpenSSH client, but ssh is not installed or not on PATH; install openssh-client.");
  }
  const link = new OpenSshLink(o, program);
  try {
    await link.open();
  } catch (e) {
    await link.close();
    throw e;
  }
  return link;
}
