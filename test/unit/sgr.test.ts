// The table's own bold/dim/green (src/render/sgr.ts) against chalk at level 1 and level 0, byte
// for byte, on plain text, empty text, line breaks and text that already carries the codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Chalk } from "chalk";
import { painter } from "../../src/render/sgr.js";

const samples = [
  "", "a", "ID", "3 min ago (14:37)", "line\nbreak", "cr\r\nlf", "\n", "\r\n", "a\n\nb\r\n", "\r\r\nx",
  "x\u001B[22my", "x\u001B[39my\u001B[22m", "\u001B[1mbold\u001B[22m and\nmore", "…‐ wide 漢字 😀",
];

test("sgr: bold, dim and green are chalk's, with colour and without", () => {
  for (const color of [true, false]) {
    const chalk = new Chalk({ level: color ? 1 : 0 });
    const ours = painter(color);
    for (const s of samples) {
      assert.equal(ours.bold(s), chalk.bold(s), `bold ${color} ${JSON.stringify(s)}`);
      assert.equal(ours.dim(s), chalk.dim(s), `dim ${color} ${JSON.stringify(s)}`);
      assert.equal(ours.green(s), chalk.green(s), `green ${color} ${JSON.stringify(s)}`);
    }
  }
});
