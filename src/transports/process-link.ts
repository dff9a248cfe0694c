// The part every link through a helper process shares (ssh/link.ts: OpenSSH; container/link.ts:
// `<engine> exec` with the Perl bridge): a unix socket in a private directory on this machine that
// the admin-socket client connects to as to a local Prosody; the helper's stderr, kept (bounded)
// as evidence and never shown raw; the readiness signal; and the helper's process group, killed on
// close, on abort (the deadline), and when camctl itself goes away.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { delimiter, isAbsolute, join } from "node:path";
import { CamError } from "../core/errors.js";

/** How long an error from the socket client waits for the helper to say why the link broke. */
export const EXPLAIN_GRACE_MS = 400;
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

// Links still open when camctl exits are killed synchronously (process groups, see spawn below).
const live = new Set<ProcessLink>();
let exitHookInstalled = false;
function track(link: ProcessLink): void {
  live.add(link);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const l of live) l.killNow();
    });
  }
}

/** How the helper ended: undefined while it runs. */
export type HelperExit = { code: number | null; signal: NodeJS.Signals | null } | undefined;

export abstract class ProcessLink {
  /** The private unix socket to connect to instead of the admin socket. */
  readonly localPath: string;
  /** Its directory: created 0700 by mkdtemp, so only this user can reach the socket inside. */
  protected readonly dir: string;
  protected child: ChildProcess | undefined;
  protected exit: HelperExit;
  protected exited: Promise<void> = Promise.resolve();
  protected ready = false;
  protected closed = false;
  private server: Server | undefined;
  private relayed: Socket | undefined;
  private readonly stderr: string[] = [];
  private partial = "";
  private closing: Promise<void> | undefined;
  private readonly changed = new Set<() => void>();

  constructor(protected readonly signal: AbortSignal, dirPrefix: string) {
    // Short base: sun_path. $TMPDIR as os.tmpdir() reads it on Linux; node:os itself is kept off
    // camctl's start-up path.
    const t = (process.env.TMPDIR || "/tmp").replace(/(.)\/+$/, "$1");
    this.dir = mkdtempSync(join(t.length <= 60 ? t : "/tmp", dirPrefix));
    this.localPath = join(this.dir, "s");
  }

  /** Whether this stderr line is the helper's "ready" signal (it is then not kept as evidence). */
  protected abstract isReadyLine(line: string): boolean;

  /** The helper's stderr so far, for diagnosis. */
  protected stderrLines(): string[] {
    return this.partial ? [...this.stderr, this.partial] : this.stderr;
  }

  protected notify(): void {
    for (const f of [...this.changed]) f();
  }

  /** Resolves when `done()` holds, `ms` passed, or the deadline fired (whichever first). */
  protected waitUntil(done: () => boolean, ms: number): Promise<void> {
    if (done() || this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.changed.delete(check);
        this.signal.removeEventListener("abort", finish);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, ms);
      this.changed.add(check);
      this.signal.addEventListener("abort", finish, { once: true });
    });
  }

  private onStderr(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop()!.slice(0, MAX_LINE);
    for (const line of lines) {
      if (this.isReadyLine(line)) {
        this.ready = true;
        continue;
      }
      this.stderr.push(line.slice(0, MAX_LINE));
    }
    if (this.stderr.length > MAX_STDERR_LINES) this.stderr.splice(0, this.stderr.length - MAX_STDERR_LINES);
    this.notify();
  }

  /**
   * Starts the helper and waits until it is ready. With `relay`, the private socket is relayed to
   * the helper's stdin/stdout (one connection); otherwise the helper serves the socket itself.
   * Then becomeReady() waits for it. `name` prefixes a spawn failure in the evidence.
   */
  protected async start(o: { program: string; args: string[]; env: NodeJS.ProcessEnv; relay: boolean; name: string }): Promise<ChildProcess> {
    this.signal.throwIfAborted();
    if (o.relay) await this.listen();
    // A process group of its own (detached), so close() kills the helper and everything it
    // started at once; its stdin (or ssh's watchdog) still ties it to camctl's life.
    const child = spawn(o.program, o.args, { env: o.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    track(this);
    child.stdin!.on("error", () => undefined); // helper gone: its exit says why
    child.stderr!.setEncoding("utf8").on("data", (d: string) => this.onStderr(d));
    this.exited = new Promise<void>((resolve) => {
      child.once("error", (err) => {
        this.exit ??= { code: null, signal: null };
        this.stderr.push(`${o.name}: ${err.message}`);
        this.notify();
        resolve();
      });
      child.once("exit", (code, sig) => {
        // Let the helper's last words arrive before deciding what happened (briefly: a
        // ProxyCommand may hold stderr open longer than ssh lives).
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
    if (o.relay) {
      child.stdout!.on("error", () => undefined);
      child.stdout!.pause(); // bytes wait in the pipe until the admin client connects
    }
    return child;
  }

  /**
   * After start(): waits for readiness, the helper's end or the deadline. Rejects with
   * `diagnose()`'s error (or `fallback`) when the helper ended first, or with the signal's reason;
   * the link is closed then.
   */
  protected async becomeReady(diagnose: () => unknown, fallback: string): Promise<void> {
    await this.waitUntil(() => this.ready || this.exit !== undefined, 24 * 3600_000);
    if (this.signal.aborted) {
      await this.close();
      throw this.signal.reason;
    }
    if (!this.ready || this.exit !== undefined) {
      await this.exited;
      const err = diagnose() ?? new CamError("unreachable", fallback);
      await this.close();
      throw err;
    }
    this.signal.addEventListener("abort", () => void this.close(), { once: true });
  }

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

  /** Whether an error from the socket client may be the link's own failure, worth explaining. */
  protected mayExplain(err: unknown): boolean {
    return !this.closed && !this.signal.aborted && err instanceof CamError && err.kind === "unreachable";
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

  /** Opens `link`, closing it (process and private directory) when opening fails. */
  static async opened<L extends ProcessLink & { open(): Promise<void> }>(link: L): Promise<L> {
    try {
      await link.open();
    } catch (e) {
      await link.close();
      throw e;
    }
    return link;
  }

  /** Kills the helper (if still running) and removes the private directory. Idempotent. */
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
