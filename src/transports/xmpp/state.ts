// What camctl keeps between runs for the XMPP transport, in the user's XDG state directory
// ($XDG_STATE_HOME/camctl, default ~/.local/state/camctl; env-paths' "log" path on Linux):
//   user-agent-id  the SASL2 <user-agent id> of this installation (XEP-0388 §2.1: a UUID v4
//                  generated once and kept, so every run is the same client in the server's list)
//   servers.json   per server host: which client-management namespace answered last time
// No FAST token is kept because camctl never asks for one (see features/sasl2.ts). Directory 0700,
// files 0600. Nothing there is secret, but camctl may run as root with someone else's
// XDG_STATE_HOME, so the directory is treated as hostile ground: links are never followed
// (O_NOFOLLOW), files are created exclusively and renamed into place, and anything that is not a
// directory or regular file owned by this user is refused. Opens never block (O_NONBLOCK: a FIFO
// planted there is seen and refused, not waited on), and every step is asynchronous and obeys the
// caller's deadline. When the directory cannot be used camctl warns once and goes on without it.
// https://xmpp.org/extensions/xep-0388.html#initiation (user-agent)
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { constants as fsc } from "node:fs";
import fsp, { type FileHandle } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import envPaths from "env-paths";
import { abortable } from "../../core/abort.js";
import { msg, type SafeText } from "../../text/untrusted.js";

export const USER_AGENT_ID_FILE = "user-agent-id";
export const SERVERS_FILE = "servers.json";

/** Larger than this, a state file is damaged (both are a few dozen bytes). */
const MAX_FILE_BYTES = 64 * 1024;

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Not defined on every platform; 0 leaves the flag out there.
const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fsc.O_NONBLOCK ?? 0;
const O_DIRECTORY = fsc.O_DIRECTORY ?? 0;
const O_NOCTTY = fsc.O_NOCTTY ?? 0;

/** $XDG_STATE_HOME/camctl (or the platform's equivalent). */
export function defaultStateDir(): string {
  return envPaths("camctl", { suffix: "" }).log;
}

interface ServersFile {
  version: 1;
  /** server host (JID domain) -> namespace that answered */
  namespaces: Record<string, string>;
}

/** Something in the state directory that camctl will not use; the message says what. */
/** A state directory or file camctl will not use; `why` says why in words (paths in it escaped). */
class Refused extends Error {
  constructor(readonly why: SafeText) {
    super(String(why));
  }
}

const errorCode = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

export class CamState {
  private loading: Promise<void> | undefined;
  private id: string | undefined;
  private namespaces: Record<string, string> = {};
  /** Loaded from a directory camctl trusts: changes are written back. */
  private persistent = false;
  private writes: Promise<void> = Promise.resolve();
  private warning: string | undefined;
  private readonly uid = process.geteuid?.();

  constructor(readonly dir: string = defaultStateDir()) {}

  /**
   * Reads what is kept (creating the directory and the client id the first time), once: later
   * calls reuse the first result. Problems are never fatal (see takeWarning); rejects only with
   * `signal.reason`.
   */
  load(signal: AbortSignal): Promise<void> {
    this.loading ??= this.read(signal);
    return abortable(this.loading, signal);
  }

  /** Why the state directory is not used this run, one sentence; handed out once. */
  takeWarning(): string | undefined {
    const w = this.warning;
    this.warning = undefined;
    return w;
  }

  /**
   * The installation's stable SASL2 user-agent id (after load). When the state directory cannot
   * be used it is derived from this user and host: still stable across runs, so the server still
   * sees one client.
   */
  userAgentId(): string {
    if (this.id === undefined) throw new Error("CamState.userAgentId() before load()");
    return this.id;
  }

  /** The namespace that answered last time for this server host, if any. */
  rememberedNamespace(host: string): string | undefined {
    return this.namespaces[host.toLowerCase()];
  }

