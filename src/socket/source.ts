// ClientSource over Prosody's admin socket: asks mod_client_management's public API
// (get_active_clients / revoke_client_access) for structured data instead of scraping the
// shell's text table.
import { CamError } from "../errors.js";
import { emptyUserAgent, isoFromUnix, type ClientList, type ClientRecord, type RevokeReport } from "../model.js";
import type { ClientSource } from "../source.js";
import { displaySafe } from "../render/sanitize.js";
import { AdminStream, type ReplReply } from "./adminstream.js";
import { listClientsLua, revokeClientLua } from "./lua.js";

type Reply = Record<string, unknown> & { err?: string; text?: string; host?: string; jid?: string };

const RESULT_PREFIX = "Result: ";
const BASE64_PREFIX = "base64:";

/** Turns a server-side error code from our Lua snippet or the module into a CamError. */
function replyError(reply: Reply, jid: string, selector?: string): CamError {
  const host = displaySafe(String(reply.host ?? jid.split("@")[1] ?? ""));
  switch (reply.err) {
    case "invalid-jid":
      return new CamError("usage", `Prosody does not accept ${displaySafe(jid)} as a JID.`, "jid-malformed");
    case "host-not-found":
      return new CamError("notFound", `${host} is not a host of this Prosody server.`, "host-not-found");
    case "module-not-loaded":
      return new CamError("unsupported",
        `mod_client_management is not loaded on ${host}. Add "client_management" to modules_enabled for that host and reload Prosody.`,
        "module-not-loaded");
    case "user-not-found":
      return new CamError("notFound", `There is no account ${displaySafe(jid)} on this server.`, "user-not-found");
    case "item-not-found":
      return new CamError("notFound",
        `No client matches ${displaySafe(selector ?? "")} for ${displaySafe(jid)}. List them with \`camctl user clients ${displaySafe(jid)}\`.`,
        "item-not-found");
    case "password-reset-required":
      return new CamError("passwordResetRequired",
        `This client signed in with the account's password, so its access ends only when the password is changed. ` +
        `Prosody has already closed its session and revoked its tokens; change the password (prosodyctl passwd) to finish.`,
        "password-reset-required");
    default: {
      const detail = reply.text ? `: ${displaySafe(String(reply.text)).slice(0, 300)}` : "";
      return new CamError("internal", `Prosody reported an error (${displaySafe(String(reply.err))})${detail}. See Prosody's log for details.`, String(reply.err));
    }
  }
}

function parseReply(r: ReplReply): Reply {
  if (r.isError || !r.result.startsWith(RESULT_PREFIX)) {
    const text = displaySafe(r.result).slice(0, 300);
    throw new CamError("internal", `Prosody's admin shell refused the request: ${text}. Is mod_admin_shell loaded?`);
  }
  const body = r.result.slice(RESULT_PREFIX.length);
  try {
    if (!body.startsWith(BASE64_PREFIX)) throw new Error("not base64");
    const value: unknown = JSON.parse(Buffer.from(body.slice(BASE64_PREFIX.length), "base64").toString("utf8"));
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Reply;
  } catch {
    // fall through
  }
  throw new CamError("internal", "Prosody's admin shell answered with something that is not the expected JSON.");
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** Prosody's JSON encoder writes an empty table as {}; treat that as an empty list. */
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** One client as the listing chunk (lua.ts) sends it: an array, fields by position. */
export function clientFromSocket(raw: unknown[]): ClientRecord {
  const [id, type, connected, firstSeen, lastSeen, expires, auth, software, version, softwareId, uri, device] = raw;
  const userAgent = emptyUserAgent();
  userAgent.software = str(software);
  userAgent.version = str(version);
  userAgent.softwareId = str(softwareId);
  userAgent.uri = str(uri);
  userAgent.device = str(device);
  return {
    id: str(id) ?? "",
    type: type === "access" ? "access" : "session",
    connected: connected === true,
    firstSeen: isoFromUnix(firstSeen),
    lastSeen: isoFromUnix(lastSeen),
    expires: isoFromUnix(expires),
    auth: list(auth).filter((a): a is string => typeof a === "string").sort(),
    userAgent,
    permission: null,
  };
}

export class SocketClientSource implements ClientSource {
  private readonly stream: AdminStream;
  constructor(readonly path: string, signal?: AbortSignal) {
    this.stream = new AdminStream(path, signal);
  }

  async list(jid: string): Promise<ClientList> {
    const reply = parseReply(await this.stream.request(listClientsLua(jid)));
    if (reply.err) throw replyError(reply, jid);
    const clients = list(reply.clients)
      .filter((c): c is unknown[] => Array.isArray(c))
      .map(clientFromSocket);
    return { jid: str(reply.jid) ?? jid, transport: "socket", clients };
  }

  // TEMPORARY (issue 8 replaces it): revokes by exact id and reports nothing verified yet.
  async revoke(jid: string, expected: ClientRecord): Promise<RevokeReport> {
    const selector = expected.id;
    const reply = parseReply(await this.stream.request(revokeClientLua(jid, selector)));
    if (reply.err) throw replyError(reply, jid, selector);
    if (reply.revoked !== true) throw new CamError("internal", "Prosody did not confirm the revocation.");
    return { jid, id: selector, before: expected, done: { sessionClosed: null, fastTokensRevoked: null, grantRevoked: null }, after: null, unverifiable: [] };
  }

  async close(): Promise<void> {
    this.stream.close();
  }
}
