// A throw-away OpenSSH server for tests: Debian's /usr/sbin/sshd (package openssh-server, see
// install-openssh.sh; this file installs nothing) on a free loopback port, running as the current
// user (root in CI), with its own host and user keys, authorized_keys and known_hosts in a temp
// directory, and an ssh_config that the client uses through `-F`, so nothing of the machine's or
// the developer's SSH setup takes part. No ForceCommand: logins behave like a real server's.
//
// Helpers make the failures the SSH link must report: a known_hosts with another key for this
// server, one without any, a key the server does not accept, and killing live sessions.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "../sandbox/sandbox.js";

const execFileP = promisify(execFile);

export const SSHD_PROGRAM = "/usr/sbin/sshd";
const START_TIMEOUT_MS = 15_000;

export interface Sshd {
  dir: string;
  port: number;
  /** The login name (the current user). */
  user: string;
  /** "user@127.0.0.1:port", what --ssh takes. */
  target: string;
  /** ssh arguments for a client that trusts this server and logs in with the authorized key. */
  sshArgs: string[];
  /** Same client, but its known_hosts holds ANOTHER key for this server (a changed host key). */
  wrongHostKeyArgs: string[];
  /** Same client with an empty known_hosts (a host never seen). */
  unknownHostKeyArgs: string[];
  /** Same client offering only a key the server does not accept. */
  refusedKeyArgs: string[];
  /** Kills every live session (sshd's per-connection processes), as a dropped link would; returns how many processes it killed. */
  killSessions(): number;
  /** Number of live sessions (per-connection sshd processes). */
  sessionCount(): number;
  /** sshd's own log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Why the sshd tests cannot run here, or undefined when they can. */
export function sshdUnavailable(): string | undefined {
  if (!fs.existsSync(SSHD_PROGRAM)) return `${SSHD_PROGRAM} is missing (run test/sshd/install-openssh.sh as root)`;
  for (const tool of ["ssh", "ssh-keygen", "perl"]) {
    const found = (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, tool)));
    if (!found) return `${tool} is not on PATH`;
  }
  if (process.getuid?.() === 0 && !fs.existsSync("/run/sshd")) {
    // sshd as root needs its privilege-separation directory; Debian's init script makes it at
    // every start, which never ran here. Create it the same way (empty, root-owned, 0755).
    try {
      fs.mkdirSync("/run/sshd", { mode: 0o755 });
    } catch (e) {
      return `/run/sshd is missing and cannot be created: ${(e as Error).message}`;
    }
  }
  return undefined;
}


/** Resolves once something on 127.0.0.1:port sends an SSH banner. */
function bannerSeen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: "127.0.0.1", port });
    let got = "";
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on("data", (d) => {
      got += d.toString("latin1");
      if (got.startsWith("SSH-")) done(true);
    });
    s.once("error", () => done(false));
    s.once("close", () => done(got.startsWith("SSH-")));
  });
}

async function keygen(file: string, comment: string): Promise<string> {
  await execFileP("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
  return fs.readFileSync(`${file}.pub`, "utf8").trim();
}

/** Processes whose parent is `pid`, from /proc (no procps needed). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function descendantsOf(pid: number): number[] {
  const all: number[] = [];
  for (const c of childrenOf(pid)) all.push(c, ...descendantsOf(c));
  return all;
}

const live = new Set<ChildProcess>();
let hooked = false;
function trackForExit(child: ChildProcess): void {
  live.add(child);
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of live) {
      if (c.pid && c.exitCode === null) {
        for (const d of descendantsOf(c.pid)) {
          try { process.kill(d, "SIGKILL"); } catch { /* gone */ }
        }
        c.kill("SIGKILL");
      }
    }
  });
}

