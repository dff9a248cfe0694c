// ClientSource over Prosody's admin socket: runs camctl's own Lua (./lua.ts) in the server, which
// uses mod_client_management's public API for structured data instead of scraping the shell's text
// table, and revokes through the public APIs of the modules that hold the credentials.
import { networkFromSocket } from "../../core/network.js";
import { activityNotRecorded } from "../../core/account-activity-error.js";
import { factsFromServer, type AccountFacts } from "../../core/account-facts.js";
import type { UnlockReport } from "../../core/unlock-report.js";
import { CamError, ServerFault } from "../../core/errors.js";
import { emptyUserAgent, isoFromUnix, type ClientList, type ClientRecord, type IsoUtc, type RevokeReport } from "../../core/model.js";
import type { ClientSource, HostScan, HostWatch, ScanProgress } from "../../core/client-source.js";
import type { WatchItem } from "../../core/watch.js";
import type { ClientFilter, HostClientRecord } from "../../core/filters.js";
import { changedError, goneError } from "../../core/not-revoked.js";
import { excerpt, msg } from "../../text/untrusted.js";
import { AdminStream } from "./adminstream.js";
import { listChunk, operatorArgs, requestChunk, revokeManyChunk, type LuaArgs, type Operator } from "./lua.js";
import type { LockoutEntry, LockoutReport, LockoutRequest } from "../../core/lockout-report.js";
import { MAX_STREAM_BYTES, readRecordStream } from "./record-stream.js";
import type { HistoryEvent, HistoryQuery } from "../../core/history.js";
import { RecordQueue } from "./record-queue.js";
import { notAHostError } from "./not-a-host.js";

type Meta = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/**
 * Turns the err of a trailer (our Lua's or the module's) into a CamError. A failure inside the
 * server is exit 3, as over XMPP: camctl got no usable answer; 1 is kept for camctl's own bugs.
 */
function replyError(meta: Meta, jid: string, expected?: ClientRecord): CamError {
  const host = String(meta.host ?? jid.split("@")[1] ?? "");
  switch (meta.err) {
    case "invalid-jid":
      return new CamError("usage", msg`Prosody does not accept ${jid} as a JID.`, "jid-malformed");
    case "host-not-found":
      return notAHostError(host, meta);
    case "module-not-loaded":
      return new CamError("unsupported",
        msg`mod_client_management is not loaded on ${host}. Add "client_management" to modules_enabled for that host and reload Prosody.`,
        "module-not-loaded");
    case "users-not-listed":
      return new CamError("unsupported",
        msg`Prosody cannot list the accounts of ${host}: its authentication provider does not offer a list of users.`,
        "users-not-listed");
    case "user-not-found":
      return new CamError("notFound", msg`There is no account ${jid} on this server.`, "user-not-found");
    case "enable-unsupported":
      return new CamError("unsupported", msg`${host} cannot enable accounts: its authentication provider does not offer it. Nothing was changed.`, "enable-unsupported");
    case "disable-unsupported":
    case "password-unsupported":
      return new CamError("unsupported",
        msg`${host} cannot ${meta.err === "disable-unsupported" ? "disable accounts" : "set passwords"}: its authentication provider does not offer it. Nothing was changed.`,
        String(meta.err));
    case "activity-not-recorded":
      return activityNotRecorded(host);
    case "forbidden":
      return new CamError("forbidden", msg`Prosody's client management refused the request for ${jid} (forbidden).`, "forbidden");
  }
  if (expected && meta.err === "gone") return goneError(jid, expected);
  if (expected && meta.err === "changed") return changedError(jid, expected);
  const detail = meta.text ? msg`: ${excerpt(String(meta.text))}` : "";
  return new ServerFault(msg`Prosody reported an error (${String(meta.err)})${detail}. See Prosody's log for details.`, String(meta.err));
}

/** Prosody's JSON encoder writes an empty table as {}; treat that as an empty list. */
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** One client as the Lua sends it (lua/json_lines.lua, client): an array, fields by position. */
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
    ...networkFromSocket(raw),
  };
}

/** "2026-11-01T10:00:00Z" -> "1793527200" (what the Lua compares first-seen times by). */
function secondsText(iso: IsoUtc | null): string | null {
  return iso === null ? null : String(Date.parse(iso) / 1000);
}

const PROGRESS_MS = 100;

