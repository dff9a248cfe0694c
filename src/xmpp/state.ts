// What camctl keeps between runs for the XMPP transport, in the user's XDG state directory
// ($XDG_STATE_HOME/camctl, default ~/.local/state/camctl; env-paths' "log" path on Linux):
//   user-agent-id  the SASL2 <user-agent id> of this installation (XEP-0388 §2.1: a UUID v4
//                  generated once and kept, so every run is the same client in the server's list)
//   servers.json   per server host: which client-management namespace answered last time
// No FAST token is kept because camctl never asks for one (see login.ts). Directory 0700, files 0600.
// https://xmpp.org/extensions/xep-0388.html#initiation (user-agent)
import { createHash, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import envPaths from "env-paths";

export const USER_AGENT_ID_FILE = "user-agent-id";
export const SERVERS_FILE = "servers.json";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** $XDG_STATE_HOME/camctl (or the platform's equivalent). */
export function defaultStateDir(): string {
  return envPaths("camctl", { suffix: "" }).log;
}

interface ServersFile {
  version: 1;
  /** server host (JID domain) -> namespace that answered */
  namespaces: Record<string, string>;
}

export class CamState {
  /** Problems met while persisting (shown once as a warning; never fatal). */
  readonly warnings: string[] = [];

  constructor(readonly dir: string = defaultStateDir()) {}

  private ensureDir(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(this.dir);
    // Tighten a directory we own that someone made group/world accessible.
    if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(this.dir, 0o700);
  }

  private tempPath(name: string): string {
    return path.join(this.dir, `.${name}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  }

  /** Writes atomically with mode 0600; `exclusive` keeps an existing file (returns false then). */
  private writePrivate(name: string, data: string, exclusive = false): boolean {
    this.ensureDir();
    const target = path.join(this.dir, name);
    const tmp = this.tempPath(name);
    fs.writeFileSync(tmp, data, { mode: 0o600, flag: "wx" });
    try {
      fs.chmodSync(tmp, 0o600); // in case of an unusual umask
      if (exclusive) {
        try {
          fs.linkSync(tmp, target); // fails with EEXIST when another run got there first
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
          throw e;
        }
      } else {
        fs.renameSync(tmp, target);
      }
      return true;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  private readPrivate(name: string): string | undefined {
    const file = path.join(this.dir, name);
    try {
      const st = fs.statSync(file);
      if ((st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(file, 0o600);
      return fs.readFileSync(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  /**
   * The installation's stable SASL2 user-agent id: read, or created once. When the state
   * directory cannot be written, falls back to an id derived from this user and host (still
   * stable across runs, so the server still sees one client) and records a warning.
   */
  userAgentId(): string {
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const existing = this.readPrivate(USER_AGENT_ID_FILE)?.trim().toLowerCase();
        if (existing && UUID_V4.test(existing)) return existing;
        const fresh = randomUUID();
        if (existing === undefined) {
          if (this.writePrivate(USER_AGENT_ID_FILE, fresh + "\n", true)) return fresh;
          continue; // a concurrent run created it: read theirs
        }
        // Unreadable content: replace it.
        this.writePrivate(USER_AGENT_ID_FILE, fresh + "\n");
        return fresh;
      }
    } catch (e) {
      this.warnings.push(
        `cannot keep camctl's client id in ${this.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ` +
          `using one derived from this user and host. Set XDG_STATE_HOME to a writable directory to fix this.`,
      );
    }
    return derivedUuid(`${os.userInfo().username}\0${os.hostname()}\0${os.homedir()}`);
  }

  private readServers(): ServersFile {
    try {
      const raw = this.readPrivate(SERVERS_FILE);
      if (raw !== undefined) {
        const parsed = JSON.parse(raw) as Partial<ServersFile>;
        if (parsed && parsed.version === 1 && parsed.namespaces && typeof parsed.namespaces === "object") {
          const namespaces: Record<string, string> = {};
          for (const [k, v] of Object.entries(parsed.namespaces)) if (typeof v === "string") namespaces[k] = v;
          return { version: 1, namespaces };
        }
      }
    } catch {
      // A damaged file only costs a round trip: start afresh.
    }
    return { version: 1, namespaces: {} };
  }

  /** The namespace that answered last time for this server host, if any. */
  rememberedNamespace(host: string): string | undefined {
    return this.readServers().namespaces[host.toLowerCase()];
  }

  /** Records what answered; writes only when it changed. Never throws. */
  rememberNamespace(host: string, namespace: string): void {
    try {
      const servers = this.readServers();
      const key = host.toLowerCase();
      if (servers.namespaces[key] === namespace) return;
      servers.namespaces[key] = namespace;
      this.writePrivate(SERVERS_FILE, JSON.stringify(servers, null, 2) + "\n");
    } catch {
      // Remembering is an optimisation; failing to is not worth a failed run.
    }
  }
}

/** A UUID v4-shaped id from a hash (RFC 4122 version and variant bits set). */
export function derivedUuid(seed: string): string {
  const b = createHash("sha256").update("camctl user-agent id\0" + seed).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
