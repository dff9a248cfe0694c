// Runs every test: unit tests and the integration tests that start a real Prosody sandbox.
// `npm test` runs the sandbox install check and the build first (see "pretest").
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
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
const r = spawnSync(process.execPath, ["--import", luaTextHook, "--test", "--test-concurrency=2", "--test-timeout=180000", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
