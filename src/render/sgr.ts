// The three styles the client table uses (bold, dim, green), written as chalk 5 writes them at
// colour level 1 (basic ANSI), without loading chalk: it sets itself up (colour-support probing,
// style tables) when imported, and the table is on the start-up path. A unit test
// (test/unit/sgr.test.ts) checks these against chalk itself, byte for byte.

export type Style = (s: string) => string;

/** Every occurrence of `find` in `s` followed by `then` (chalk's stringReplaceAll). */
function afterEach(s: string, find: string, then: string): string {
  return s.split(find).join(find + then);
}

/** Closes the style before each line break and opens it again after (chalk's CRLF handling). */
function encaseLines(s: string, close: string, open: string): string {
  return s.replace(/\r?\n/g, (lf) => close + lf + open);
}

function style(open: number, close: number): Style {
  const o = `\u001B[${open}m`;
  const c = `\u001B[${close}m`;
  return (s) => {
    if (!s) return s;
    if (s.includes("\u001B")) s = afterEach(s, c, o);
    if (s.includes("\n")) s = encaseLines(s, c, o);
    return o + s + c;
  };
}

const plain: Style = (s) => s;

/** chalk's bold, dim and green at level 1 when `color`, else the text as it is (chalk at level 0). */
export function painter(color: boolean): { bold: Style; dim: Style; green: Style } {
  if (!color) return { bold: plain, dim: plain, green: plain };
  return { bold: style(1, 22), dim: style(2, 22), green: style(32, 39) };
}
