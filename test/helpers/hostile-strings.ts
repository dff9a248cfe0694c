// Client names an intruder might choose, and what must never reach a terminal raw: shared by the
// integration tests that drive hostile strings through a real server and camctl.

/** Nothing that a terminal interprets: C0 (but line breaks), DEL, C1, bidi/format characters. */
export const UNSAFE_FOR_TERMINAL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2028\u2029]/u;

export const HOSTILE = {
  title: "Evil\x1b]0;pwned\x07App",
  csi: "Red\x1b[31mAlert\x1b[0m",
  c1: "C1\u009b31mCSI",
  newline: "Two\nLines\r\nFake row",
  bidi: "Safe\u202egpj.exe",
  zeroWidth: "Zero\u200bWidth\ufeff",
  comma: 'Comma, "quoted"',
};
