// Where a client connects from: the live session's address and start (`ip`, `connectedSince`),
// and what the companion module recorded about its logins (`firstIp`, `firstLogin`, `lastIp`,
// `lastLogin`, `lastMechanism`, `loginCount`). Read by the transports (socket: positions 12-19
// of a client array; XMPP: the companion's <network xmlns="urn:camctl:admin:0"/>), joined to each
// record by withNetwork (every field present, null where the source is absent), and hidden by
// --no-ip (hideAddresses). docs/addresses.md says what each field means and who can see it.
import { isoFromDateTime, isoFromUnix, type IsoUtc } from "./model.js";

export interface NetworkFields {
  /** The live session's remote address; null when not connected or not known. */
  ip: string | null;
  /** When the live session's connection was opened; null when not connected. */
  connectedSince: IsoUtc | null;
  /** Recorded by the companion (mod_client_management_admin); null without it or without a record. */
  firstIp: string | null;
  firstLogin: IsoUtc | null;
  lastIp: string | null;
  lastLogin: IsoUtc | null;
  lastMechanism: string | null;
  loginCount: number | null;
}

export const NETWORK_KEYS = ["ip", "connectedSince", "firstIp", "firstLogin", "lastIp", "lastLogin", "lastMechanism", "loginCount"] as const;
/** The fields that are addresses (what --no-ip hides). */
export const ADDRESS_KEYS = ["ip", "firstIp", "lastIp"] as const;

export function emptyNetwork(): NetworkFields {
  return { ip: null, connectedSince: null, firstIp: null, firstLogin: null, lastIp: null, lastLogin: null, lastMechanism: null, loginCount: null };
}

/**
 * --no-ip: set once at start-up (cli/program.ts, before any source is made), so that no record
 * read afterwards carries an address, whatever prints it (listings, revoke and lockout records,
 * plans). The times, mechanism and count stay.
 */
const privacy = { hideAddresses: false };
export function hideAddresses(on: boolean): void {
  privacy.hideAddresses = on;
}
export const addressesHidden = (): boolean => privacy.hideAddresses;
const addr = (v: unknown): string | null => (privacy.hideAddresses ? null : str(v));

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const count = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null);

/** The network fields of a socket client array (json_lines.client, positions 12-19). */
export function networkFromSocket(raw: readonly unknown[]): NetworkFields {
  const [ip, since, firstIp, firstLogin, lastIp, lastLogin, mechanism, logins] = raw.slice(12);
  return {
    ip: addr(ip),
    connectedSince: isoFromUnix(since),
    firstIp: addr(firstIp),
    firstLogin: isoFromUnix(firstLogin),
    lastIp: addr(lastIp),
    lastLogin: isoFromUnix(lastLogin),
    lastMechanism: str(mechanism),
    loginCount: count(logins),
  };
}

const time = (v: string | undefined): IsoUtc | null => (v === undefined ? null : isoFromDateTime(v.trim()));

/** The network fields of the companion's <network/> attributes (absent element: all null). */
export function networkFromAttrs(attrs: Readonly<Record<string, string | undefined>> | undefined): NetworkFields {
  if (!attrs) return emptyNetwork();
  const logins = attrs.logins !== undefined && /^\d{1,15}$/.test(attrs.logins) ? Number(attrs.logins) : null;
  return {
    ip: addr(attrs.ip),
    connectedSince: time(attrs["connected-since"]),
    firstIp: addr(attrs["first-ip"]),
    firstLogin: time(attrs["first-login"]),
    lastIp: addr(attrs["last-ip"]),
    lastLogin: time(attrs["last-login"]),
    lastMechanism: str(attrs["last-mechanism"]),
    loginCount: logins,
  };
}

/**
 * The record with every network field present, after its own fields (null where the record has
 * none), addresses null with `noIp`. A new object: the source's record is not changed.
 */
export function withNetwork<T extends object>(record: T, noIp: boolean): T & NetworkFields {
  const r = record as T & Partial<NetworkFields>;
  const out = { ...record } as T & NetworkFields;
  for (const key of NETWORK_KEYS) (out as Record<string, unknown>)[key] = r[key] ?? null;
  if (noIp || privacy.hideAddresses) for (const key of ADDRESS_KEYS) out[key] = null;
  return out;
}

/** Whether any of the recorded (companion) fields is known. */
export const hasRecorded = (r: Partial<NetworkFields>): boolean => r.lastLogin != null || r.firstLogin != null || r.loginCount != null;

/** Said once, on stderr, under a table where no row had a recorded field. */
export const RECORDS_HINT =
  "camctl: firstIp, lastIp and lastLogin are recorded by the companion module mod_client_management_admin (none recorded here); see docs/addresses.md.";
