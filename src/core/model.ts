// The data camctl works with, independent of where it came from (admin socket or XMPP).
// Field names are those of the JSON output (README, "Tables, JSON, CSV"); absent values are null.

export type ClientType = "session" | "access";

/**
 * A time as camctl holds it: ISO 8601 UTC, whole seconds, trailing Z, a four-digit year
 * (0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z), e.g. "2026-11-27T14:37:25Z". Only the readers
 * of outside times make one (isoFromUnix, isoFromDateTime, and through them the socket, XMPP and
 * plan readers), each refusing or nulling anything else where it comes in; renderers and filters
 * format and compute with it and never check it again.
 */
export type IsoUtc = string & { readonly __isoUtc: unique symbol };

export interface UserAgent {
  software: string | null;
  version: string | null;
  softwareId: string | null;
  uri: string | null;
  device: string | null;
}

export interface ClientRecord {
  /** Opaque id the server accepts for revocation, e.g. "client/zeiP41HLglIu" or "grant/HjEEr45_LQr". */
  id: string;
  type: ClientType;
  connected: boolean;
  /** Absent (null) when the server did not say, or said something that is not such a time. */
  firstSeen: IsoUtc | null;
  lastSeen: IsoUtc | null;
  expires: IsoUtc | null;
  /** Every authentication method the server reported, by name, sorted. */
  auth: string[];
  userAgent: UserAgent;
  /** XEP-0494 <permission status>: "unrestricted" | "normal" | "restricted" | other; null when not sent. */
  permission: string | null;
  /**
   * Where it connects from (core/network.ts): set by the transports that know; listings write
   * every one of them, null where absent.
   */
  ip?: string | null;
  connectedSince?: IsoUtc | null;
  firstIp?: string | null;
  firstLogin?: IsoUtc | null;
  lastIp?: string | null;
  lastLogin?: IsoUtc | null;
  lastMechanism?: string | null;
  loginCount?: number | null;
}

export type TransportName = "socket" | "xmpp";

export interface ClientList {
  jid: string;
  transport: TransportName;
  clients: ClientRecord[];
}

/**
 * What a complete revocation of one listed entry did, and what the server's state says afterwards.
 * Built by a ClientSource from the server's own answers and a re-read of the list; what it comes
 * to is decided in core/outcomes.ts (revokeOutcome) and worded by render/revoke.ts.
 */
export interface RevokeReport {
  jid: string;
  /** The exact id that was revoked (client/… or grant/…), as listed. */
  id: string;
  /** The entry as listed (and, on a terminal, confirmed) before revoking. */
  before: ClientRecord;
  /** What was done. null = this path cannot tell (e.g. the bare module over XMPP does not say). */
  done: {
    sessionClosed: boolean | null;
    fastTokensRevoked: boolean | null;
    grantRevoked: boolean | null;
  };
  /** The same entry as listed after revoking, or null when it no longer has access. */
  after: ClientRecord | null;
  /**
   * Access this path could not revoke and the list cannot show, worded as a name the renderer
   * knows, e.g. "unused-fast-token" (the bare module over XMPP cannot revoke a FAST token the
   * client never used).
   */
  unverifiable: string[];
  /**
   * The entry is camctl's own login (over XMPP, the session doing the revoking): revoking it can
   * only end that session, and it returns with the password at camctl's next run.
   */
  ownLogin?: boolean;
}

/**
 * Is `listed` still the client `expected` was (same id assumed)? The fields a client cannot
 * change once it is known: its type, when it was first seen, its software and device. The
 * companion module compares the same fields server-side.
 */
export function isSameClient(listed: ClientRecord, expected: ClientRecord): boolean {
  return (
    listed.type === expected.type &&
    listed.firstSeen === expected.firstSeen &&
    listed.userAgent.software === expected.userAgent.software &&
    listed.userAgent.device === expected.userAgent.device
  );
}

export function emptyUserAgent(): UserAgent {
  return { software: null, version: null, softwareId: null, uri: null, device: null };
}

// The whole seconds ISO 8601 can show with a four-digit year, 0000-01-01T00:00:00Z to
// 9999-12-31T23:59:59Z (the companion's and the socket's Lua use the same range).
const MIN_ISO_SECONDS = -62167219200;
const MAX_ISO_SECONDS = 253402300799;

/**
 * Unix seconds (number or numeric string) -> IsoUtc (fractions dropped), or null when there is no
 * such time or it has no four-digit year (e.g. 1e300, year 10000), on every transport alike.
 * The one place an IsoUtc is made.
 */
export function isoFromUnix(value: unknown): IsoUtc | null {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n)) return null;
  const seconds = Math.floor(n);
  if (seconds < MIN_ISO_SECONDS || seconds > MAX_ISO_SECONDS) return null;
  // Within that range toISOString is always YYYY-MM-DDTHH:mm:ss.sssZ: the milliseconds are cut off.
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z` as IsoUtc;
}

/**
 * An ISO 8601 date-time in the XEP-0082 profile (date, T, time with seconds, optional fraction,
 * Z or an offset) -> IsoUtc, or null for anything else: no zone (which Date.parse would read in
 * the machine's local time), no seconds, other date forms, years outside 0000-9999.
 */
export function isoFromDateTime(text: string): IsoUtc | null {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : isoFromUnix(ms / 1000);
}

/** An ISO 8601 UTC time as camctl writes it ("2026-11-27T12:00:00Z"), or undefined. */
export function utcTimeAsWritten(v: unknown): string | undefined {
  if (typeof v !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/.test(v)) return undefined;
  const ms = Date.parse(v);
  // A day or hour that does not exist (2026-02-30, 25:00) does not read back as itself.
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) === v.slice(0, 19) ? v : undefined;
}
