// Short ids for the client table on a terminal, the way git shortens hashes: the shortest prefix
// that no other listed id shares, never fewer than SHORT_ID_MIN characters after "client/" or
// "grant/", marked with SHORT_ID_MARK. JSON, NDJSON, CSV, a table off a terminal and --wide keep
// the full id, and so does a table that fits with whole ids. `user revoke-client` accepts the
// short form as printed, mark included (src/core/id-prefix.ts), against the account's live list,
// and refuses a prefix that fits more than one client (docs/output-formats.md).

/** Characters kept after the kind ("client/", "grant/") at least; git shows 7 of a hash. */
export const SHORT_ID_MIN = 7;
/** Ends a shortened id; the id's own text is never cut without it. */
export const SHORT_ID_MARK = "…";

/** The kind part an id starts with ("client/", "grant/"), or "" for an id of another form. */
function kindOf(id: string): string {
  return id.startsWith("client/") ? "client/" : id.startsWith("grant/") ? "grant/" : "";
}

/** Code units `a` and `b` have in common at the start. */
function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * Shortens the ids of one table: those of the planned rows (the first rows, from which the
 * columns are planned) each to its shortest prefix no other planned id shares; those of later rows
 * to the planned rows' longest prefix length, or whole when an earlier id has that same prefix.
 * A later id can make an earlier, already printed prefix ambiguous; revoke-client then refuses it
 * and names the candidates, never guesses.
 */
export class IdShortener {
  /** The longest cut (code units) of the planned ids; later ids are cut there. */
  private cut = 0;
  /** Every id so far by its prefix at `cut` (from the planned rows on). */
  private readonly byPrefix = new Map<string, string>();

  /** The planned rows' ids as the table shows them, in the same order. */
  planned(ids: readonly string[]): string[] {
    const sorted = [...ids].sort();
    const cuts = new Map<string, number | null>();
    sorted.forEach((id, i) => {
      const prev = sorted[i - 1];
      const next = sorted[i + 1];
      // The same id twice (two accounts' clients with one id): no prefix tells them apart.
      if (prev === id || next === id) return cuts.set(id, null);
      const shared = Math.max(prev === undefined ? 0 : commonPrefix(prev, id), next === undefined ? 0 : commonPrefix(next, id));
      cuts.set(id, cutAt(id, shared + 1));
    });
    for (const c of cuts.values()) if (c !== null && c > this.cut) this.cut = c;
    for (const id of ids) this.byPrefix.set(id.slice(0, this.cut), id);
    return ids.map((id) => shown(id, cuts.get(id) ?? null));
  }

  /** A later row's id as the table shows it. */
  next(id: string): string {
    const prefix = id.slice(0, this.cut);
    if (this.byPrefix.has(prefix)) return id;
    this.byPrefix.set(prefix, id);
    return shown(id, cutAt(id, this.cut));
  }
}

/** Where to cut `id` to keep at least `least` code units, SHORT_ID_MIN after its kind, and whole surrogate pairs. */
function cutAt(id: string, least: number): number {
  let cut = Math.max(least, kindOf(id).length + SHORT_ID_MIN);
  if (cut < id.length && /[\ud800-\udbff]/.test(id.charAt(cut - 1))) cut++;
  return cut;
}

/** The id cut at `cut` with the mark, when that replaces at least two characters; else whole. */
function shown(id: string, cut: number | null): string {
  return cut !== null && cut < id.length - 1 ? id.slice(0, cut) + SHORT_ID_MARK : id;
}
