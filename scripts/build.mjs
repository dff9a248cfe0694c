// Build: type-check and compile everything (src + tests) with tsc into build/, then bundle the
// CLI into one file in dist/ with esbuild, so start-up reads one file instead of resolving hundreds.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
rmSync(new URL("../build", import.meta.url), { recursive: true, force: true });
rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
try {
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.json`], { stdio: "inherit" });
} catch {
  console.error("build: TypeScript reported errors (above).");
  process.exit(1);
}
// Lua sources are imported as text (`import text from "./x.lua"`, typed by src/lua-text.d.ts): the
// bundle inlines them (esbuild's text loader below); the tsc output under build/ gets copies beside
// the compiled files, which scripts/lua-text-hook.mjs loads as text when the tests run.
for (const dir of ["src", "prosody"]) copyLua(join(root, dir));
function copyLua(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) copyLua(path);
    else if (entry.name.endsWith(".lua")) {
      const copy = join(root, "build", relative(root, path));
      mkdirSync(dirname(copy), { recursive: true });
      cpSync(path, copy);
    }
  }
}
await build({
  entryPoints: [`${root}src/cli/program.ts`],
  outfile: `${root}dist/camctl.cjs`,
  bundle: true,
  // One CommonJS file: Node 20 starts a CommonJS entry faster than an ES module graph, and the
  // lazily imported parts (XMPP client, prompts, renderers) are only parsed, not run, until needed.
  format: "cjs",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "linked",
  logLevel: "warning",
  loader: { ".lua": "text" },
});

// V8 code cache for the bundle: bin/camctl hands it to V8 so start-up skips most parsing and
// compiling. Made by loading the bundle exactly as bin/camctl does and running one command that
// needs no server (the failing-socket path compiles the parser, options, validation and the
// socket transport); V8 checks it against the source and its own version, and ignores it if stale.
{
  const { readFileSync, writeFileSync } = await import("node:fs");
  const { Script } = await import("node:vm");
  const Module = (await import("node:module")).default;
  const { PassThrough } = await import("node:stream");
  const file = `${root}dist/camctl.cjs`;
  const script = new Script(Module.wrap(readFileSync(file, "utf8")), { filename: file });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, Module.createRequire(file), mod, file, `${root}dist`);
  const sink = () => new PassThrough().resume();
  const io = { stdin: sink(), stdout: sink(), stderr: sink(), stdinIsTTY: false, stdoutIsTTY: false, color: false, width: undefined, now: () => new Date(), env: {} };
  await mod.exports.main(["user", "clients", "warm-up@example.com", "--socket", `${root}dist/no-such.sock`], { io });
  await mod.exports.main(["completion", "bash"], { io });
  writeFileSync(`${file}.cache`, script.createCachedData());
}
