// A client or grant id as a person may type it after reading a table on a terminal: whole, or
// shortened the way the table shows it (src/render/short-id.ts: a unique prefix ending in "…";
// "..." is taken for the mark too, being easier to type). Resolved against the account's live
// list only: an exact id wins; a text ending in the mark must start exactly one listed id, and
// one that starts several is refused with the candidates (docs/revoking.md).
//
// Without the mark a text is an id, compared exactly, never a prefix: clients choose their ids,
// so "client/phone" (revoked yesterday) must not quietly revoke "client/phone2" in a script.
import { usageError } from "./errors.js";
import type { ClientRecord } from "./model.js";
import { msg } from "../text/untrusted.js";

/** Characters of the id's own part a prefix needs at least (git takes 4 of a hash). */
export const MIN_PREFIX = 4;
const MARKS = ["…", "..."] as const;
/** Candidates named in the refusal at most. */
const NAMED = 5;

/**
 * The listed entries `typed` (a client/ or grant/ selector) names: the exact id, or the one id
 * it is a unique prefix of; none when nothing fits. Throws a usage error when the prefix fits
 * more than one listed id.
 */
export function entriesById(clients: readonly ClientRecord[], typed: string, kind: string, jid: string): ClientRecord[] {
  const exact = clients.filter((c) => c.id === typed);
  if (exact.length > 0) return exact;
  const mark = MARKS.find((m) => typed.endsWith(m));
  if (mark === undefined) return [];
  const prefix = typed.slice(0, -mark.length);
  if ([...prefix].length - (kind.length + 1) < MIN_PREFIX) return [];
  const found = clients.filter((c) => c.id.startsWith(prefix));
  if (found.length > 1) {
    // In id order, so the sentence is the same whatever order the server listed them in.
    const named = found.map((c) => c.id).sort().slice(0, NAMED).map((id) => msg`${id}`);
    const more = found.length > NAMED ? msg`, and ${found.length - NAMED} more` : "";
    throw usageError(
      msg`${typed} is the start of ${found.length} ids of ${jid}: ${named}${more}; nothing was revoked. Give more of the id (\`camctl user clients ${jid} --wide\` shows them whole).`,
    );
  }
  return found;
}

/**
 * When `typed` (no id, no mark) starts listed ids: a sentence saying how to use it as a short id,
 * for the "no client matches" error (a short id copied without its "…").
 */
export function unmarkedPrefixHint(clients: readonly ClientRecord[], typed: string): string | undefined {
  if (MARKS.some((m) => typed.endsWith(m))) return undefined;
  const n = clients.filter((c) => c.id.startsWith(typed)).length;
  if (n === 0) return undefined;
  return String(msg`It is the start of ${n === 1 ? "one listed id" : `${n} listed ids`}: to use it as a short id, end it with "…" or "..." ('${typed}...').`);
}
