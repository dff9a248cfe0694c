// Untrusted text (software, device, uri, ids, ... chosen by whoever holds the credentials,
// possibly an intruder) is made safe here before it reaches a terminal, table or CSV file.

/**
 * Characters that must never be written raw: C0 controls (incl. TAB, CR, LF, BS), DEL and the
 * C1 controls (all \p{Cc}), format/bidi/invisible characters (\p{Cf}: U+061C, U+200B–U+200F,
 * U+202A–U+202E, U+2060–U+2069, U+FEFF, ...), the line and paragraph separators U+2028/U+2029,
 * and lone surrogates (\p{Cs} only matches unpaired halves in a /u regex).
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/** The same set but the line feed: for text whose own line breaks are its layout (JSON). */
const UNSAFE_BUT_LF = /(?!\n)[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

/** The same set plus the backslash, which displaySafe escapes as well. */
const UNSAFE_OR_BACKSLASH = /[\\\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu;

const NAMED: Readonly<Record<string, string>> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, "0");
}

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const cp = ch.codePointAt(0) ?? 0;
  if (cp <= 0x9f) return `\\x${hex(cp, 2)}`; // C0, DEL, C1: \x1b, \x7f, \x9b
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`; // \u202e, \ufeff, \ud800 (lone surrogate)
  return `\\u{${hex(cp, 5)}}`; // astral format characters, e.g. tags \u{e0001}
}

/**
 * Returns `s` as one line that is safe to print: every unsafe character is replaced by a
 * visible escape (`\x1b`, `\n`, `\u202e`, ...), so no escape sequence (CSI, OSC title
 * injection, ...) or bidi trick can reach the terminal and no line break can fake a row.
 *
 * A literal backslash is doubled (`\\`) so that the output is unambiguous: a name that
 * really contains the four characters `\x1b` shows as `\\x1b`, never like a real ESC.
 */
export function displaySafe(s: string): string {
  return s.replace(UNSAFE_OR_BACKSLASH, escapeChar);
}

/**
 * Replaces every unsafe character (not the backslash) with `replacer(ch)`; used by the JSON
 * writer, which keeps its own line feeds (`keepLineFeeds`) so as not to visit every line.
 */
export function replaceUnsafe(s: string, replacer: (ch: string) => string, keepLineFeeds = false): string {
  return s.replace(keepLineFeeds ? UNSAFE_BUT_LF : UNSAFE, replacer);
}
