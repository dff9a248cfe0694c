// The filters of the host-wide commands (`host clients`, `host revoke`), declared, parsed, matched
// and recorded in plans in one place. A filter is plain data: the admin-socket scan and the
// companion module apply the same filter on the server (so only matching rows travel), and camctl
// applies it again to whatever arrives (so a server that ignores a field cannot widen the result).
//
// Semantics (also in the man page, FILTERS):
//   every filter given must match (AND); --auth given several times matches any of them (OR);
//   --last-seen-before T   not seen since T: last seen before T, or never seen at all;
//   --last-seen-after T    seen after T (never-seen entries do not match);
//   --expires-before T     has an expiry, and it is before T;
//   --no-expiry            a grant (type access) without an expiry;
//   --software N[/V]       user-agent software exactly N (and version exactly V when given);
//   --account-inactive-since T  the account's last activity (mod_account_activity or mod_lastlog2)
//                          is known and before T; accounts with no recorded activity never match
//                          (src/core/account-facts.ts; docs/account-activity.md).
//   --account G            glob (* and ?) on the localpart, or on the whole JID when G has an @;
//                          case-insensitive, as Prosody stores localparts case-folded.
//   T is a duration (90d, 12h, 30m, 2w, 45s) — back from now for last-seen times, ahead of now for
//   --expires-before (--expires-before 14d: expires within two weeks) — or an ISO 8601 date or date-time (UTC unless it says
//   otherwise).
import { Option, type Command } from "commander";
import { usageError } from "./errors.js";
import { utcTimeAsWritten, type ClientRecord, type ClientType, type IsoUtc } from "./model.js";
import { msg } from "../text/untrusted.js";
import type { AccountStatus } from "./account-facts.js";

export const AUTH_METHODS = ["password", "grant", "fast"] as const;

export interface ClientFilter {
  /** Unix seconds; see the semantics above. */
  lastSeenBefore: number | null;
  lastSeenAfter: number | null;
  expiresBefore: number | null;
  noExpiry: boolean;
  software: { name: string; version: string | null } | null;
  /** Any of these methods (empty: no auth filter). */
  auth: string[];
  type: ClientType | null;
  connected: boolean | null;
  /** Glob on the localpart, or on the bare JID when it contains "@". */
  account: string | null;
  /** Unix seconds: the account's last activity is known and before it. */
  accountInactiveSince: number | null;
}

/** A record of a host-wide listing: the `user clients` record plus its account. */
export interface HostClientRecord extends ClientRecord {
  account: string;
  /** The account's last activity (AccountFacts); absent in records read back from a plan. */
  accountLastActivity?: IsoUtc | null;
  accountStatus?: AccountStatus | null;
}

export const NO_FILTER: ClientFilter = {
  lastSeenBefore: null,
  lastSeenAfter: null,
  expiresBefore: null,
  noExpiry: false,
  software: null,
  auth: [],
  type: null,
  connected: null,
  account: null,
  accountInactiveSince: null,
};

export function isEmptyFilter(f: ClientFilter): boolean {
  return JSON.stringify(f) === JSON.stringify(NO_FILTER);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** How <when> is read, for --help (docs/host-audit.md and the man page say the same), wrapped for it. */
export const WHEN_HELP = `<when> is a duration (90d, 12h, 30m, 2w, 45s) or an ISO date
(2026-01-31, 2026-01-31T12:00:00Z; UTC unless it says otherwise). A duration
counts back from now for the last-seen filters and ahead of now for
--expires-before (--expires-before 14d: expires within two weeks).`;

/** Adds the filter options to a host-wide command; declared once for every command that filters. */
export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option("--last-seen-before <when>", "not seen since <when> (90d, 12h, or an ISO date); never-seen entries match")
    .option("--last-seen-after <when>", "seen after <when> (90d, 12h, or an ISO date)")
    .option("--software <name[/version]>", "user-agent software exactly <name> (and <version>)")
    .addOption(new Option("--auth <method>", "signs in with this method: password, grant or fast (repeatable: any of them)").argParser(collect))
    .addOption(new Option("--type <type>", "session (a device or app that logged in) or access (a grant)").choices(["session", "access"]))
    .option("--connected", "connected now")
    .option("--disconnected", "not connected now")
    .option("--account-inactive-since <when>", "accounts with no activity since <when> (90d or an ISO date; needs mod_account_activity or mod_lastlog2)")
    .option("--account <glob>", "accounts whose localpart (or whole JID, if the glob has an @) matches, e.g. 'test-*'")
    .option("--expires-before <when>", "has an expiry before <when> (a duration ahead of now, 14d, or an ISO date)")
    .option("--no-expiry", "grants that never expire");
}

