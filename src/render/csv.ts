// CSV output (RFC 4180): a header row, then one row per client, CRLF line ends. Values are never
// shortened (the table caps long values; CSV is for exact data).
//
// - Strings from the server or clients go through displaySafe first, so a field never holds a
//   raw control character; quoting is still applied by the RFC rules (`"`, `,`, CR, LF).
// - Times are absolute ISO 8601 UTC (`2026-11-27T14:37:25Z`); absent values are empty fields.
// - `auth` holds the method names separated by `;` (one field, sorted as the server gave them).
// - Booleans are `true` / `false`.
// - Listings of several accounts put an `account` column first; of several servers, `context` before it.
// - Spreadsheet guard: a value that starts with `=`, `+`, `-` or `@` gets a leading `'` so that
//   a client name chosen by an intruder is never run as a formula when the file is opened in a
//   spreadsheet. Use the JSON output when the exact values matter.

import type { ClientList, ClientRecord } from "../core/model.js";
import type { ClientRow } from "./client-records.js";
import { displaySafe } from "../text/untrusted.js";

export const CSV_COLUMNS = [
  "id",
  "type",
  "connected",
  "firstSeen",
  "lastSeen",
  "expires",
  "auth",
  "software",
  "version",
  "softwareId",
  "uri",
  "device",
  "permission",
  // Where it connects from (core/network.ts); empty when unknown, and the addresses with --no-ip.
  "ip",
  "connectedSince",
  "firstIp",
  "firstLogin",
  "lastIp",
  "lastLogin",
  "lastMechanism",
  "loginCount",
] as const;

/** Listings of several accounts end with the account's facts (docs/account-activity.md). */
export const ACCOUNT_FACT_COLUMNS = ["accountLastActivity", "accountStatus"] as const;

/** One field, quoted when RFC 4180 requires it. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Keeps spreadsheets from reading a field as a formula. */
function formulaSafe(field: string): string {
  return /^[=+\-@]/.test(field) ? `'${field}` : field;
}

/** One CSV record with its CRLF. Fields are untrusted text: made display-safe, formula-safe, then quoted. */
export function csvRow(fields: readonly string[]): string {
  return fields.map((f) => csvField(formulaSafe(displaySafe(f)))).join(",") + "\r\n";
}

const orEmpty = (value: string | null): string => value ?? "";

function row(c: ClientRecord): string[] {
  return [
    c.id,
    c.type,
    c.connected ? "true" : "false",
    orEmpty(c.firstSeen),
    orEmpty(c.lastSeen),
    orEmpty(c.expires),
    c.auth.join(";"),
    orEmpty(c.userAgent.software),
    orEmpty(c.userAgent.version),
    orEmpty(c.userAgent.softwareId),
    orEmpty(c.userAgent.uri),
    orEmpty(c.userAgent.device),
    orEmpty(c.permission),
    orEmpty(c.ip ?? null),
    orEmpty(c.connectedSince ?? null),
    orEmpty(c.firstIp ?? null),
    orEmpty(c.firstLogin ?? null),
    orEmpty(c.lastIp ?? null),
    orEmpty(c.lastLogin ?? null),
    orEmpty(c.lastMechanism ?? null),
    c.loginCount == null ? "" : String(c.loginCount),
  ];
}

/** The client CSV, a row at a time: push() each record, then end() (the header alone when empty). */
export class CsvClients {
  private header: string | undefined;
  constructor(private readonly account: boolean, private readonly context = false) {
    this.header = csvRow([...(context ? ["context"] : []), ...(account ? ["account"] : []), ...CSV_COLUMNS, ...(account ? ACCOUNT_FACT_COLUMNS : [])]);
  }
  push(c: ClientRow): string {
    const facts = this.account ? [orEmpty(c.accountLastActivity ?? null), orEmpty(c.accountStatus ?? null)] : [];
    const line = csvRow([...(this.context ? [c.context ?? ""] : []), ...(this.account ? [c.account ?? ""] : []), ...row(c), ...facts]);
    return this.takeHeader() + line;
  }
  end(): string {
    return this.takeHeader();
  }
  private takeHeader(): string {
    const header = this.header ?? "";
    this.header = undefined;
    return header;
  }
}

export function renderClientsCsv(list: ClientList): string {
  const csv = new CsvClients(false);
  return list.clients.map((c) => csv.push(c)).join("") + csv.end();
}
