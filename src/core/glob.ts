// The one glob dialect of camctl's filters (--account, --software): * and ? only.

/** A glob (* and ?) as an anchored, case-insensitive RegExp; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`, "isu");
}