/** The option values commander hands over for the options above. */
export interface RawFilterOptions {
  lastSeenBefore?: string;
  lastSeenAfter?: string;
  software?: string;
  auth?: string[];
  type?: string;
  connected?: boolean;
  disconnected?: boolean;
  account?: string;
  accountInactiveSince?: string;
  expiresBefore?: string;
  /** commander's --no-expiry sets expiry: false. */
  expiry?: boolean;
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const ISO_DATE = /^\d{4}-\d\d-\d\d$/;
const ISO_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$/;

/**
 * "90d", "12h", "2026-01-31" or "2026-01-31T12:00:00Z" -> Unix seconds. A duration counts back
 * from `now`, or ahead of it with `ahead` (expiry times lie in the future).
 */
export function parseWhen(text: string, option: string, now: Date, ahead = false): number {
  const s = text.trim();
  const rel = /^(\d{1,7})\s*([smhdw])$/i.exec(s);
  if (rel) return Math.floor(now.getTime() / 1000) + (ahead ? 1 : -1) * Number(rel[1]) * UNIT_SECONDS[rel[2]!.toLowerCase()]!;
  if (ISO_DATE.test(s) || ISO_DATE_TIME.test(s)) {
    // A date-time without a zone is UTC, like the times camctl prints.
    const withZone = ISO_DATE.test(s) ? `${s}T00:00:00Z` : /(Z|[+-]\d\d:?\d\d)$/.test(s) ? s : `${s}Z`;
    const ms = Date.parse(withZone);
    if (!Number.isNaN(ms)) return Math.floor(ms / 1000);
  }
  const duration = ahead ? "a duration ahead of now (14d, 12h, 30m, 2w; --expires-before 14d: expires within two weeks)" : "a duration back from now (90d, 12h, 30m, 2w)";
  throw usageError(msg`${option} takes ${duration} or an ISO date (2026-01-31, 2026-01-31T12:00:00Z); got "${text}".`);
}

function parseSoftware(text: string): { name: string; version: string | null } {
  const cut = text.indexOf("/");
  const name = cut === -1 ? text : text.slice(0, cut);
  const version = cut === -1 ? null : text.slice(cut + 1);
  if (name.length === 0 || version === "") {
    throw usageError(msg`--software takes a name or name/version, e.g. --software Gajim or --software 'Evil Client/2.3'; got "${text}".`);
  }
  return { name, version };
}

/** Checks and converts the raw option values; `now` anchors relative times. */
export function parseFilter(raw: RawFilterOptions, now: Date): ClientFilter {
  if (raw.connected && raw.disconnected) throw usageError("Give --connected or --disconnected, not both.");
  const auth = [...new Set(raw.auth ?? [])];
  for (const a of auth) {
    if (!(AUTH_METHODS as readonly string[]).includes(a)) {
      throw usageError(msg`--auth takes ${AUTH_METHODS}; got "${a}".`);
    }
  }
  if (raw.account !== undefined && raw.account.length === 0) throw usageError("--account takes a glob such as 'test-*'; it is empty.");
  const f: ClientFilter = {
    lastSeenBefore: raw.lastSeenBefore === undefined ? null : parseWhen(raw.lastSeenBefore, "--last-seen-before", now),
    lastSeenAfter: raw.lastSeenAfter === undefined ? null : parseWhen(raw.lastSeenAfter, "--last-seen-after", now),
    expiresBefore: raw.expiresBefore === undefined ? null : parseWhen(raw.expiresBefore, "--expires-before", now, true),
    noExpiry: raw.expiry === false,
    software: raw.software === undefined ? null : parseSoftware(raw.software),
    auth: auth.sort(),
    type: raw.type === "session" || raw.type === "access" ? raw.type : null,
    connected: raw.connected ? true : raw.disconnected ? false : null,
    account: raw.account ?? null,
    accountInactiveSince: raw.accountInactiveSince === undefined ? null : parseWhen(raw.accountInactiveSince, "--account-inactive-since", now),
  };
  if (f.noExpiry && f.expiresBefore !== null) throw usageError("Give --no-expiry or --expires-before, not both.");
  return f;
}

/** A glob (* and ?) as an anchored, case-insensitive RegExp; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`, "isu");
}

const unix = (iso: IsoUtc | null): number | null => (iso === null ? null : Math.floor(Date.parse(iso) / 1000));

/** Does the account (bare JID) match the --account glob? */
export function accountMatches(account: string, glob: string | null): boolean {
  if (glob === null) return true;
  const subject = glob.includes("@") ? account : account.slice(0, account.lastIndexOf("@"));
  return globToRegExp(glob).test(subject);
}

/** Does one record pass every filter? */
export function matchesFilter(r: HostClientRecord, f: ClientFilter): boolean {
  if (!accountMatches(r.account, f.account)) return false;
  if (f.type !== null && r.type !== f.type) return false;
  if (f.connected !== null && r.connected !== f.connected) return false;
  if (f.auth.length > 0 && !f.auth.some((a) => r.auth.includes(a))) return false;
  if (f.software !== null) {
    if (r.userAgent.software !== f.software.name) return false;
    if (f.software.version !== null && r.userAgent.version !== f.software.version) return false;
  }
  const lastSeen = unix(r.lastSeen);
  if (f.lastSeenBefore !== null && lastSeen !== null && lastSeen >= f.lastSeenBefore) return false;
  if (f.lastSeenAfter !== null && (lastSeen === null || lastSeen <= f.lastSeenAfter)) return false;
  const expires = unix(r.expires);
  if (f.expiresBefore !== null && (expires === null || expires >= f.expiresBefore)) return false;
  if (f.noExpiry && (r.type !== "access" || expires !== null)) return false;
  if (f.accountInactiveSince !== null) {
    const active = unix(r.accountLastActivity ?? null);
    if (active === null || active >= f.accountInactiveSince) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The filters as a plan records them (src/engines/plan.ts), checks them when it is read back, and
// `host apply` repeats them as flags: here, so that this module alone knows the list.

/** The filters as the plan records them: times as ISO 8601 (UTC), --all as all: true. */
export interface PlanFilters {
  all: boolean;
  lastSeenBefore: string | null;
  lastSeenAfter: string | null;
  expiresBefore: string | null;
  noExpiry: boolean;
  software: string | null;
  auth: string[];
  type: ClientType | null;
  connected: boolean | null;
  account: string | null;
  /** --account-inactive-since as ISO 8601 (UTC); plans written before it have none (read as null). */
  accountInactiveSince: string | null;
}

const isoOfUnix = (unix: number | null) => (unix === null ? null : new Date(unix * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"));

export function recordFilters(f: ClientFilter, all: boolean): PlanFilters {
  return {
    all,
    lastSeenBefore: isoOfUnix(f.lastSeenBefore),
    lastSeenAfter: isoOfUnix(f.lastSeenAfter),
    expiresBefore: isoOfUnix(f.expiresBefore),
    noExpiry: f.noExpiry,
    software: f.software === null ? null : f.software.version === null ? f.software.name : `${f.software.name}/${f.software.version}`,
    auth: f.auth,
    type: f.type,
    connected: f.connected,
    account: f.account,
    accountInactiveSince: isoOfUnix(f.accountInactiveSince),
  };
}

const isStr = (v: unknown): v is string => typeof v === "string";

/** The recorded filters as PlanFilters, or a sentence naming the first field that is not one. */
export function checkRecordedFilters(v: unknown): PlanFilters | string {
  if (!v || typeof v !== "object" || Array.isArray(v)) return 'its "filters" is not an object';
  const f = v as Record<string, unknown>;
  const bad = (field: string, what: string) => `its "filters.${field}" is not ${what}`;
  const isBool = (x: unknown) => typeof x === "boolean";
  const time = (x: unknown) => x === null || utcTimeAsWritten(x) !== undefined;
  if (!isBool(f.all)) return bad("all", "true or false");
  for (const k of ["lastSeenBefore", "lastSeenAfter", "expiresBefore"] as const) if (!time(f[k])) return bad(k, "null or an ISO 8601 UTC time");
  if (!isBool(f.noExpiry)) return bad("noExpiry", "true or false");
  if (!(f.software === null || (isStr(f.software) && f.software !== ""))) return bad("software", "null or a software name");
  if (!Array.isArray(f.auth) || !f.auth.every((a) => isStr(a) && a !== "")) return bad("auth", "a list of authentication method names");
  if (!(f.type === null || f.type === "session" || f.type === "access")) return bad("type", 'null, "session" or "access"');
  if (!(f.connected === null || isBool(f.connected))) return bad("connected", "null, true or false");
  if (!(f.account === null || isStr(f.account)) || f.account === "") return bad("account", "null or an account pattern");
  if (!(f.accountInactiveSince === undefined || time(f.accountInactiveSince))) return bad("accountInactiveSince", "null or an ISO 8601 UTC time");
  return {
    all: f.all as boolean,
    lastSeenBefore: f.lastSeenBefore as string | null,
    lastSeenAfter: f.lastSeenAfter as string | null,
    expiresBefore: f.expiresBefore as string | null,
    noExpiry: f.noExpiry as boolean,
    software: f.software,
    auth: f.auth as string[],
    type: f.type,
    connected: f.connected as boolean | null,
    account: f.account as string | null,
    accountInactiveSince: (f.accountInactiveSince ?? null) as string | null,
  };
}

/** The recorded filters as the flags that would give them again: --all --software 'Evil Client' … */
export function filterFlags(f: PlanFilters): string[] {
  const flags: string[] = [];
  if (f.all) flags.push("--all");
  if (f.software !== null) flags.push(`--software '${f.software}'`);
  if (f.lastSeenBefore !== null) flags.push(`--last-seen-before ${f.lastSeenBefore}`);
  if (f.lastSeenAfter !== null) flags.push(`--last-seen-after ${f.lastSeenAfter}`);
  if (f.expiresBefore !== null) flags.push(`--expires-before ${f.expiresBefore}`);
  if (f.noExpiry) flags.push("--no-expiry");
  for (const a of f.auth) flags.push(`--auth ${a}`);
  if (f.type !== null) flags.push(`--type ${f.type}`);
  if (f.connected === true) flags.push("--connected");
  if (f.connected === false) flags.push("--disconnected");
  if (f.account !== null) flags.push(`--account '${f.account}'`);
  if (f.accountInactiveSince !== null) flags.push(`--account-inactive-since ${f.accountInactiveSince}`);
  return flags;
}
