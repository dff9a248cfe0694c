// One interface for both transports; commands never tell them apart.
import type { ClientFilter, HostClientRecord } from "./filters.js";
import type { HistoryEvent, HistoryQuery } from "./history.js";
import type { LockoutReport, LockoutRequest } from "./lockout-report.js";
import type { AccountFacts } from "./account-facts.js";
import type { UnlockReport } from "./unlock-report.js";
import type { ClientList, ClientRecord, RevokeReport } from "./model.js";

/** How far a host-wide scan is: accounts scanned, of how many. */
export interface ScanProgress {
  scanned: number;
  /** Accounts on the host, when the server said. */
  total: number | null;
}
import type { WatchItem } from "./watch.js";
import type { CamError } from "./errors.js";

/** A host-wide scan: which records, the deadline, and where progress goes. */
export interface HostScan {
  /** Applied on the server where it can be, and again by camctl on what arrives. */
  filter: ClientFilter;
  signal: AbortSignal;
  /** Called as the scan advances (each batch or page); the caller redraws its progress line and re-arms --timeout. */
  onProgress?(p: ScanProgress): void;
  /**
   * An account whose clients the server could not read (its store failed): the scan goes on
   * without it, and the caller says so at the end. `reason` is the server's text (untrusted).
   */
  onAccountFailed?(account: string, reason: string): void;
}

/** A live watch of a host's events (camctl watch). */
export interface HostWatch {
  /** Ends the watch: the iteration returns and the connection (and the server's hooks) go. */
  stop: AbortSignal;
  /** How often the server says it is still there while nothing happens (keeps --timeout armed). */
  heartbeatSeconds: number;
  /** Events the server holds for this watcher while the reader is behind, before it drops (default 1000). */
  queue?: number;
  /** The server's hooks are in place: events from now on are seen. */
  onReady?(): void;
}

export interface ClientSource {
  /** Lists what has access to the account `jid` (a validated bare JID). */
  list(jid: string): Promise<ClientList>;
  /**
   * Revokes everything the listed entry `expected` can come back with (its sessions, FAST tokens,
   * grant), by its exact id — never by re-resolving a selector — then re-reads the list and reports
   * what still has access. If the entry is no longer listed, or is listed as a different client
   * (another first-seen time or user agent), nothing is revoked: it rejects with notFound, condition
   * "gone" or "changed". Other failures reject with a CamError (unsupported, forbidden, unreachable...).
   */
  revoke(jid: string, expected: ClientRecord): Promise<RevokeReport>;
  /**
   * Several revocations in one request, each exactly as `revoke` (checked, complete, verified), in
   * order. Resolves with the outcome of each item it reached, in order (a report, or the CamError
   * `revoke` would reject with); a source may reach fewer than all, and the rest were then not
   * started. `onItem` is called as each outcome arrives. Rejects, like `revoke`, when the request
   * as a whole failed (then any of its items may have been revoked). Absent where each item is
   * its own request.
   */
  revokeMany?(items: Array<{ jid: string; expected: ClientRecord }>, onItem?: () => void): Promise<Array<RevokeReport | CamError>>;
  /**
   * Locks the account `jid` out, in one server-side step: the complete revocation of every listed
   * client, then every grant and FAST token the list does not show, then the password action
   * (disable the account, or set `request.newPassword`), then every session of the account is
   * closed (bound or not, and logins in progress that name it); then the list is read again. Rejects with a CamError when nothing was done (unsupported,
   * forbidden, notFound, ...). Absent on a transport that cannot lock accounts out.
   */
  lockout?(jid: string, request: LockoutRequest): Promise<LockoutReport>;
  /** The account's own facts: status, disable reason and time, password change, last activity (account-facts.ts). */
  accountFacts?(jid: string): Promise<AccountFacts>;
  /** Re-enables the account `jid` (user unlock). Rejects with a CamError when nothing was done. */
  unlock?(jid: string): Promise<UnlockReport>;
  /**
   * The entry camctl itself is listed under while it is connected (over XMPP: its own login),
   * or null. Bulk revocation revokes it last, since revoking it ends the connection.
   */
  ownEntry?(): Promise<{ account: string; id: string } | null>;
  /**
   * Every (account, client) of the virtual host `host` that passes `scan.filter`, streamed as the
   * server produces them: memory stays flat whatever the number of accounts. Rejects (while
   * iterating) with notFound for an unknown host, unsupported where the host has no client
   * management (or, over XMPP, no companion module), forbidden for a non-admin.
   */
  listHost(host: string, scan: HostScan): AsyncIterable<HostClientRecord>;
  /**
   * The history of an account or host (src/core/history.ts), streamed in time order. Absent on a
   * transport that cannot read it (exit 8). Over XMPP through the companion module.
   */
  history?(query: HistoryQuery, alive?: () => void): AsyncIterable<HistoryEvent>;
  /**
   * The host's events as they happen (logins, failed logins, new clients, sessions, revocations,
   * lock-outs), and heartbeats, until `w.stop` aborts. Absent on a transport that cannot watch.
   */
  watch?(host: string, w: HostWatch): AsyncIterable<WatchItem>;
  /** Releases the connection. Safe to call more than once. */
  close(): Promise<void>;
}
