// camctl doctor over the admin socket (local, or remote over SSH): one request runs doctor.lua in
// the server, which reads what Prosody offers camctl per virtual host; this turns that into
// checks with one sentence each.
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
}

export interface ServerFacts {
  version: string;
  hosts: HostFacts[];
  missing: string[];
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

function moduleChecks(h: HostFacts, named: boolean, anyHasModule: boolean): Check[] {
  const host = h.name;
  if (!h.client_management) {
    const why = `mod_client_management is not loaded on ${host}, so camctl can neither list nor revoke clients there (add "client_management" to that host's modules_enabled and reload Prosody).`;
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

/** Every check camctl can make through the admin socket; `hosts` limits the per-host checks. */
export async function socketChecks(spec: ServerSpec<SocketTransport>, hosts: readonly string[] | undefined): Promise<Check[]> {
  const t = spec.transport;
  const where = socketWhere(t);
  let facts: ServerFacts;
  try {
    facts = await underDeadline(where, spec.timeoutSeconds, (signal) => readFacts(t, hosts, signal));
  } catch (e) {
    // Whatever kept camctl from reading the facts (no answer, an answer that is not Prosody's, the
    // shell failing to run the checks) is this check failing, with its own sentence and code.
    if (e instanceof CamError) return [fail(null, "admin-socket", e.message, e.kind)];
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
  const anyHasModule = facts.hosts.some((h) => h.client_management);
  const named = hosts !== undefined && hosts.length > 0;
  for (const h of facts.hosts) checks.push(...moduleChecks(h, named, anyHasModule));
  return checks;
}
