// The history of an account or a host (`camctl user history`, `camctl host history`): the event
// record, the event names camctl knows, and the options as parsed. Where the entries come from is
// the transport's business (over the admin socket: src/transports/socket/history-source.ts).
// Every field is documented in docs/history.md; the schema is stable (fields are only added).
import { CamError, usageError } from "./errors.js";
import { parseWhen } from "./filters.js";
import type { IsoUtc } from "./model.js";
import { msg } from "../text/untrusted.js";

/** One event of the history. Absent values are null, never a guess. */
export interface HistoryEvent {
  /** When it was recorded (ISO 8601 UTC, whole seconds). */
  time: IsoUtc | null;
  /** The virtual host whose history holds it. */
  host: string;
  /** The account it concerns (bare JID), or null for a host-wide event. */
  account: string | null;
  /** What happened: authentication-success, new-client, client-revoked, ... (see EVENT_NAMES). */
  event: string;
  /** The store it was read from: "mod_audit" (mod_audit's archive) or "camctl" (camctl's own store). */
  source: HistorySource;
  /** Which module wrote it (the audit entry's source attribute, e.g. "mod_audit_auth", "mod_camctl"). */
  recordedBy: string | null;
  /** The client's address as recorded (an address, or "network/prefix" where mod_audit keeps only a prefix). */
  ip: string | null;
  /** The country as recorded (mod_audit with GeoIP: its two-letter code). */
  location: string | null;
  /** The client as `user clients` names it ("client/<id>", "grant/<id>"), where the entry says. */
  clientId: string | null;
  /** Event-specific details (strings), or null when there are none. */
  detail: Record<string, string> | null;
}

export type HistorySource = "mod_audit" | "camctl";

/** What to read: one account (jid) or a whole host, a time window (Unix seconds, inclusive), events. */
export interface HistoryQuery {
  host: string;
  jid: string | null;
  since: number | null;
  until: number | null;
  /** Event names to keep; empty: every event. */
  events: string[];
}

/**
 * The event names --event accepts: what mod_audit_auth writes, camctl's own events, and those of
 * the other audit modules of prosody-modules (mod_audit_user_accounts, mod_audit_register,
 * mod_audit_tokens). Entries of other names are still listed; they cannot be filtered for.
 */
export const EVENT_NAMES = [
  "authentication-success",
  "authentication-failure",
  "new-client",
  "client-revoked",
  "account-locked-out",
  "account-unlocked",
  "user-registered",
  "user-deregistered",
  "user-deregistered-pending",
  "user-enabled",
  "user-disabled",
  "token-grant-created",
  "token-grant-revoked",
] as const;

/** --event values (repeatable, each a comma list) -> the names, checked (exit 2 for an unknown one). */
export function parseEvents(values: readonly string[] | undefined): string[] {
  const names = new Set<string>();
  for (const value of values ?? []) {
    for (const part of value.split(",")) {
      const name = part.trim();
      if (name === "") continue;
      if (!(EVENT_NAMES as readonly string[]).includes(name)) {
        throw usageError(msg`--event does not know "${name}"; the events are: ${EVENT_NAMES.join(", ")}.`);
      }
      names.add(name);
    }
  }
  return [...names];
}

/** --since / --until (a <when> as the host filters take it) -> Unix seconds; checks their order. */
export function parseWindow(raw: { since?: string; until?: string }, now: Date): { since: number | null; until: number | null } {
  const since = raw.since === undefined ? null : parseWhen(raw.since, "--since", now);
  const until = raw.until === undefined ? null : parseWhen(raw.until, "--until", now);
  if (since !== null && until !== null && since > until) {
    throw usageError(msg`--since ${raw.since} is later than --until ${raw.until}, so nothing could match; swap them.`);
  }
  return { since, until };
}

/** Whether an event passes the query (camctl checks again what the server sent). */
export function matchesHistory(e: HistoryEvent, q: HistoryQuery): boolean {
  const t = e.time === null ? null : Date.parse(e.time) / 1000;
  if (q.since !== null && (t === null || t < q.since)) return false;
  if (q.until !== null && (t === null || t > q.until)) return false;
  if (q.events.length > 0 && !q.events.includes(e.event)) return false;
  if (q.jid !== null && e.account !== q.jid) return false;
  return true;
}

/** Neither mod_audit nor camctl's own store: exit 8, with how to get one. */
export function noHistorySource(host: string): CamError {
  return new CamError("unsupported",
    msg`${host} keeps no history camctl can read: mod_audit is not loaded and camctl has recorded nothing there. Load mod_audit and mod_audit_auth (from prosody-modules; add "audit_auth" to the host's modules_enabled), or load camctl's companion module mod_client_management_admin on ${host}, and reload Prosody.`,
    "no-history-source");
}
