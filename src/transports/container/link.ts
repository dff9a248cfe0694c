// A link to the admin socket inside a container: `<engine> exec -i <name> perl -e <bridge> …`
// (or ssh running that on the container's host), its stdin/stdout relayed to a unix socket in a
// private directory, so the admin-socket client connects to it exactly as to a local Prosody
// (as the SSH exec route does, ssh/link.ts). The engine's stderr is never shown raw (diagnose.ts);
// the process group is killed on close, on abort (--timeout), and when camctl goes away.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { CamError } from "../../core/errors.js";
import { BRIDGE_READY } from "../ssh/bridge.js";
import { findProgram } from "../ssh/link.js";
import { CONTAINER_ENGINES, type ContainerEngine, type ContainerSpec, type SshSpec } from "../types.js";
import { containerCommand } from "./command.js";
import { diagnoseContainer, engineMissing, type ContainerEvidence } from "./diagnose.js";

export interface ContainerLinkOptions {
  container: ContainerSpec;
  /** The admin socket's path inside the container (checked: ssh/route.ts checkRemoteSocketPath). */
  socketPath: string;
  /** Run the engine on this SSH server. */
  ssh?: SshSpec;
  signal: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface ContainerLink {
  readonly localPath: string;
  readonly where: string;
  explain(err: unknown): Promise<unknown>;
  close(): Promise<void>;
}

const EXPLAIN_GRACE_MS = 400;
const KILL_GRACE_MS = 1_000;
const STDERR_SETTLE_MS = 100;
const MAX_STDERR_LINES = 400;
const MAX_LINE = 2_000;

/** The engine to run on this machine: the one named, or whichever is installed (docker first). */
export function chooseEngine(named: ContainerEngine | undefined, env: NodeJS.ProcessEnv): ContainerEngine {
  for (const engine of named ? [named] : CONTAINER_ENGINES) {
    if (findProgram(engine, env)) return engine;
  }
  throw engineMissing(named);
}

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

class BridgeProcessLink implements ContainerLink {
  readonly localPath: string;
  readonly where: string;
  private readonly dir: string;
  private child: ChildProcess | undefined;
  private server: Server | undefined;
  private relayed: Socket | undefined;
  private readonly stderr: string[] = [];
  private partial = "";
  private exit: ContainerEvidence["exit"];
  private exited: Promise<void> = Promise.resolve();
  private ready = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly changed = new Set<() => void>();

  constructor(private readonly o: ContainerLinkOptions, private readonly engine: ContainerEngine | undefined, private readonly program: string, private readonly args: string[]) {
    this.where = `the admin socket ${o.socketPath} in the container ${o.container.name}${o.ssh ? ` on ${o.ssh.target.host} (over SSH)` : ""}`;
    const t = (process.env.TMPDIR || "/tmp").replace(/(.)\/+$/, "$1");
    this.dir = mkdtempSync(join(t.length <= 60 ? t : "/tmp", "camctl-ctr-"));
    this.localPath = join(this.dir, "s");
  }

  private evidence(): ContainerEvidence {
    return {
      container: this.o.container,
      engine: this.o.container.execTemplate ? this.o.container.execTemplate[0] : this.engine,
      socketPath: this.o.socketPath,
      ssh: this.o.ssh,
      wasReady: this.ready,
      exit: this.exit,
      stderr: this.partial ? [...this.stderr, this.partial] : this.stderr,
    };
  }

  private notify(): void {
    for (const f of [...this.changed]) f();
  }

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

  private onStderr(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop()!.slice(0, MAX_LINE);
    for (const line of lines) {
      if (line === BRIDGE_READY) {
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
    await this.listen();
    // A process group of its own, so close() kills the engine's client and what it started at once.
    const child = spawn(this.program, this.args, { env: this.o.env ?? process.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    track(this);
    child.stdin!.on("error", () => undefined);
    child.stdout!.on("error", () => undefined);
    child.stdout!.pause(); // bytes wait in the pipe until the admin client connects
    child.stderr!.setEncoding("utf8").on("data", (d: string) => this.onStderr(d));
    this.exited = new Promise<void>((resolve) => {
      child.once("error", (err) => {
        this.exit ??= { code: null, signal: null };
        this.stderr.push(`${this.program}: ${err.message}`);
        this.notify();
        resolve();
      });
      child.once("exit", (code, sig) => {
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
    await this.waitUntil(() => this.ready || this.exit !== undefined, 24 * 3600_000);
    if (signal.aborted) {
      await this.close();
      throw signal.reason;
    }
    if (!this.ready || this.exit !== undefined) {
      await this.exited;
      const err = diagnoseContainer(this.evidence()) ?? new CamError("unreachable", "camctl could not open the link into the container.");
      await this.close();
      throw err;
    }
    signal.addEventListener("abort", () => void this.close(), { once: true });
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((conn) => {
        if (this.relayed || !this.child) {
          conn.destroy();
          return;
        }
        this.relayed = conn;
        conn.on("error", () => undefined);
        conn.pipe(this.child.stdin!);
        this.child.stdout!.pipe(conn);
      });
      this.server = server;
      server.once("error", reject);
      server.listen(this.localPath, () => resolve());
    });
  }

  async explain(err: unknown): Promise<unknown> {
    if (this.closed || this.o.signal.aborted) return err;
    if (!(err instanceof CamError) || err.kind !== "unreachable") return err;
    await this.waitUntil(() => this.exit !== undefined, EXPLAIN_GRACE_MS);
    if (this.o.signal.aborted) return err;
    return diagnoseContainer(this.evidence()) ?? err;
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
 * Opens the link. Resolves once the bridge inside has the admin socket open; rejects with one
 * sentence (CamError: 3 unreachable, 4 SSH login, 5 not permitted) or with the signal's reason.
 */
export async function openContainerLink(o: ContainerLinkOptions): Promise<ContainerLink> {
  const env = o.env ?? process.env;
  // Without ssh the engine is chosen here, from PATH; with ssh the server's shell chooses (command.ts).
  const engine = o.container.execTemplate || o.ssh ? o.container.engine : chooseEngine(o.container.engine, env);
  const { program, args } = containerCommand({ container: o.container, socketPath: o.socketPath, ssh: o.ssh, engine });
  const path = findProgram(program, env);
  if (!path) {
    if (o.ssh) throw new CamError("unreachable", "camctl reaches remote servers through the OpenSSH client, but ssh is not installed or not on PATH; install openssh-client.");
    throw engineMissing(o.container.execTemplate ? program : engine);
  }
  const link = new BridgeProcessLink(o, engine, path, args);
  try {
    await link.open();
  } catch (e) {
    await link.close();
    throw e;
  }
  return link;
}
