// How many terminal columns display-safe text takes, close to what terminals do (wcwidth):
// East Asian wide/fullwidth characters and emoji shown as emoji (also a text character followed by
// VS16, U+FE0F) take 2, combining marks 0,
// everything else 1. Input never holds controls or format characters (displaySafe escaped them).

/** East Asian Wide (W) and Fullwidth (F) blocks. */
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initials
  [0x2329, 0x232a], // angle brackets
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols
  [0x3041, 0x33ff], // kana, bopomofo, Hangul compatibility Jamo, enclosed CJK, CJK compatibility
  [0x3400, 0x4dbf], // CJK Extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo Extended-A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6],
  [0x16fe0, 0x18cff], // Tangut, Khitan
  [0x1b000, 0x1b2ff], // kana supplement/extended
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x3fffd], // CJK Extension B and later, tertiary ideographic plane
];

const NARROW_ONLY = /^[\u0000-\u02ff]*$/;
// The /u patterns are made on first use: text past Latin-1 is rare, and building a pattern with
// property classes costs start-up a fraction of a millisecond.
let emoji: RegExp | undefined;
/** Characters that become emoji (2 columns) when VARIATION SELECTOR-16 follows them, e.g. ☺️ ❤️ #️⃣. */
let emojiWithVs16: RegExp | undefined;
const VS16 = "\ufe0f";
let combining: RegExp | undefined;

function codePointWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x300) return 1; // fast path: ASCII and Latin-1
  if ((combining ??= /[\p{Mn}\p{Me}]/u).test(ch)) return 0;
  for (const [lo, hi] of WIDE_RANGES) if (cp >= lo && cp <= hi) return 2;
  return (emoji ??= /\p{Emoji_Presentation}/u).test(ch) ? 2 : 1;
}

/**
 * The units a cut must not split, with their widths: a code point, or a code point and the VS16
 * after it. VS16 asks for the emoji form, which terminals draw 2 columns wide (☺ alone is 1, ☺️ is 2).
 */
function* units(s: string): Generator<[text: string, width: number]> {
  let held: [string, number] | undefined;
  for (const ch of s) {
    if (ch === VS16 && held && held[1] === 1 && (emojiWithVs16 ??= /\p{Emoji}/u).test(held[0])) {
      yield [held[0] + ch, 2];
      held = undefined;
      continue;
    }
    if (held) yield held;
    held = [ch, codePointWidth(ch)];
  }
  if (held) yield held;
}

/** Columns `s` takes on a terminal. `s` must already be display-safe. */
export function displayWidth(s: string): number {
  if (NARROW_ONLY.test(s)) return s.length; // the common case: ASCII and Latin-1
  let width = 0;
  for (const [, w] of units(s)) width += w;
  return width;
}

/** Cuts `s` to at most `max` columns, ending in `…` when something was cut. Never splits a code point. */
export function truncateToWidth(s: string, max: number): string {
  if (NARROW_ONLY.test(s)) return s.length <= max ? s : s.slice(0, Math.max(0, max - 1)) + "…";
  // One pass that stops as soon as `s` is known to be too wide: a long value costs only `max`.
  let kept = "";
  let keptWidth = 0;
  let width = 0;
  for (const [text, w] of units(s)) {
    width += w;
    if (width > max) return kept + "…";
    if (keptWidth + w <= max - 1) {
      kept += text;
      keptWidth += w;
    }
  }
  return s;
}

/**
 * `text` (display-safe) broken at spaces into lines of at most `width` columns, continuation
 * lines indented by `indent`; a word longer than a line stays whole on its own line.
 */
export function wrapToWidth(text: string, width: number, indent = "  "): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const candidate = line === "" ? word : `${line} ${word}`;
    if (line !== "" && displayWidth(candidate) > width) {
      lines.push(line);
      line = indent + word;
    } else {
      line = candidate;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}
