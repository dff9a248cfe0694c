// camctl watch: the event record (one schema for every transport; docs/watch.md documents each
// field) and the checks of --for and --count. Pure: no I/O.
import { CamError } from "./errors.js";
import { msg } from "../text/untrusted.js";

/** The event names a watcher reports, in the order docs/watch.md lists them. */
export const WATCH_EVENTS = [
  "login",
  "login-failed",
  "new-client",
  "session-started",
  "session-ended",
  "revoked",
  "locked-out",
  "account-disabled",
  "account-enabled",
  "password-changed",
  "dropped",
] as const;
export type WatchEventName = (typeof WATCH_EVENTS)[number];

/**
 * One event. Every field is always present (null when the server did not say), so a SIEM sees one
 * stable schema; `context` only when several servers are watched at once.
 */
export interface WatchEvent {
  /** When the server saw it, ISO 8601 UTC with milliseconds. */
  time: string;
  host: string;
  /** user@host; for login-failed, the name the client tried (untrusted: anything at all). */
  account: string | null;
  event: WatchEventName;
  /** The client's remote address as the server saw it. */
  ip: string | null;
  /** As `user clients` lists it (client/<id>, grant/<id>), when the event names one. */
  clientId: string | null;
  software: string | null;
  device: string | null;
  /** The SASL mechanism of a login or failed login. */
  mechanism: string | null;
  /** Free text: the failure's condition and text, the resource bound, what a revocation did. */
  detail: string | null;
  /** For `dropped`: how many events the server dropped (the reader fell behind); else null. */
  dropped: number | null;
  context?: string;
}

/** What a watcher's server side sends besides events. */
export type WatchItem = { kind: "event"; event: WatchEvent } | { kind: "heartbeat" };

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const NAMES: ReadonlySet<string> = new Set(WATCH_EVENTS);

/** A line of the server side (watch.lua, or the companion's message) as an item; null for what camctl does not know. */
export function watchItemFromServer(raw: unknown, host: string, receivedAt: Date): WatchItem | null {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.heartbeat === "number") return { kind: "heartbeat" };
  const time = typeof r.time_ms === "number" && Number.isFinite(r.time_ms) ? new Date(r.time_ms) : receivedAt;
  const base = {
    time: time.toISOString(),
    host,
    account: null,
    ip: null,
    clientId: null,
    software: null,
    device: null,
    mechanism: null,
    detail: null,
    dropped: null,
  };
  if (typeof r.dropped === "number" && Number.isSafeInteger(r.dropped)) {
    return { kind: "event", event: { ...base, event: "dropped", dropped: r.dropped, detail: `${r.dropped} events dropped: the reader fell behind` } };
  }
  if (typeof r.event !== "string" || !NAMES.has(r.event) || r.event === "dropped") return null;
  return {
    kind: "event",
    event: {
      ...base,
      event: r.event as WatchEventName,
      account: str(r.account),
      ip: str(r.ip),
      clientId: str(r.client),
      software: str(r.software),
      device: str(r.device),
      mechanism: str(r.mechanism),
      detail: str(r.detail),
    },
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** --for: "90s", "5m", "1.5h", "2d", "500ms" -> seconds (> 0, at most 365 days). */
export function parseWatchDuration(text: string): number {
  const m = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h|d)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : NaN;
  if (!(seconds > 0 && seconds <= 365 * 86400)) {
    throw new CamError("usage", msg`--for takes a duration such as 30s, 5m, 2h or 1d; got "${text}".`);
  }
  return seconds;
}

/** --count: a whole number of events, at least 1. */
export function parseWatchCount(text: string): number {
  const n = /^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new CamError("usage", msg`--count takes a whole number of events, at least 1; got "${text}".`);
  return n;
}