/** The filter as the server's Lua reads it (client_filter.lua): ClientFilter without its empty fields. */
export function filterForServer(f: ClientFilter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(f)) {
    // connected: false is a filter (--disconnected); noExpiry: false is none.
    if (value === null || (key === "noExpiry" && value === false) || (Array.isArray(value) && value.length === 0)) continue;
    out[key] = value;
  }
  // --software (any case, wildcards) is camctl's alone: the server compares exactly, so only
  // --software-exact goes to it; the rest travels and camctl matches it (host-scan.ts).
  const software = f.software;
  if (software?.exact) out.software = software.version === null ? { name: software.name } : { name: software.name, version: software.version };
  else delete out.software;
  return out;
}



/** What admin_requests.revoke (and each item of revoke_many) is asked with: the client as listed. */
function revokeArgs(jid: string, expected: ClientRecord): LuaArgs {
  return {
    jid,
    id: expected.id,
    type: expected.type,
    first_seen: secondsText(expected.firstSeen),
    software: expected.userAgent.software,
    device: expected.userAgent.device,
  };
}

/** The server's report of one complete revocation (client_access.lib.lua) as a RevokeReport. */
function revokeReport(jid: string, expected: ClientRecord, r: Meta): RevokeReport {
  const flag = (v: unknown) => (typeof v === "boolean" ? v : null);
  return {
    jid,
    id: expected.id,
    before: expected,
    done: { sessionClosed: flag(r.session_closed), fastTokensRevoked: flag(r.fast_tokens_revoked), grantRevoked: flag(r.grant_revoked) },
    after: Array.isArray(r.after) ? clientFromSocket(r.after) : null,
    unverifiable: [],
  };
}

export class SocketClientSource implements ClientSource {
  private readonly stream: AdminStream;
  /** `operator`: who runs camctl, named in the log lines of what changes (revoke, lockout, unlock). */
  constructor(readonly path: string, signal?: AbortSignal, private readonly operator?: Operator) {
    if (path === "") {
      throw new CamError("usage",
        "--socket was given an empty path. Give the path of Prosody's admin socket (for example /var/lib/prosody/prosody.sock), " +
        "or leave --socket out to use $CAMCTL_SOCKET or that default.");
    }
    this.stream = new AdminStream(path, signal);
  }

  /** This connection's shell environment holds the request library (after the first answered request). */
  private libraryLoaded = false;

  /** Runs admin_requests.<request>(args): the first request of the connection carries the library. */
  private async request(request: "revoke", args: LuaArgs, what: string) {
    const answer = await readRecordStream(this.stream, requestChunk(request, args, this.libraryLoaded), { what });
    this.libraryLoaded = true;
    return answer;
  }

  /**
   * The facts the listing just made carried, for the accountFacts call that follows it (`user
   * clients`); used once, and dropped by anything that changes an account in between.
   */
  private listedFacts: { jid: string; facts: AccountFacts } | undefined;

  async list(jid: string): Promise<ClientList> {
    const what = String(msg`the clients of ${jid}`);
    const { records, meta } = await readRecordStream(this.stream, listChunk({ jid }, this.libraryLoaded), { what });
    this.libraryLoaded = true;
    if (meta.err) throw replyError(meta, jid);
    this.listedFacts = meta.facts === true ? { jid, facts: factsFromServer(meta) } : undefined;
    const clients = records.filter((c): c is unknown[] => Array.isArray(c)).map(clientFromSocket);
    return { jid: str(meta.jid) ?? jid, transport: "socket", clients };
  }

  /** The account's own facts: from the listing just made when it carried them, else lua/account_request.lua status. */
  async accountFacts(jid: string): Promise<AccountFacts> {
    const listed = this.listedFacts;
    this.listedFacts = undefined;
    if (listed?.jid === jid) return listed.facts;
    const { accountChunk } = await import("./lua-account.js");
    const { meta } = await readRecordStream(this.stream, accountChunk("status", jid), { what: msg`the account ${jid}`.toString() });
    if (meta.err) throw replyError(meta, jid);
    return factsFromServer(meta);
  }

  /** Re-enables the account (lua/account_request.lua unlock, on account_unlock.lib.lua). */
  async unlock(jid: string): Promise<UnlockReport> {
    this.listedFacts = undefined;
    const { accountChunk } = await import("./lua-account.js");
    const { meta } = await readRecordStream(this.stream, accountChunk("unlock", jid, operatorArgs(this.operator)), { what: msg`the unlock of ${jid}`.toString() });
    if (meta.err) throw replyError(meta, jid);
    return {
      jid: str(meta.jid) ?? jid,
      enabledNow: meta.enabled_now === true,
      enabled: typeof meta.enabled === "boolean" ? meta.enabled : null,
      was: factsFromServer({ status: meta.was_status, disabled_reason: meta.was_disabled_reason, disabled_at: meta.was_disabled_at }),
    };
  }

