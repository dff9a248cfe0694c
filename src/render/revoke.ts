// What `user revoke_client` says: the dry run, the confirmation and the result; the sentences for
// every report; the JSON/CSV record. Sources build reports, src/core/outcomes.ts decides what each
// comes to, this file words them. How a client is named, and the errors where nothing was revoked,
// are src/core/not-revoked.ts.
import { styleText } from "node:util";
import type { ClientRecord, RevokeReport } from "../core/model.js";
import { clientLabel } from "../core/not-revoked.js";
import { remainingAccess, revokeOutcome, type RevokeOutcomeName } from "../core/outcomes.js";
import { csvRow } from "./csv.js";
import { displaySafe } from "../text/untrusted.js";

/** The companion module shipped in prosody/ (named in sentences about what the bare module cannot do). */
const COMPANION_MODULE = "mod_client_management_admin";

/**
 * Bold when colour is on (decided once, in iostreams.ts). node:util's styleText rather than chalk:
 * this module is on every revoke's start-up path, and chalk would load node:os and more with it.
 */
const painter = (color: boolean) => ({ bold: (s: string) => (color ? styleText("bold", s) : s) });

/** "a", "a and b", "a, b and c". */
function listed(words: string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------
// The outcome of a report, in words

/** What camctl (or the server for it) did, in words; empty when nothing or nothing known. */
function doneWords(r: RevokeReport): string[] {
  const words: string[] = [];
  if (r.done.sessionClosed) words.push(r.ownLogin ? "ended camctl's own session" : "closed its session");
  if (r.done.fastTokensRevoked) words.push("revoked its FAST tokens");
  if (r.done.grantRevoked) words.push(r.before.type === "access" ? "revoked the grant" : "revoked its grant");
  return words;
}

const nothingKnown = (r: RevokeReport) => r.done.sessionClosed === null && r.done.fastTokensRevoked === null && r.done.grantRevoked === null;

function remainingWords(name: string, jid: string): string {
  switch (name) {
    case "password":
      return `it can sign in again with ${jid}'s password until that is changed`;
    case "fast":
      return "a FAST token of it still logs in";
    case "grant":
      return "its grant is still valid";
    case "connected":
      return "its session is still open";
    case "listed":
      return "the server still lists it";
    default:
      return `the server still reports "${displaySafe(name)}" access for it`;
  }
}

function unverifiableWords(name: string): string {
  if (name === "unused-fast-token") {
    return (
      "a FAST token it obtained but never used may still let it in: mod_client_management cannot revoke that over XMPP " +
      `(the companion module ${COMPANION_MODULE} on the server, or camctl --socket there, can; changing the password ends it too)`
    );
  }
  return `camctl could not check "${displaySafe(name)}"`;
}

/**
 * How to change an account's password, for the exit-7 sentences (docs/recipes.md says why: a
 * password change also ends every grant and FAST token from before it).
 */
export function passwordChangeHint(jid: string): string {
  return `\`camctl user lockout ${jid} --new-password-file <file>\` sets a new one and revokes everything else the account has`;
}

/** One or two sentences: what was done to which entry, and what still has access. */
export function revokeSentence(r: RevokeReport, bold?: (s: string) => string): string {
  const label = clientLabel(r.before, bold);
  const jid = displaySafe(r.jid);
  const did = listed(doneWords(r));
  const outcome = revokeOutcome(r).name;
  if (outcome === "revoked") return `Revoked ${label} for ${jid}${did ? `: ${did}` : ""}; it has no access left.`;
  if (outcome === "password-reset-required") {
    if (r.ownLogin) {
      return (
        `${label} is camctl's own login, which signed in with ${jid}'s password: camctl ended its session, ` +
        `and it comes back with the password at camctl's next run until the password is changed.`
      );
    }
    const lead = did ? `${label}: ${did}, but it` : nothingKnown(r) ? `${label}: the server revoked what it could, but it` : `${label} has nothing to revoke but its password login: it`;
    return `${lead} signed in with ${jid}'s password and can come back with it until the password is changed: ${passwordChangeHint(jid)}.`;
  }
  const left = remainingAccess(r.after).map((n) => remainingWords(n, jid));
  const unknown = r.unverifiable.map(unverifiableWords);
  const lead = did ? `${label}: ${did}` : nothingKnown(r) ? `${label}: the server revoked what it could` : `${label}: nothing could be revoked`;
  if (left.length === 0) return `${lead} and the server no longer lists it, but ${listed(unknown)}.`;
  return `${lead}, but ${listed(left)}.${unknown.length > 0 ? ` Also, ${listed(unknown)}.` : ""}`;
}

// ---------------------------------------------------------------------------------------------
// What the command shows

/** Everything `user revoke_client` can end with, as one value for the three output formats. */
export type RevokeView =
  | { kind: "dry-run"; jid: string; selector: string; entry: ClientRecord; others: ClientRecord[] }
  | { kind: "report"; jid: string; selector: string; report: RevokeReport; others: ClientRecord[] }
  | { kind: "not-revoked"; jid: string; selector: string; why: "gone" | "changed" | "no-match"; entry: ClientRecord | null; others: ClientRecord[] };

/** The confirmation question: the entry that will be revoked, and that others carry the same name. */
export function revokeQuestion(jid: string, selector: string, entry: ClientRecord, others: readonly ClientRecord[]): string {
  const also =
    others.length > 0
      ? ` (${displaySafe(selector)} also matches ${others.length} other client${others.length === 1 ? "" : "s"}; only this one is revoked)`
      : "";
  return `Revoke ${clientLabel(entry)} from ${displaySafe(jid)}?${also}`;
}

/** The --dry-run text: the entry the server would take, and the others that carry the same name. */
export function renderDryRun(v: Extract<RevokeView, { kind: "dry-run" }>, o: { color: boolean }): string {
  const chalk = painter(o.color);
  const label = clientLabel(v.entry, chalk.bold);
  const jid = displaySafe(v.jid);
  if (v.others.length === 0) return `Would revoke ${label} for ${jid}. Nothing was changed.\n`;
  const n = v.others.length + 1;
  const lines = v.others.map((c) => `  ${clientLabel(c)}\n`).join("");
  return (
    `Would revoke ${label} for ${jid}: ${displaySafe(v.selector)} matches ${n} clients and the server takes the first in its list. Nothing was changed.\n` +
    `Also matching, not revoked (give an id to revoke one of these):\n${lines}`
  );
}

/** Text for stdout: the dry run, or the result when everything was revoked (other outcomes are errors). */
export function renderRevokeHuman(v: RevokeView, o: { color: boolean }): string {
  if (v.kind === "dry-run") return renderDryRun(v, o);
  if (v.kind === "report" && revokeOutcome(v.report).name === "revoked") return revokeSentence(v.report, painter(o.color).bold) + "\n";
  return "";
}

export interface RevokeJson {
  /** The fields every camctl version prints. */
  jid: string;
  selector: string;
  revoked: boolean;
  /** Added: the entry the selector resolved to (null when nothing matched). */
  id: string | null;
  outcome: RevokeOutcomeName | "dry-run" | "gone" | "changed" | "no-match";
  dryRun: boolean;
  /** The entry as listed before, i.e. as shown and confirmed. */
  client: ClientRecord | null;
  /** Other entries a software/ selector matched (the server takes only the first). */
  otherMatches: string[];
  /** What was done; null when nothing was attempted. Each flag null when this path cannot tell. */
  done: RevokeReport["done"] | null;
  /** What still gives the entry access (remainingAccess); null when nothing was attempted. */
  remaining: string[] | null;
  unverifiable: string[];
  /** The entry as listed afterwards; null when it has no access left (or nothing was attempted). */
  after: ClientRecord | null;
}

export function revokeJson(v: RevokeView): RevokeJson {
  // Key order: the original fields first, then what was added.
  const record = (r: Omit<RevokeJson, "jid" | "selector" | "otherMatches">): RevokeJson => ({
    jid: v.jid,
    selector: v.selector,
    revoked: r.revoked,
    id: r.id,
    outcome: r.outcome,
    dryRun: r.dryRun,
    client: r.client,
    otherMatches: v.others.map((c) => c.id),
    done: r.done,
    remaining: r.remaining,
    unverifiable: r.unverifiable,
    after: r.after,
  });
  switch (v.kind) {
    case "dry-run":
      return record({ revoked: false, id: v.entry.id, outcome: "dry-run", dryRun: true, client: v.entry, done: null, remaining: null, unverifiable: [], after: null });
    case "not-revoked":
      return record({ revoked: false, id: v.entry?.id ?? null, outcome: v.why, dryRun: false, client: v.entry, done: null, remaining: null, unverifiable: [], after: null });
    case "report": {
      const r = v.report;
      const outcome = revokeOutcome(r).name;
      return record({
        revoked: outcome === "revoked",
        id: r.id,
        outcome,
        dryRun: false,
        client: r.before,
        done: r.done,
        remaining: remainingAccess(r.after),
        unverifiable: r.unverifiable,
        after: r.after,
      });
    }
  }
}

export const REVOKE_CSV_COLUMNS = [
  "jid", "selector", "revoked", "dryRun", "id", "outcome",
  "sessionClosed", "fastTokensRevoked", "grantRevoked", "remaining", "unverifiable", "otherMatches",
] as const;

const flag = (b: boolean | null | undefined) => (b === null || b === undefined ? "" : String(b));

/** A header and one row; lists are `;`-separated like the client list's auth column. */
export function revokeCsv(v: RevokeView): string {
  const j = revokeJson(v);
  return (
    csvRow(REVOKE_CSV_COLUMNS) +
    csvRow([
      j.jid, j.selector, String(j.revoked), String(j.dryRun), j.id ?? "", j.outcome,
      flag(j.done?.sessionClosed), flag(j.done?.fastTokensRevoked), flag(j.done?.grantRevoked),
      (j.remaining ?? []).join(";"), j.unverifiable.join(";"), j.otherMatches.join(";"),
    ])
  );
}
