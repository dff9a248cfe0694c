// A client or grant id as a person may type it after reading a table on a terminal: whole, or
// shortened the way the table shows it (src/render/short-id.ts: a unique prefix ending in "…"),
// with or without that mark ("..." is taken for it too, being easier to type). Resolved against
// the account's live list only: an exact id wins; otherwise the prefix must name exactly one
// listed id, and a prefix that fits several is refused with the candidates (docs/revoking.md).
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
  const prefix = mark === undefined ? typed : typed.slice(0, -mark.length);
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