  /** The lockout runs in the server in one request (account_lockout.lib.lua, shared with the companion). */
  async lockout(jid: string, request: LockoutRequest): Promise<LockoutReport> {
    this.listedFacts = undefined;
    const { lockoutChunk } = await import("./lua-bulk.js");
    const chunk = lockoutChunk({
      jid,
      disable: request.action === "disable" ? "true" : null,
      new_password: request.action === "new-password" ? request.newPassword : null,
      reason: request.reason ?? null,
      ...operatorArgs(this.operator),
    });
    const { records, meta } = await readRecordStream(this.stream, chunk, { what: msg`the lockout of ${jid}`.toString() });
    if (meta.err) throw replyError(meta, jid);
    const entries: LockoutEntry[] = [];
    const after: ClientRecord[] = [];
    for (const r of records) {
      if (Array.isArray(r)) {
        after.push(clientFromSocket(r));
      } else if (r && typeof r === "object" && typeof (r as Meta).id === "string") {
        const e = r as Meta;
        const flag = (v: unknown) => (typeof v === "boolean" ? v : null);
        const failed = typeof e.err === "string";
        entries.push({
          id: e.id as string,
          done: failed ? null : { sessionClosed: flag(e.session_closed), fastTokensRevoked: flag(e.fast_tokens_revoked), grantRevoked: flag(e.grant_revoked) },
          error: failed ? (e.err as string) : null,
          errorText: str(e.text),
        });
      }
    }
    const count = (v: unknown) => (Number.isSafeInteger(v) ? (v as number) : 0);
    return {
      jid: str(meta.jid) ?? jid,
      entries,
      swept: { grants: count(meta.grants_revoked), fastTokens: count(meta.fast_tokens_revoked), sessions: count(meta.sessions_closed) },
      disabled: meta.disabled === true,
      alreadyDisabled: meta.already_disabled === true,
      reason: str(meta.reason),
      passwordChanged: meta.password_changed === true,
      enabled: typeof meta.enabled === "boolean" ? meta.enabled : null,
      failures: typeof meta.failures === "string" ? meta.failures.split("\n") : [],
      after,
    };
  }

  /**
   * The complete revocation runs in the server in one request (client_access.lib.lua, shared with
   * the companion module): it checks that `expected.id` is still listed as the same client, revokes
   * its grant, its FAST tokens (used or not) and closes its sessions, then lists again. It can see
   * and revoke everything, so nothing is ever "unverifiable" on this path.
   */
  async revoke(jid: string, expected: ClientRecord): Promise<RevokeReport> {
    this.listedFacts = undefined;
    const args = { ...revokeArgs(jid, expected), ...operatorArgs(this.operator) };
    const what = String(msg`the revocation of ${expected.id}`);
    const { records, meta } = await this.request("revoke", args, what);
    if (meta.err) throw replyError(meta, jid, expected);
    const report = records[0] as Meta | undefined;
    if (records.length !== 1 || !report || typeof report !== "object" || report.id !== expected.id) {
      throw new ServerFault(`Prosody's answer to ${what} is not the report camctl expects.`, "bad-reply");
    }
    return revokeReport(jid, expected, report);
  }

  /**
   * Several revocations in one request (admin_requests.revoke_many): each item checked, revoked
   * and verified in the server as `revoke` does, in order, in slices of ~20 ms with the server
   * serving others in between. Resolves with the outcome of each item, in order: a report, or the
   * CamError `revoke` would have rejected with. `onItem` is called as each report arrives.
   */
  async revokeMany(items: Array<{ jid: string; expected: ClientRecord }>, onItem?: () => void): Promise<Array<RevokeReport | CamError>> {
    const chunk = revokeManyChunk(operatorArgs(this.operator), items.map(({ jid, expected }) => revokeArgs(jid, expected)), this.libraryLoaded);
    const what = `the revocation of ${items.length} item${items.length === 1 ? "" : "s"}`;
    // The server sends each slice's reports as it goes: each one re-arms --timeout.
    const records: unknown[] = [];
    const { meta } = await readRecordStream(this.stream, chunk, { what, onRecord: (r) => {
      records.push(r);
      onItem?.();
    } });
    this.libraryLoaded = true;
    const done = typeof meta.done === "number" ? meta.done : -1;
    if (meta.err) throw replyError(meta, items[0]?.jid ?? "");
    if (done < 1 || done > items.length || records.length !== done) {
      throw new ServerFault(`Prosody's answer to ${what} is not the reports camctl expects.`, "bad-reply");
    }
    return records.map((record, i): RevokeReport | CamError => {
      const { jid, expected } = items[i]!;
      const r = record as Meta | null;
      if (!r || typeof r !== "object" || r.id !== expected.id) {
        throw new ServerFault(`Prosody's answer to ${what} is not the reports camctl expects.`, "bad-reply");
      }
      if (typeof r.err === "string") {
        const failure: Meta = { err: r.err };
        for (const k of ["text", "host"]) if (typeof r[k] === "string") failure[k] = r[k];
        return replyError(failure, jid, expected);
      }
      return revokeReport(jid, expected, r);
    });
  }

