// One declaration of the commands: the commander tree in src/ is the source of truth. --help and
// the completion scripts are generated from it; this test checks the rest against it:
// docs/usage.md's "Options by command" tables (one per command), the man page, and that the
// completion scripts offer every option. It fails when an option is added, removed or renamed
// in one place only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import type { Command, Option } from "commander";
import { buildProgram, main } from "../../src/cli/program.js";
import type { Deps } from "../../src/cli/deps.js";
import { fakeIO } from "../helpers/fake-io.js";

const repoFile = (name: string) => readFileSync(new URL(`../../../${name}`, import.meta.url), "utf8");

/** The program as camctl builds it; nothing runs, so the outside world is never reached. */
async function program(): Promise<Command> {
  const unused = () => assert.fail("building the command tree must not reach the outside world");
  const deps: Deps = { io: fakeIO().io, prepareSource: unused, defaultSocket: "/nonexistent.sock", confirm: unused, ask: unused };
  return buildProgram(deps); // no argv: the whole tree
}

interface Declared {
  /** Command words after `camctl` (empty: the options that stand before the command). */
  path: string[];
  longs: string[];
}

/** The program itself and every command that runs something (not the groups `user`, `host`, `config`). */
async function declared(): Promise<Declared[]> {
  const out: Declared[] = [];
  const longs = (c: Command) => (c.options as Option[]).map((o) => o.long).filter((l): l is string => Boolean(l));
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands as Command[]) {
      const p = [...path, sub.name()];
      if ((sub.commands as Command[]).length > 0) walk(sub, p);
      else out.push({ path: p, longs: longs(sub) });
    }
  };
  const p = await program();
  out.push({ path: [], longs: longs(p) });
  walk(p, []);
  return out;
}

/** Long options every command takes without declaring them. */
const IMPLICIT = ["--help"];
const LONG = /--[a-z][a-z0-9-]*/g;

/**
 * docs/usage.md's "Options by command": for each `### … \`camctl <words> …\`` heading, the long
 * options named in the first cell of its table's rows (null: the command has no table).
 */
function usageTables(): Map<string, string[] | null> {
  const usage = repoFile("docs/usage.md");
  const start = usage.indexOf("\n## Options by command");
  assert.ok(start >= 0, 'docs/usage.md has a "## Options by command" section');
  const end = usage.indexOf("\n## ", start + 1);
  const section = usage.slice(start, end < 0 ? undefined : end);
  const tables = new Map<string, string[] | null>();
  for (const block of section.split(/\n(?=### )/).slice(1)) {
    const heading = block.slice(0, block.indexOf("\n"));
    const code = /`camctl([^`]*)`/.exec(heading);
    assert.ok(code, `a heading names its command in code: ${heading}`);
    const words: string[] = [];
    for (const w of code[1]!.trim().split(/\s+/)) {
      if (!/^[a-z][a-z_-]*$/.test(w)) break;
      words.push(w);
    }
    const key = words.join(" ");
    assert.ok(!tables.has(key), `one table per command: ${key || "(before the command)"}`);
    const rows = block.split("\n").filter((l) => l.startsWith("| ") && !/^\| option \|/.test(l));
    tables.set(key, rows.length === 0 ? null : rows.flatMap((r) => (r.split(/(?<!\\)\|/)[1] ?? "").match(LONG) ?? []));
  }
  return tables;
}

/** Every long option the man page names (roff's `\-\-` and font changes undone). */
function manLongs(): Set<string> {
  const man = repoFile("man/camctl.1").replace(/\\-/g, "-").replace(/\\f[BIRP]/g, "");
  return new Set(man.match(LONG) ?? []);
}

const label = (path: string[]) => (path.length ? `camctl ${path.join(" ")}` : "camctl (before the command)");

test("docs/usage.md has one option table per command, listing exactly the options the command declares", async () => {
  const tables = usageTables();
  const commands = (await declared());
  for (const { path, longs } of commands) {
    const key = path.join(" ");
    assert.ok(tables.has(key), `docs/usage.md has a "### \`camctl ${key}\`" heading under "Options by command"`);
    const documented = tables.get(key) ?? [];
    if (longs.length > 0) assert.ok(tables.get(key) !== null, `${label(path)}: docs/usage.md has a table of its options`);
    for (const long of longs) assert.ok(documented.includes(long), `${label(path)} declares ${long}, but docs/usage.md's table for it does not list it`);
    for (const long of documented) {
      assert.ok(longs.includes(long) || IMPLICIT.includes(long), `docs/usage.md documents ${long} for ${label(path)}, which does not take it`);
    }
  }
  const known = new Set(commands.map((c) => c.path.join(" ")));
  for (const key of tables.keys()) assert.ok(known.has(key), `docs/usage.md has a table for "${key}", which is not a command`);
});

test("the man page names every option of every command, and no option the program does not know", async () => {
  const man = manLongs();
  const all = new Set([...(await declared()).flatMap((c) => c.longs), ...IMPLICIT]);
  for (const { path, longs } of (await declared())) {
    for (const long of longs) assert.ok(man.has(long), `${label(path)} declares ${long}, but man/camctl.1 does not mention it`);
  }
  for (const long of man) assert.ok(all.has(long), `man/camctl.1 mentions ${long}, which no command takes`);
});

test("--help of each command lists every option it declares (generated from the same declaration)", async () => {
  for (const { path, longs } of (await declared())) {
    const f = fakeIO();
    assert.equal(await main([...path, "--help"], { io: f.io }), 0, f.err());
    const listed = new Set(f.out().match(LONG) ?? []);
    for (const long of longs) assert.ok(listed.has(long), `${label(path)} --help does not list ${long}`);
  }
});

async function completionScript(shell: string): Promise<string> {
  const f = fakeIO();
  assert.equal(await main(["completion", shell], { io: f.io }), 0, f.err());
  return f.out();
}

test("bash completion offers every option of every command", { skip: spawnSync("bash", ["-c", "exit 0"]).status === 0 ? false : "bash is not installed" }, async () => {
  const bash = await completionScript("bash");
  for (const { path, longs } of (await declared())) {
    const words = ["camctl", ...path, "--"];
    const offered = execFileSync("bash", ["-c", `${bash}\nCOMP_WORDS=(${words.join(" ")}); COMP_CWORD=${words.length - 1}; _camctl; echo "\${COMPREPLY[*]}"`], {
      encoding: "utf8",
    })
      .trim()
      .split(" ");
    for (const long of longs) assert.ok(offered.includes(long), `bash completion of "${label(path)} --" does not offer ${long}`);
  }
});

test("fish completion offers every option of every command, under that command", async () => {
  const fish = (await completionScript("fish")).split("\n");
  for (const { path, longs } of (await declared())) {
    const condition = path.length === 0 ? "__fish_use_subcommand" : path.map((w) => `__fish_seen_subcommand_from ${w}`).join("; and ");
    const lines = fish.filter((l) => l.startsWith(`complete -c camctl -n "${condition}" `));
    for (const long of longs) {
      assert.ok(
        lines.some((l) => l.includes(` -l ${long.slice(2)} `) || l.endsWith(` -l ${long.slice(2)}`)),
        `fish completion does not offer ${long} for ${label(path)}`,
      );
    }
  }
});
