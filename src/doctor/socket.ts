// camctl doctor over the admin socket (local, or remote over SSH): one request runs doctor.lua in
// the server, which reads what Prosody offers camctl per virtual host; this turns that into
// checks with one sentence each.
import fs from "node:fs";
import path from "node:path";
import { CamError } from "../core/errors.js";
import { AdminStream, replError } from "../transports/socket/adminstream.js";
import { unreadable } from "../transports/socket/record-stream.js";
import { luaHexString } from "../transports/socket/lua.js";
import { displaySafe, excerpt, msg } from "../text/untrusted.js";
import { underDeadline } from "../transports/lifecycle.js";
import type { ServerSpec, SocketTransport } from "../transports/types.js";
import { VERSION } from "../core/version.js";
import { fail, ok, warn, type Check } from "./checks.js";
import doctorLua from "./doctor.lua";

/** What doctor.lua reports about one virtual host. */
export interface HostFacts {
  name: string;
  client_management: boolean;
  client_management_source?: string;
  sasl2: boolean;
  sasl2_fast: boolean;
  tokenauth: boolean;
  saslauth: boolean;
  enforce_client_ids: boolean;
  companion: boolean;
  companion_version?: string;
  cam0: unknown;
  manage_clients: unknown;
  users_listable: boolean;
  /** Added for Snikket awareness; absent from an older doctor.lua's facts. */
  snikket_client_id?: boolean;
  audit?: boolean;
  audit_auth?: boolean;
  storage?: string;
  storage_driver?: string;
}

export interface ServerFacts {
  version: string;
  hosts: HostFacts[];
  missing: string[];
  /** The global data_path (Snikket: /snikket/prosody). */
  dataPath?: string;
  /** Global options named snikket_*. */
  snikketOptions: string[];
}

/** The `>` chunk: doctor.lua called with its hex-encoded arguments. */
export function doctorChunk(hosts: readonly string[] | undefined): string {
  const args = hosts && hosts.length > 0 ? `{ hosts = ${luaHexString(JSON.stringify(hosts))} }` : "{}";
  return `>return (function(...)\n${doctorLua}\nend)(${args})`;
}

/** The request doctor makes, for messages. */
const WHAT = "the checks";

/** The admin connection doctor needs: one request, then close. */
class DoctorConnection {
  private readonly stream: AdminStream;
  constructor(path: string, signal: AbortSignal) {
    this.stream = new AdminStream(path, signal);
  }
  async facts(hosts: readonly string[] | undefined): Promise<ServerFacts> {
    const reply = await this.stream.request(doctorChunk(hosts));
    if (reply.isError) throw replError(reply.result, WHAT);
    const text = reply.result.replace(/^Result: /, "");
    if (text === reply.result) throw unreadable(WHAT, msg`the result "${excerpt(reply.result, 80)}" is not camctl's`.toString());
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw unreadable(WHAT, "the result is not JSON");
    }
    return normalise(parsed);
  }
  async close(): Promise<void> {
    this.stream.close();
  }
}

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []); // util.json writes {} for an empty list
const strings = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === "string");

function normalise(raw: unknown): ServerFacts {
  const r = (raw ?? {}) as Record<string, unknown>;
  return {
    version: typeof r.version === "string" ? r.version : "",
    hosts: arr(r.hosts).filter((h): h is HostFacts => typeof h === "object" && h !== null && typeof (h as HostFacts).name === "string"),
    missing: strings(r.missing),
    dataPath: typeof r.data_path === "string" ? r.data_path : undefined,
    snikketOptions: strings(r.snikket_options),
  };
}

/** Where the socket is, for sentences. */
export function socketWhere(t: SocketTransport): string {
  if (t.container) return `the admin socket ${displaySafe(t.socketPath)} in the container ${displaySafe(t.container.name)}${t.ssh ? ` on ${displaySafe(t.ssh.target.host)} (over SSH)` : ""}`;
  if (!t.ssh) return `the admin socket ${displaySafe(t.socketPath)}`;
  const { host, user, port } = t.ssh.target;
  return `the admin socket ${displaySafe(t.socketPath)} on ${displaySafe(`${user ? `${user}@` : ""}${host}${port ? `:${port}` : ""}`)} (over SSH)`;
}

