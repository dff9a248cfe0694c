// The exit codes are defined once (src/core/errors.ts); --help is generated from that table, and
// docs/exit-codes.md and the man page must list exactly the same codes with the same meanings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { main } from "../../src/cli/program.js";
import { EXIT_CODES, ExitCode } from "../../src/core/errors.js";
import { fakeIO } from "../helpers/fake-io.js";

const expected = EXIT_CODES.map((r) => [r.code, r.meaning] as const);
const repoFile = (name: string) => readFileSync(new URL(`../../../${name}`, import.meta.url), "utf8");

/** The rows of the table in docs/exit-codes.md, code and meaning, with Markdown code marks removed. */
function docsCodes(): Array<readonly [number, string]> {
  const doc = repoFile("docs/exit-codes.md");
  const section = doc.slice(doc.indexOf("# Exit codes"));
  const rows = [...section.matchAll(/^\| (\d+) \| (.*) \|$/gm)];
  assert.ok(rows.length > 0, "docs/exit-codes.md has an exit-code table");
  // Only the first table: it ends at the first line that is not a row.
  const table = section.slice(section.indexOf("| code | meaning |")).split("\n\n")[0]!;
  return [...table.matchAll(/^\| (\d+) \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2]!.replace(/`/g, "")] as const);
}

/** The `.TP / .B code / meaning` entries of the man page's EXIT STATUS section, roff escapes undone. */
function manCodes(): Array<readonly [number, string]> {
  const man = repoFile("man/camctl.1");
  const section = man.slice(man.indexOf(".SH EXIT STATUS"), man.indexOf(".SH", man.indexOf(".SH EXIT STATUS") + 1));
  return [...section.matchAll(/^\.TP\n\.B (\d+)\n((?:(?!\.)[^\n]*\n)+)/gm)].map(
    (m) => [Number(m[1]), m[2]!.trim().replace(/\n/g, " ").replace(/\\-/g, "-").replace(/\\\(aq/g, "'").replace(/\\e/g, "\\")] as const,
  );
}

test("each code and each name appears once in the table", () => {
  assert.equal(new Set(EXIT_CODES.map((r) => r.code)).size, EXIT_CODES.length);
  assert.equal(new Set(EXIT_CODES.map((r) => r.name)).size, EXIT_CODES.length);
  assert.equal(ExitCode.ok, 0);
  assert.equal(ExitCode.partlyDone, 9);
  assert.equal(ExitCode.outputLost, 10);
  assert.equal(ExitCode.interrupted, 130);
});

test("docs/exit-codes.md lists exactly the table's codes with the same meanings", () => {
  assert.deepEqual(docsCodes(), expected);
});

test("man/camctl.1 lists exactly the table's codes with the same meanings", () => {
  assert.deepEqual(manCodes(), expected);
});

test("--help lists every code with its meaning, generated from the table", async () => {
  const f = fakeIO();
  assert.equal(await main(["--help"], { io: f.io }), 0);
  const help = f.out();
  const listed = [...help.slice(help.indexOf("Exit codes:")).matchAll(/^ +(\d+) {2}(.+)$/gm)].map((m) => [Number(m[1]), m[2]!] as const);
  assert.deepEqual(listed, expected);
});