  /** Records what answered; written back in the background (see flush), only when it changed. Never throws. */
  rememberNamespace(host: string, namespace: string): void {
    const key = host.toLowerCase();
    if (this.namespaces[key] === namespace) return;
    this.namespaces[key] = namespace;
    if (!this.persistent) return;
    const data = JSON.stringify({ version: 1, namespaces: this.namespaces } satisfies ServersFile, null, 2) + "\n";
    // Remembering is an optimisation; failing to is not worth a failed run.
    this.writes = this.writes.then(() => this.writePrivate(SERVERS_FILE, data)).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Waits for background writes, at most until `signal` aborts. Never rejects. */
  async flush(signal: AbortSignal): Promise<void> {
    await abortable(this.writes, signal).catch(() => undefined);
  }

  private async read(signal: AbortSignal): Promise<void> {
    try {
      await this.openDir(signal);
      this.id = await this.readOrCreateId(signal);
      this.namespaces = await this.readServers(signal);
      this.persistent = true;
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      const why = e instanceof Refused ? e.why : msg`it cannot be used (${errorCode(e) ?? (e as Error)?.message ?? String(e)})`;
      this.warning = String(
        msg`not using the state directory ${this.dir}: ${why}. camctl goes on without it (its client id is derived from ` +
          `this user and host); remove what is in the way, or set XDG_STATE_HOME to a directory of your own.`,
      );
    }
    this.id ??= derivedUuid(`${os.userInfo().username}\0${os.hostname()}\0${os.homedir()}`);
  }

  /** Makes sure the directory exists, is a real directory (not a link), is ours, and is private. */
  private async openDir(signal: AbortSignal): Promise<void> {
    // Missing ancestors are made one level at a time, top down. Never mkdir({ recursive }): on
    // some file systems (procfs) Node 20's recursive mkdir retries forever.
    const missing: string[] = [];
    for (let p = this.dir; ; ) {
      try {
        await abortable(fsp.lstat(p), signal);
        break;
      } catch (e) {
        if (errorCode(e) !== "ENOENT") throw e;
      }
      missing.unshift(p);
      const parent = path.dirname(p);
      if (parent === p) break;
      p = parent;
    }
    for (const p of missing) {
      // Files are named by path (Node has no openat), so whoever may rename entries in the parent
      // could swap the directory between a check and a write: that must be this user or root,
      // and a directory everyone may write to must be sticky (like /tmp).
      if (p === this.dir) await this.checkParent(signal);
      try {
        await abortable(fsp.mkdir(p, { mode: 0o700 }), signal);
      } catch (e) {
        if (errorCode(e) !== "EEXIST") throw e;
      }
    }
    if (!missing.includes(this.dir)) await this.checkParent(signal);
    let dir: FileHandle;
    try {
      dir = await abortable(fsp.open(this.dir, fsc.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK), signal);
    } catch (e) {
      if (errorCode(e) !== "ELOOP" && errorCode(e) !== "ENOTDIR") throw e;
      // Linux says ENOTDIR for a link when O_DIRECTORY is given too.
      const st = await abortable(fsp.lstat(this.dir), signal).catch(() => undefined);
      throw new Refused(st?.isSymbolicLink() ? msg`it is a symbolic link` : msg`it is not a directory`);
    }
    try {
      const st = await abortable(dir.stat(), signal);
      if (!st.isDirectory()) throw new Refused(msg`it is not a directory`);
      this.checkOwner(st.uid, "it");
      if ((st.mode & 0o077) !== 0) await abortable(dir.chmod(0o700), signal);
    } finally {
      await dir.close().catch(() => undefined);
    }
  }

  private async checkParent(signal: AbortSignal): Promise<void> {
    const parent = path.dirname(this.dir);
    const st = await abortable(fsp.stat(parent), signal);
    if (this.uid !== undefined && st.uid !== this.uid && st.uid !== 0) {
      throw new Refused(msg`its parent ${parent} belongs to another user (uid ${st.uid})`);
    }
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) throw new Refused(msg`anyone may rename things in its parent ${parent}`);
  }

