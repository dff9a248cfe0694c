// How --software and --software-exact compare a client's user-agent software (src/core/filters.ts),
// and the names suggested when a --software filter matches nothing (docs/host-audit.md).
//
// --software is for people: case-insensitive, and * and ? are wildcards ('nextcloud*' matches
// "Nextcloud Talk"). --software-exact is for scripts: the name (and version) exactly as the client
// sent it, compared on the server as well, as --software was before.
import { globToRegExp } from "./glob.js";
import { msg } from "../text/untrusted.js";

export interface SoftwareFilter {
  name: string;
  version: string | null;
  /** --software-exact: compared exactly (and sent to the server); otherwise a case-insensitive glob. */
  exact: boolean;
}

/** Compiled patterns, one per filter object (a filter is made once and read for every record). */
const compiled = new WeakMap<SoftwareFilter, { name: RegExp; version: RegExp | null }>();

function patterns(f: SoftwareFilter): { name: RegExp; version: RegExp | null } {
  let p = compiled.get(f);
  if (!p) {
    p = { name: globToRegExp(f.name), version: f.version === null ? null : globToRegExp(f.version) };
    compiled.set(f, p);
  }
  return p;
}

/** Does a client with this software (and version) pass the filter? */
export function softwareMatches(f: SoftwareFilter, software: string | null, version: string | null): boolean {
  if (f.exact) return software === f.name && (f.version === null || version === f.version);
  if (software === null) return false;
  const p = patterns(f);
  if (!p.name.test(software)) return false;
  return p.version === null || (version !== null && p.version.test(version));
}

/** Distinct names kept for suggestions; past this many, new names are not recorded (memory stays bounded). */
const MAX_NAMES = 2000;
/** Names suggested at most. */
const MAX_SUGGESTIONS = 3;

/**
 * What a scan saw, for the sentence after an empty result: how many records matched, and the
 * software names of the records every filter but --software let through.
 */
export class SoftwareSeen {
  matched = 0;
  readonly names = new Set<string>();

  note(software: string | null): void {
    if (software !== null && software !== "" && this.names.size < MAX_NAMES) this.names.add(software);
  }
}

/** Case-folded, for comparing names as people type them. */
const fold = (s: string) => s.normalize("NFKC").toLowerCase();

/** Levenshtein distance over code points, stopping early once every cell exceeds `limit`. */
export function editDistance(a: string, b: string, limit = Infinity): number {
  const x = [...a];
  const y = [...b];
  if (Math.abs(x.length - y.length) > limit) return limit + 1;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= y.length; j++) {
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
      row.push(v);
      if (v < best) best = v;
    }
    if (best > limit) return limit + 1;
    prev = row;
  }
  return prev[y.length]!;
}

/**
 * The names in `seen` nearest to what was typed, best first: case-folded, wildcards left out, a
 * name that contains the typed text (or is contained in it) counts as near; otherwise the edit
 * distance must be at most a third of the typed length (and at least 2 is allowed).
 */
export function nearestNames(typed: string, seen: Iterable<string>): string[] {
  const want = fold(typed.replace(/[*?]/g, ""));
  if (want === "") return [];
  const limit = Math.max(2, Math.floor(want.length / 3));
  const scored: { name: string; score: number }[] = [];
  for (const name of seen) {
    const have = fold(name);
    const score = have.includes(want) || want.includes(have) ? 0 : editDistance(want, have, limit);
    if (score <= limit) scored.push({ name, score });
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  return scored.slice(0, MAX_SUGGESTIONS).map((s) => s.name);
}

/**
 * The sentence for stderr when a --software filter left nothing: the nearest software names seen
 * on `host` (among the clients the other filters kept), or undefined when something matched,
 * the filter was --software-exact (the server compared it, so camctl saw no other names) or no
 * name is near.
 */
export function nearestSoftwareSentence(f: SoftwareFilter | null, seen: SoftwareSeen, host: string): string | undefined {
  if (f === null || f.exact || seen.matched > 0) return undefined;
  const near = nearestNames(f.name, seen.names);
  if (near.length === 0) return undefined;
  const quoted = near.map((n) => msg`'${n}'`);
  return String(msg`No software seen on ${host} matches '${f.name}'; the nearest ${near.length === 1 ? "name is" : "names are"} ${quoted} (--software ignores case; * and ? are wildcards).`);
}
