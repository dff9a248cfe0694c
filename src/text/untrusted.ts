// Untrusted text (software, device, uri, ids chosen by whoever holds the credentials, possibly an
// intruder; server error texts; argv and environment values) is made safe here before it reaches
// a terminal, a table, a CSV file or a message.
//
// Three layers, so that a forgotten call cannot leak:
//   - displaySafe(s): the exact, unambiguous escape for one untrusted value;
//   - msg`…${value}…`: builds a message whose interpolations are escaped (literal parts are
//     camctl's own words), giving a SafeText that can be nested without being escaped twice;
//   - escapeUnsafe(s): the net applied where messages leave the program (cli.ts), which escapes any
//     unsafe character still left and leaves already-escaped text exactly as it is.

/**
 * Characters that must never be written raw: C0 controls (incl. TAB, CR, LF, BS), DEL and the
 * C1 controls (all \p{Cc}), format/bidi/invisible characters (\p{Cf}: U+061C, U+200B–U+200F,
 * U+202A–U+202E, U+2060–U+2069, U+FEFF, ...), the line and paragraph separators U+2028/U+2029,
 * and lone surrogates (\p{Cs} only matches unpaired halves in a /u regex).
 *
 * The patterns are made on first use (a /u pattern with property classes costs start-up a
 * fraction of a millisecond to build), and text of printable ASCII only, which none of them can
 * match, skips them: the common case never builds them.
 */
const unsafe = once(() => /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu);

/** The same set but the line feed: for text whose own line breaks are its layout (JSON). */
const unsafeButLf = once(() => /(?!\n)[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu);

/** The same set plus the backslash, which displaySafe escapes as well. */
const unsafeOrBackslash = once(() => /[\\\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu);

/** Printable ASCII (U+0020–U+007E), with line feeds, and without the backslash. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const PRINTABLE_ASCII_OR_LF = /^[\n\x20-\x7e]*$/;
const PRINTABLE_ASCII_BUT_BACKSLASH = /^[\x20-\x5b\x5d-\x7e]*$/;

function once<T>(make: () => T): () => T {
  let made: T | undefined;
  return () => (made ??= make());
}

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
  return PRINTABLE_ASCII_BUT_BACKSLASH.test(s) ? s : s.replace(unsafeOrBackslash(), escapeChar);
}

/**
 * Replaces every unsafe character (not the backslash) with `replacer(ch)`; used by the JSON
 * writer, which keeps its own line feeds (`keepLineFeeds`) so as not to visit every line.
 */
export function replaceUnsafe(s: string, replacer: (ch: string) => string, keepLineFeeds = false): string {
  if ((keepLineFeeds ? PRINTABLE_ASCII_OR_LF : PRINTABLE_ASCII).test(s)) return s;
  return s.replace(keepLineFeeds ? unsafeButLf() : unsafe(), replacer);
}

/**
 * The safety net for whole messages: escapes every unsafe character left in `s` (the line feed
 * too, so a message stays one line) and leaves backslashes alone. Text that is already safe
 * (displaySafe output, a msg`` result) has no unsafe character, so it comes back unchanged:
 * applying the net twice, or to escaped text, never doubles a backslash.
 */
export function escapeUnsafe(s: string): string {
  return PRINTABLE_ASCII.test(s) ? s : s.replace(unsafe(), escapeChar);
}

let makeSafeText!: (text: string) => SafeText;

/** Text that may be printed as it is: built by msg`` or excerpt(), never straight from input. */
export class SafeText {
  readonly #text: string;
  private constructor(text: string) {
    this.#text = text;
  }
  static {
    // Only this module makes SafeText, so holding one means the text went through an escape.
    makeSafeText = (text) => new SafeText(text);
  }
  toString(): string {
    return this.#text;
  }
}

function interpolate(value: unknown): string {
  if (value instanceof SafeText) return value.toString();
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map(interpolate).join(", ");
  return displaySafe(String(value));
}

/**
 * Builds a message from camctl's own words (the literal parts) and untrusted values (the
 * interpolations), which are escaped with displaySafe; a SafeText value is inserted as it is,
 * numbers and booleans as they print, arrays as their items joined with ", ".
 *
 *     throw new CamError("usage", msg`Cannot read --ca-file ${file} (${code}).`);
 */
export function msg(strings: TemplateStringsArray, ...values: unknown[]): SafeText {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += interpolate(values[i]) + (strings[i + 1] ?? "");
  return makeSafeText(out);
}

/**
 * At most `max` characters of an untrusted text (for example what a server said in an error),
 * escaped, with "…" when it was cut. Cuts the text before escaping, so an escape is never halved.
 */
export function excerpt(text: string, max = 300): SafeText {
  // max code points take at most 2 * max code units; Array.from keeps surrogate pairs whole.
  const head = Array.from(text.slice(0, max * 2)).slice(0, max).join("");
  return makeSafeText(displaySafe(head) + (head.length < text.length ? "…" : ""));
}
