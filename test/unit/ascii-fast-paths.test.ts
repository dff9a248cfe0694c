// The ASCII shortcuts of validate.ts and text/untrusted.ts (which skip building /u patterns with
// property classes at start-up) mean exactly what the /u patterns mean: every ASCII character,
// alone and among others, gets the same answer from both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBareJid } from "../../src/core/validate.js";
import { displaySafe, escapeUnsafe, replaceUnsafe } from "../../src/text/untrusted.js";

const ascii = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));
const verdict = (f: () => string) => {
  try {
    return f();
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
};
const reference = {
  unsafe: /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu,
  unsafeButLf: /(?!\n)[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu,
  localpart: /["&'/:<>@\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u,
  label: /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u,
};

test("validate: on ASCII the shortcut accepts and refuses exactly what the /u patterns do", () => {
  for (const ch of ascii) {
    if (ch === "/" || ch === "@") continue; // a resource part, another @: refused before these checks
    const local = `a${ch}b`;
    const gotLocal = verdict(() => parseBareJid(`${local}@example.com`));
    assert.equal(!gotLocal.startsWith("error:"), !reference.localpart.test(local), `localpart ${JSON.stringify(local)}: ${gotLocal}`);
    if (ch === ".") continue; // splits the label in two
    const label = `a${ch}b`;
    const gotLabel = verdict(() => parseBareJid(`alice@${label}.com`));
    assert.equal(!gotLabel.startsWith("error:"), reference.label.test(label.toLowerCase()), `label ${JSON.stringify(label)}: ${gotLabel}`);
  }
});

test("untrusted: on ASCII the shortcut escapes exactly what the /u patterns do", () => {
  const all = ascii.join("");
  for (const s of [...ascii, all, `x${all}y`, "plain text", "back\\slash", "line\nfeed"]) {
    const mark = (ch: string) => `<${ch.charCodeAt(0)}>`;
    assert.equal(replaceUnsafe(s, mark), s.replace(reference.unsafe, mark), JSON.stringify(s));
    assert.equal(replaceUnsafe(s, mark, true), s.replace(reference.unsafeButLf, mark), JSON.stringify(s));
    assert.equal(escapeUnsafe(s).length >= s.length, true);
    assert.equal(displaySafe(s).includes("\u001b"), false);
  }
});