export async function startSshd(o: { extraConfig?: string[] } = {}): Promise<Sshd> {
  const reason = sshdUnavailable();
  if (reason) throw new Error(`camctl sshd: ${reason}`);
  const base = os.tmpdir().length <= 60 ? os.tmpdir() : "/tmp";
  const dir = fs.mkdtempSync(path.join(base, "camctl-sshd-"));
  const user = os.userInfo().username;
  const hostKey = path.join(dir, "host_ed25519");
  const hostPub = await keygen(hostKey, "camctl test sshd host key");
  const otherHostPub = await keygen(path.join(dir, "other_host_ed25519"), "camctl test: not this server's key");
  const userKey = path.join(dir, "user_ed25519");
  const userPub = await keygen(userKey, "camctl test user key");
  const strangerKey = path.join(dir, "stranger_ed25519");
  await keygen(strangerKey, "camctl test: a key the server refuses");
  fs.writeFileSync(path.join(dir, "authorized_keys"), userPub + "\n", { mode: 0o600 });
  const logFile = path.join(dir, "sshd.log");

  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    port = await freePort();
    const config = path.join(dir, "sshd_config");
    fs.writeFileSync(config, [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      "PidFile none",
      `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      // The key files live under the world-writable temp directory, which StrictModes rejects.
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      `AllowUsers ${user}`,
      "PrintMotd no",
      "PrintLastLog no",
      // Many short logins in a row from one address are what the tests do.
      "MaxStartups 100:30:200",
      "LogLevel VERBOSE",
      ...(o.extraConfig ?? []),
      "",
    ].join("\n"));
    const log = fs.openSync(logFile, "a");
    const c = spawn(SSHD_PROGRAM, ["-D", "-e", "-f", config], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    trackForExit(c);
    const deadline = Date.now() + START_TIMEOUT_MS;
    let up = false;
    while (Date.now() < deadline && c.exitCode === null && c.signalCode === null) {
      if (await bannerSeen(port)) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (up) child = c;
    else {
      c.kill("SIGKILL");
      live.delete(c);
      if (!/Address already in use|Cannot bind/.test(fs.readFileSync(logFile, "utf8"))) break;
    }
  }
  if (!child) {
    const log = fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n");
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`camctl sshd: sshd did not start:\n${log}`);
  }

  const knownHosts = (name: string, line: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, line ? line + "\n" : "");
    return file;
  };
  const entry = (pub: string) => `[127.0.0.1]:${port} ${pub.split(" ").slice(0, 2).join(" ")}`;
  const clientConfig = (name: string, o2: { knownHosts: string; identity: string }) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, [
      "Host *",
      `  IdentityFile ${o2.identity}`,
      "  IdentitiesOnly yes",
      "  IdentityAgent none",
      `  UserKnownHostsFile ${o2.knownHosts}`,
      "  GlobalKnownHostsFile /dev/null",
      "  StrictHostKeyChecking yes",
      "  UpdateHostKeys no",
      "  CheckHostIP no",
      "  PasswordAuthentication no",
      "  KbdInteractiveAuthentication no",
      "",
    ].join("\n"));
    return ["-F", file];
  };
  const good = knownHosts("known_hosts", entry(hostPub));
  const sshd = child;
  return {
    dir,
    port,
    user,
    target: `${user}@127.0.0.1:${port}`,
    sshArgs: clientConfig("ssh_config", { knownHosts: good, identity: userKey }),
    wrongHostKeyArgs: clientConfig("ssh_config.wrong-host-key", { knownHosts: knownHosts("known_hosts.wrong", entry(otherHostPub)), identity: userKey }),
    unknownHostKeyArgs: clientConfig("ssh_config.unknown-host", { knownHosts: knownHosts("known_hosts.empty", ""), identity: userKey }),
    refusedKeyArgs: clientConfig("ssh_config.refused-key", { knownHosts: good, identity: strangerKey }),
    killSessions() {
      const pids = sshd.pid ? descendantsOf(sshd.pid) : [];
      for (const p of pids) {
        try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
      }
      return pids.length;
    },
    sessionCount() {
      return sshd.pid ? childrenOf(sshd.pid).length : 0;
    },
    log() {
      try {
        return fs.readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    async stop() {
      if (sshd.exitCode === null && sshd.signalCode === null) {
        if (sshd.pid) for (const p of descendantsOf(sshd.pid)) {
          try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
        }
        const exited = new Promise((r) => sshd.once("exit", r));
        sshd.kill("SIGTERM");
        const t = setTimeout(() => sshd.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      live.delete(sshd);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