  /**
   * The host-wide listing runs in the server (lua/host_scan.lua) as one request that answers
   * later: it reads the accounts in batches, yielding to Prosody between them, filters there and
   * sends each batch's records and a progress line as it goes. Records are handed on as they
   * arrive; when the consumer falls behind, camctl stops reading the socket and the server,
   * whose send buffer then fills, waits. Stopping early (a break, an error, the deadline) closes
   * the admin connection, which ends the scan in the server.
   */
  async *listHost(host: string, scan: HostScan): AsyncIterable<HostClientRecord> {
    const what = msg`the clients of ${host}`.toString();
    const { hostScanChunk } = await import("./lua-bulk.js");
    const chunk = hostScanChunk({ host, filter: JSON.stringify(filterForServer(scan.filter)) });
    const queue = new RecordQueue<HostClientRecord>(
      () => this.stream.pause(),
      () => this.stream.resume(),
    );
    let outcome: { meta: Meta } | { error: unknown } | undefined;
    // Records arriving are the scan advancing too (a batch can be one account with a long list):
    // they re-announce the last progress, at most every PROGRESS_MS.
    let last: ScanProgress = { scanned: 0, total: null };
    let announced = 0;
    const announce = (p: ScanProgress) => {
      last = p;
      announced = Date.now();
      scan.onProgress?.(p);
    };
    const reading = readRecordStream(this.stream, chunk, {
      what,
      // Records are handed on, not kept: no cap on the whole, only on each record.
      maxBytes: Number.POSITIVE_INFINITY,
      maxRecordBytes: MAX_STREAM_BYTES,
      onRecord: (raw) => {
        if (Array.isArray(raw)) {
          const [account, client, facts] = raw as [unknown, unknown, unknown];
          if (typeof account === "string" && Array.isArray(client)) {
            const f = factsFromServer(facts);
            queue.push({ account, ...clientFromSocket(client), accountLastActivity: f.accountLastActivity, accountStatus: f.accountStatus });
          }
          if (Date.now() - announced >= PROGRESS_MS) announce(last);
        } else if (raw && typeof raw === "object") {
          const line = raw as Meta;
          if (typeof line.failed === "string") scan.onAccountFailed?.(line.failed, String(line.error ?? ""));
          else if (typeof line.scanned === "number") {
            announce({ scanned: line.scanned, total: typeof line.total === "number" ? line.total : null });
          }
        }
      },
    }).then(
      (r) => (outcome = { meta: r.meta }),
      (error: unknown) => (outcome = { error }),
    );
    void reading.finally(() => queue.wake());
    // Given up before the end: the connection goes, and with it the scan in the server.
    yield* queue.drain(() => outcome !== undefined, () => this.stream.close());
    if (!outcome) return; // the reading ends only with an outcome
    if ("error" in outcome) throw outcome.error;
    if (outcome.meta.err) throw replyError(outcome.meta, `@${host}`);
  }

  /** The history (mod_audit's archive and camctl's own store): ./history-source.ts. */
  async *history(query: HistoryQuery, alive?: () => void): AsyncIterable<HistoryEvent> {
    const { readHistory } = await import("./history-source.js");
    yield* readHistory(this.stream, query, alive);
  }

  /** camctl watch: one long request (lua/watch.lua, ./socket-watch.ts). */
  async *watch(host: string, w: HostWatch): AsyncIterable<WatchItem> {
    const { watchHost } = await import("./socket-watch.js");
    yield* watchHost(this.stream, host, w);
  }

  async close(): Promise<void> {
    this.stream.close();
  }
}
