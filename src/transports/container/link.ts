// A link to the admin socket inside a container: `<engine> exec -i <name> perl -e <bridge> …`
// (or ssh running that on the container's host), its stdin/stdout relayed to the private socket
// (process-link.ts), so the admin-socket client connects to it exactly as to a local Prosody (as
// the SSH exec route does, ssh/link.ts). The engine's stderr is never shown raw (diagnose.ts).
import { findProgram, EXPLAIN_GRACE_MS, ProcessLink } from "../process-link.js";
import { BRIDGE_READY } from "../ssh/bridge.js";
import { sshMissing } from "../ssh/link.js";
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

/** The engine to run on this machine: the one named, or whichever is installed (docker first). */
export function chooseEngine(named: ContainerEngine | undefined, env: NodeJS.ProcessEnv): ContainerEngine {
  for (const engine of named ? [named] : CONTAINER_ENGINES) {
    if (findProgram(engine, env)) return engine;
  }
  throw engineMissing(named);
}

class BridgeProcessLink extends ProcessLink implements ContainerLink {
  readonly where: string;

  constructor(private readonly o: ContainerLinkOptions, private readonly engine: ContainerEngine | undefined, private readonly program: string, private readonly args: string[]) {
    super(o.signal, "camctl-ctr-");
    this.where = `the admin socket ${o.socketPath} in the container ${o.container.name}${o.ssh ? ` on ${o.ssh.target.host} (over SSH)` : ""}`;
  }

  protected isReadyLine(line: string): boolean {
    return line === BRIDGE_READY;
  }

  private evidence(): ContainerEvidence {
    return {
      container: this.o.container,
      engine: this.o.container.execTemplate ? this.o.container.execTemplate[0] : this.engine,
      socketPath: this.o.socketPath,
      ssh: this.o.ssh,
      wasReady: this.ready,
      exit: this.exit,
      stderr: this.stderrLines(),
    };
  }

  async open(): Promise<void> {
    await this.start({ program: this.program, args: this.args, env: this.o.env ?? process.env, relay: true, name: this.program });
    await this.becomeReady(() => diagnoseContainer(this.evidence()), "camctl could not open the link into the container.");
  }

  async explain(err: unknown): Promise<unknown> {
    if (!this.mayExplain(err)) return err;
    await this.waitUntil(() => this.exit !== undefined, EXPLAIN_GRACE_MS);
    if (this.signal.aborted) return err;
    return diagnoseContainer(this.evidence()) ?? err;
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
    throw o.ssh ? sshMissing() : engineMissing(o.container.execTemplate ? program : engine);
  }
  return ProcessLink.opened(new BridgeProcessLink(o, engine, path, args));
}
