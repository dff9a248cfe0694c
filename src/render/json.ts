// JSON output: exact and valid, and still safe to `cat` to a terminal.
//
// JSON.stringify already escapes C0 controls and lone surrogates, but writes DEL, C1 controls,
// bidi overrides and other format characters raw. Those can only occur inside string literals
// (the JSON syntax itself is ASCII), so writing each of them as a \uXXXX escape keeps the text
// valid JSON and JSON.parse gives back exactly the original strings.

import { replaceUnsafe } from "../text/untrusted.js";

function unicodeEscape(ch: string): string {
  let out = "";
  // Astral characters (e.g. U+E0001 LANGUAGE TAG) become a surrogate pair, as JSON requires.
  for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/** `value` as 2-space indented JSON with a trailing newline, with no raw control or bidi character. */
export function renderJson(value: unknown): string {
  const json = JSON.stringify(value, null, 2) ?? "null"; // undefined (and functions) have no JSON form
  // Raw line feeds in JSON.stringify's output are only its own indentation (inside strings it
  // escapes every C0 character itself), so they stay.
  return replaceUnsafe(json, unicodeEscape, true) + "\n";
}