async function readFacts(t: SocketTransport, hosts: readonly string[] | undefined, signal: AbortSignal): Promise<ServerFacts> {
  let conn: DoctorConnection;
  if (t.container) {
    const { openSourceInContainer } = await import("../transports/ssh/ssh-source.js");
    conn = await openSourceInContainer({ container: t.container, socketPath: t.socketPath, ssh: t.ssh, signal }, (path) => new DoctorConnection(path, signal));
  } else if (t.ssh) {
    const { openSourceOverSsh } = await import("../transports/ssh/ssh-source.js");
    const ssh = t.ssh;
    conn = await openSourceOverSsh({ ssh, remoteSocket: t.socketPath, signal }, (path) => new DoctorConnection(path, signal));
  } else {
    conn = new DoctorConnection(t.socketPath, signal);
  }
  try {
    return await conn.facts(hosts);
  } finally {
    await conn.close();
  }
}

/** The major version of "13.0.1", or undefined ("trunk", "hg:…"). */
function majorVersion(v: string): number | undefined {
  const m = /^(\d+)\./.exec(v);
  return m ? Number(m[1]) : undefined;
}

/** How to get mod_client_management onto a plain Prosody (docs/doctor.md). */
export const INSTALL_HINT =
  "if Prosody does not have the module, install it with `prosodyctl install --server=https://modules.prosody.im/rocks/ mod_client_management` (Debian's prosody-modules package does not contain it)";

/**
 * Why doctor thinks the server is Snikket, or [] when nothing says so: mod_snikket_client_id loaded
 * on a host (Snikket's own module), a global snikket_* option, or data_path under /snikket (the
 * snikket_data volume's mount point). Any one is enough (docs/doctor.md).
 */
export function snikketSigns(facts: ServerFacts): string[] {
  const signs: string[] = [];
  const withModule = facts.hosts.filter((h) => h.snikket_client_id).map((h) => h.name);
  if (withModule.length > 0) signs.push(`mod_snikket_client_id is loaded on ${withModule.map(displaySafe).join(", ")}`);
  if (facts.snikketOptions.length > 0) signs.push(`the configuration sets ${facts.snikketOptions.slice(0, 3).map(displaySafe).join(", ")}${facts.snikketOptions.length > 3 ? ", …" : ""}`);
  if (facts.dataPath !== undefined && (facts.dataPath === "/snikket" || facts.dataPath.startsWith("/snikket/"))) signs.push(`data_path is ${displaySafe(facts.dataPath)}`);
  return signs;
}

function snikketCheck(facts: ServerFacts): Check {
  const signs = snikketSigns(facts);
  if (signs.length > 0) return ok(null, "snikket", `This looks like a Snikket server (${signs.join("; ")}): Snikket switches enforce_client_ids with SNIKKET_TWEAK_REQUIRE_SASL2 and keeps the admin socket at /snikket/prosody/prosody.sock in its container.`);
  return ok(null, "snikket", "This does not look like a Snikket server (no mod_snikket_client_id, no snikket_* option, data_path not under /snikket).");
}

function storageCheck(h: HostFacts): Check | undefined {
  if (h.storage === undefined) return undefined;
  const kind = displaySafe(h.storage);
  const driver = h.storage_driver ? ` with the ${displaySafe(h.storage_driver)} driver` : "";
  if (h.storage === "internal") return ok(h.name, "storage", "Storage is internal (files under data_path).");
  if (h.storage === "sql") return ok(h.name, "storage", `Storage is sql${driver}.`);
  if (h.storage === "per-store") return ok(h.name, "storage", `Storage is set per store${driver ? ` (sql${driver} by default)` : ""}.`);
  return ok(h.name, "storage", `Storage is ${kind}.`);
}

function auditCheck(h: HostFacts): Check | undefined {
  if (h.audit === undefined) return undefined;
  const missing = [["mod_audit", h.audit], ["mod_audit_auth", h.audit_auth]].filter(([, on]) => !on).map(([n]) => n as string);
  if (missing.length === 0) return ok(h.name, "audit", "mod_audit and mod_audit_auth are loaded: logins and revocations are recorded for camctl history.");
  return warn(h.name, "audit", `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not loaded on ${h.name}, so camctl history ${h.audit ? "has no login records" : "has nothing to read"} there (both are in Snikket's module set; elsewhere install them from https://modules.prosody.im/).`);
}

