// Runs every test: unit tests and the integration tests that start a real Prosody sandbox.
// `npm test` runs the sandbox install check and the build first (see "pretest").
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
function find(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(find(p));
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}
const only = process.argv.slice(2);
const files = find(join(root, "build/test"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error("test: no test files found under build/test; run npm run build first.");
  process.exit(1);
}
// The hook lets the tsc-built files import .lua sources as text, as the bundle does (see build.mjs).
const luaTextHook = join(root, "scripts/lua-text-hook.mjs");
// Node's usual reporter on stdout (spec on a terminal, TAP otherwise), and a TAP copy in a file
// from which the closing summary is made: thousands of lines scroll by, so the failures are
// named again at the end, followed by node's own totals ("# pass N", "# fail N") as the last lines.
const tapDir = mkdtempSync(join(tmpdir(), "camctl-test-"));
const tapFile = join(tapDir, "results.tap");
const reporters = [`--test-reporter=${process.stdout.isTTY ? "spec" : "tap"}`, "--test-reporter-destination=stdout", "--test-reporter=tap", `--test-reporter-destination=${tapFile}`];
const r = spawnSync(process.execPath, ["--import", luaTextHook, "--test", "--test-concurrency=2", "--test-timeout=180000", ...reporters, ...files], { stdio: "inherit" });
try {
  process.stdout.write(closingSummary(readFileSync(tapFile, "utf8")));
} catch (e) {
  process.stderr.write(`test: no closing summary (${e.message}).\n`);
} finally {
  rmSync(tapDir, { recursive: true, force: true });
}
process.exit(r.status ?? 1);

/** The failed tests (not the suites that only contain them), each with its source file and error, then node's totals. */
function closingSummary(tap) {
  const lines = tap.split("\n");
  const names = [];
  const failed = [];
  for (let i = 0; i < lines.length; i++) {
    const subtest = /^( *)# Subtest: (.*)$/.exec(lines[i]);
    if (subtest) {
      const depth = subtest[1].length / 4;
      names.length = depth;
      names[depth] = subtest[2];
      continue;
    }
    const result = /^( *)not ok \d+ - (.*)$/.exec(lines[i]);
    if (!result) continue;
    const depth = result[1].length / 4;
    let location;
    let error;
    for (let j = i + 1; j < lines.length && lines[j].trim() !== "..."; j++) {
      location ??= /^\s+location: '(.*)'$/.exec(lines[j])?.[1];
      const e = /^\s+error: (.*)$/.exec(lines[j]);
      if (e && error === undefined) error = e[1] === "|-" || e[1] === "|" ? (lines[j + 1] ?? "").trim() : e[1].replace(/^'(.*)'$/, "$1");
    }
    if (error !== undefined && /^\d+ subtests? failed$/.test(error)) continue;
    failed.push({ name: [...names.slice(0, depth), result[2]].join(" › "), location, error });
  }
  const totals = lines.filter((l) => /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(l));
  const source = (location) => {
    if (!location) return "";
    // build/test/x/y.test.js:12:3 → test/x/y.test.ts (the compiled lines differ from the source's).
    const file = location.replace(/:\d+:\d+$/, "").replace(root, "");
    return `  (${file.replace(/^build\//, "").replace(/\.js$/, ".ts")})`;
  };
  let out = "\n";
  if (failed.length === 0) out += "No test failed.\n";
  else {
    out += `Failed (${failed.length}):\n`;
    for (const f of failed) {
      out += `  ✗ ${f.name}${source(f.location)}\n`;
      if (f.error) out += `      ${f.error.length > 200 ? `${f.error.slice(0, 199)}…` : f.error}\n`;
    }
  }
  return out + totals.join("\n") + (totals.length ? "\n" : "");
}
