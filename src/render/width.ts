// Terminal column widths of display-safe text, for fitting tables to the terminal.
//
// cli-table3 pads cells by its own measure (string-width 4). We measure a little generously
// (never less than that measure), so the cells we hand it always fit the widths we planned
// and cli-table3 never truncates on its own (its truncation can split surrogate pairs).

/** East Asian wide/fullwidth blocks, plus the emoji planes (generous on purpose). */
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initials
  [0x2329, 0x232a], // angle brackets
  [0x2e80, 0x4dbf], // CJK radicals .. CJK Extension A (kana, bopomofo, enclosed CJK, ...)
  [0x4e00, 0xa4cf], // CJK unified ideographs .. Yi
  [0xa960, 0xa97f], // Hangul Jamo Extended-A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6],
  [0x16fe0, 0x18cff], // Tangut, Khitan, ...
  [0x1b000, 0x1b2ff], // kana supplement/extended
  [0x1f000, 0x1faff], // emoji, enclosed ideographic supplement, regional indicators
  [0x20000, 0x3fffd], // CJK extensions B.., tertiary ideographic plane
];

const PICTOGRAPHIC = /\p{Extended_Pictographic}/u;

function codePointWidth(ch: string): number {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp >= 0x300 && cp <= 0x36f) return 0; // combining diacritics
  for (const [lo, hi] of WIDE_RANGES) if (cp >= lo && cp <= hi) return 2;
  return PICTOGRAPHIC.test(ch) ? 2 : 1;
}

/** Columns `s` takes on a terminal (an upper bound). `s` must already be display-safe. */
export function displayWidth(s: string): number {
  let width = 0;
  for (const ch of s) width += codePointWidth(ch);
  return width;
}

/** Cuts `s` to at most `max` columns, ending in `…` when something was cut. Never splits a code point. */
export function truncateToWidth(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  let out = "";
  let width = 0;
  for (const ch of s) {
    const w = codePointWidth(ch);
    if (width + w > max - 1) break;
    out += ch;
    width += w;
  }
  return out + "…";
}