export function moduleChecks(h: HostFacts, named: boolean, anyHasModule: boolean): Check[] {
  const host = h.name;
  if (!h.client_management) {
    const why = `mod_client_management is not loaded on ${host}, so camctl can neither list nor revoke clients there: add "client_management" to that host's modules_enabled and reload Prosody; ${INSTALL_HINT}.`;
    // A server may have hosts camctl is not meant for; it fails when asked about this host, or when no host has the module.
    return [named || !anyHasModule ? fail(host, "client-management", why, "unsupported") : warn(host, "client-management", why)];
  }
  const checks: Check[] = [];
  const from = h.client_management_source ? ` (from ${displaySafe(h.client_management_source)})` : "";
  checks.push(ok(host, "client-management", `mod_client_management is loaded${from}.`));

  const missing = [["mod_sasl2", h.sasl2], ["mod_sasl2_fast", h.sasl2_fast], ["mod_tokenauth", h.tokenauth]].filter(([, on]) => !on).map(([n]) => n as string);
  checks.push(missing.length === 0
    ? ok(host, "login-modules", "mod_sasl2, mod_sasl2_fast and mod_tokenauth are loaded: clients log in with stable ids, FAST tokens and grants are tracked.")
    : warn(host, "login-modules", `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not loaded on ${host}: ${!h.sasl2 ? "clients log in without a stable client id (tracked by resource), " : ""}camctl lists and revokes only what the loaded modules track.`));

  if (h.enforce_client_ids && h.saslauth) {
    checks.push(warn(host, "client-ids", "enforce_client_ids is on while mod_saslauth is loaded: a legacy (non-SASL2) login gets no answer at all; only SASL2 clients with an id can log in."));
  } else if (h.enforce_client_ids) {
    checks.push(ok(host, "client-ids", "enforce_client_ids is on: only SASL2 clients that send a client id can log in (camctl's XMPP login does)."));
  } else {
    checks.push(ok(host, "client-ids", "enforce_client_ids is off: clients without a SASL2 id are listed by their resource."));
  }

  const audit = auditCheck(h);
  if (audit) checks.push(audit);
  const storage = storageCheck(h);
  if (storage) checks.push(storage);

  if (!h.companion) {
    checks.push(warn(host, "companion", "mod_client_management_admin (camctl's companion module, in its prosody/ directory) is not loaded, so over XMPP camctl reaches only the login account and revokes incompletely (the admin socket does not need it)."));
  } else if (!h.companion_version) {
    checks.push(warn(host, "companion", "mod_client_management_admin is loaded but is an older copy without a version; update it from camctl's prosody/ directory."));
  } else if (h.companion_version !== VERSION) {
    checks.push(warn(host, "companion", `mod_client_management_admin ${displaySafe(h.companion_version)} is loaded while this camctl is ${VERSION}, so update the module from camctl's prosody/ directory if something is missing.`));
  } else {
    checks.push(ok(host, "companion", `mod_client_management_admin ${VERSION} is loaded: admins can list and revoke any account's clients over XMPP.`));
  }

  // A module that answers XEP-0494 itself is newer than the Prosody-13-era module whose defects
  // camctl works around; whether those defects are gone cannot be probed without changing data.
  const cmFile = h.client_management_source;
  const cam0 = strings(h.cam0);
  const ownCam0 = cmFile !== undefined && cam0.includes(cmFile);
  if (ownCam0) {
    checks.push(ok(host, "module-defects", "mod_client_management answers XEP-0494 (urn:xmpp:cam:0) itself, so it is newer than the Prosody 13.0 module and camctl does not assume that module's defects (it still verifies every revocation by listing again)."));
  } else {
    const servedBy = cam0.length > 0 ? ` (only ${cam0.map((f) => displaySafe(f.split("/").pop() ?? f)).join(", ")} does)` : "";
    checks.push(ok(host, "module-defects",
      `mod_client_management does not answer XEP-0494 itself${servedBy}, so camctl assumes the Prosody 13.0 module's defects (revoking a connected client reports failure, unused FAST tokens and a token's grant stay valid) and revokes around them, verifying by listing again.`));
  }

  checks.push(h.users_listable
    ? ok(host, "account-listing", `The accounts of ${host} can be listed, so host-wide commands (host clients, host revoke) work.`)
    : warn(host, "account-listing", `The authentication provider of ${host} cannot list its accounts, so host-wide commands do not work there; per-account commands do.`));
  return checks;
}