  private checkOwner(uid: number, what: string): void {
    if (this.uid !== undefined && uid !== this.uid) throw new Refused(msg`${what} belongs to another user (uid ${uid})`);
  }

  /**
   * A state file's text; undefined when there is none, null when it is too large to be ours.
   * Refuses links, anything but a regular file, and files of other users.
   */
  private async readPrivate(name: string, signal: AbortSignal): Promise<string | null | undefined> {
    let file: FileHandle;
    try {
      file = await abortable(fsp.open(path.join(this.dir, name), fsc.O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY), signal);
    } catch (e) {
      if (errorCode(e) === "ENOENT") return undefined;
      if (errorCode(e) === "ELOOP") throw new Refused(msg`${name} is a symbolic link`);
      throw e;
    }
    try {
      const st = await abortable(file.stat(), signal);
      if (!st.isFile()) throw new Refused(msg`${name} is not a regular file`);
      this.checkOwner(st.uid, name);
      if ((st.mode & 0o077) !== 0) await abortable(file.chmod(0o600), signal);
      const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
      const { bytesRead } = await abortable(file.read(buffer, 0, buffer.length, 0), signal);
      return bytesRead > MAX_FILE_BYTES ? null : buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await file.close().catch(() => undefined);
    }
  }

  /**
   * Writes a new file (0600, created exclusively, never through a link) and moves it into place
   * atomically; `exclusive` keeps an existing file (returns false then).
   */
  private async writePrivate(name: string, data: string, exclusive = false, signal?: AbortSignal): Promise<boolean> {
    const wait = <T>(p: Promise<T>) => (signal ? abortable(p, signal) : p);
    const target = path.join(this.dir, name);
    const tmp = path.join(this.dir, `.${name}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const file = await wait(fsp.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o600));
    try {
      try {
        await wait(file.writeFile(data));
        await wait(file.chmod(0o600)); // in case of an unusual umask
      } finally {
        await file.close().catch(() => undefined);
      }
      if (exclusive) {
        try {
          await wait(fsp.link(tmp, target)); // EEXIST when another run got there first
        } catch (e) {
          if (errorCode(e) === "EEXIST") return false;
          throw e;
        }
      } else {
        await wait(fsp.rename(tmp, target)); // replaces a link planted at target, never follows it
      }
      return true;
    } finally {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  private async readOrCreateId(signal: AbortSignal): Promise<string> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const text = await this.readPrivate(USER_AGENT_ID_FILE, signal);
      const existing = text?.trim().toLowerCase();
      if (existing && UUID_V4.test(existing)) return existing;
      const fresh = randomUUID();
      if (text === undefined) {
        if (await this.writePrivate(USER_AGENT_ID_FILE, fresh + "\n", true, signal)) return fresh;
        continue; // a concurrent run created it: read theirs
      }
      // Damaged content: replace it.
      await this.writePrivate(USER_AGENT_ID_FILE, fresh + "\n", false, signal);
      return fresh;
    }
    throw new Refused(msg`${USER_AGENT_ID_FILE} keeps changing under camctl`);
  }

  private async readServers(signal: AbortSignal): Promise<Record<string, string>> {
    const raw = await this.readPrivate(SERVERS_FILE, signal);
    const namespaces: Record<string, string> = {};
    if (!raw) return namespaces;
    try {
      const parsed = JSON.parse(raw) as Partial<ServersFile>;
      if (parsed && parsed.version === 1 && parsed.namespaces && typeof parsed.namespaces === "object") {
        for (const [k, v] of Object.entries(parsed.namespaces)) if (typeof v === "string") namespaces[k] = v;
      }
    } catch {
      // A damaged file only costs a round trip: start afresh.
    }
    return namespaces;
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