/** Where Docker keeps named volumes on its host. */
export const DOCKER_VOLUMES_DIR = "/var/lib/docker/volumes";

/**
 * Admin sockets in Snikket data volumes on this Docker host that exist:
 * <volumes>/<project>_snikket_data/_data/prosody/prosody.sock (a compose project's volume) or
 * <volumes>/snikket_data/…, sorted. [] when the volumes directory is missing or unreadable (not root).
 */
export function snikketVolumeSockets(volumesDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(volumesDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n === "snikket_data" || n.endsWith("_snikket_data"))
    .sort()
    .map((n) => path.join(volumesDir, n, "_data", "prosody", "prosody.sock"))
    .filter((p) => fs.existsSync(p));
}

/** What doctor needs to look for the socket on this machine when the default one is missing. */
export interface LocalSocketHints {
  /** camctl's default admin socket (the one used when none is given). */
  defaultSocket: string;
  /** Docker's volumes directory (DOCKER_VOLUMES_DIR; tests replace it). */
  dockerVolumesDir: string;
}

/** The sentence added when the default socket is missing and a Snikket volume on this host has one. */
function volumeHint(t: SocketTransport, local: LocalSocketHints | undefined): string {
  if (!local || t.ssh || t.container || t.socketPath !== local.defaultSocket || fs.existsSync(t.socketPath)) return "";
  const found = snikketVolumeSockets(local.dockerVolumesDir);
  if (found.length === 0) return "";
  const list = found.map(displaySafe).join(", ");
  return ` On this Docker host, ${found.length > 1 ? "Snikket volumes have admin sockets" : "a Snikket volume has an admin socket"}: ${list}; give it with --socket ${displaySafe(found[0]!)} (as root), or reach it inside the container with --container snikket.`;
}

/** Every check camctl can make through the admin socket; `hosts` limits the per-host checks. */
export async function socketChecks(spec: ServerSpec<SocketTransport>, hosts: readonly string[] | undefined, local?: LocalSocketHints): Promise<Check[]> {
  const t = spec.transport;
  const where = socketWhere(t);
  let facts: ServerFacts;
  try {
    facts = await underDeadline(where, spec.timeoutSeconds, (signal) => readFacts(t, hosts, signal));
  } catch (e) {
    // Whatever kept camctl from reading the facts (no answer, an answer that is not Prosody's, the
    // shell failing to run the checks) is this check failing, with its own sentence and code.
    if (e instanceof CamError) return [fail(null, "admin-socket", e.message + (e.kind === "unreachable" ? volumeHint(t, local) : ""), e.kind)];
    throw e;
  }
  const checks: Check[] = [ok(null, "admin-socket", `camctl can use ${where}: it answers and runs camctl's requests.`)];
  const major = majorVersion(facts.version);
  const version = displaySafe(facts.version || "unknown");
  if (major === undefined) checks.push(warn(null, "prosody-version", `Prosody reports version "${version}"; camctl is made for Prosody 13 and cannot tell whether this is newer.`));
  else if (major < 13) checks.push(fail(null, "prosody-version", `Prosody ${version} is too old: mod_client_management needs Prosody 13.`, "unsupported"));
  else checks.push(ok(null, "prosody-version", `Prosody ${version}.`));
  for (const name of facts.missing) checks.push(fail(name, "client-management", `${displaySafe(name)} is not a virtual host of this Prosody server.`, "notFound"));
  if (facts.hosts.length === 0 && facts.missing.length === 0) checks.push(fail(null, "client-management", "This Prosody server has no virtual hosts.", "unsupported"));
  checks.push(snikketCheck(facts));
  const anyHasModule = facts.hosts.some((h) => h.client_management);
  const named = hosts !== undefined && hosts.length > 0;
  for (const h of facts.hosts) checks.push(...moduleChecks(h, named, anyHasModule));
  return checks;
}
