// Build: type-check and compile everything (src + tests) with tsc into build/, then bundle the
// CLI with esbuild into dist/: a start bundle (dist/camctl.cjs) and the chunks it requires on
// demand, so start-up reads one file instead of resolving hundreds, and not the whole program.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
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
// Worked out once here rather than at every start: the name of the admin-socket variable that
// holds the Lua library (a hash of it; src/transports/socket/lua.ts), taken from the tsc-built module.
await import("./lua-text-hook.mjs"); // lets build/ import .lua as text, as the tests do
const { LIBRARY_VARIABLE } = await import(`${root}build/src/transports/socket/lua.js`);

// Commander requires node:child_process when it is loaded, only to run executable subcommands
// (camctl has none); it costs every start a few milliseconds, and the single executable's start-up
// snapshot (made from dist/) would carry it. Here commander gets a stand-in that requires the real
// module the first time spawn is called.
const lazyChildProcess = {
  name: "lazy-child-process-for-commander",
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: "child_process", namespace: "lazy-builtin" } : undefined);
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, () => ({
      contents: `module.exports = { get spawn() { return require("node:child_process").spawn; } };`,
      loader: "js",
    }));
  },
};

// The bundle, in pieces: esbuild splits the program at its dynamic imports (each command, each
// transport, each renderer and what only they use) into chunks, every module in exactly one of
// them (so classes and module state exist once: instanceof CamError, OutputFailed, the interrupt
// hint); the start bundle below merges some of them whole; then each piece is turned into
// CommonJS, which Node 20 starts faster than ES modules and which bin/camctl can hand to V8 with
// a code cache. A command's own code is read only when it is chosen: start-up does not grow with
// the number of commands.
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  minify: true,
  logLevel: "warning",
};
const split = await build({
  ...common,
  entryPoints: { camctl: `${root}src/cli/program.ts` },
  outdir: `${root}dist`,
  splitting: true,
  format: "esm",
  chunkNames: "camctl-[hash]",
  legalComments: "external",
  loader: { ".lua": "text" },
  define: { CAMCTL_LIBRARY_VARIABLE: JSON.stringify(LIBRARY_VARIABLE) },
  plugins: [lazyChildProcess],
  metafile: true,
  write: false,
});
const base = (p) => p.replace(/^.*[\\/]/, "");
const chunks = new Map(split.outputFiles.filter((o) => o.path.endsWith(".js")).map((o) => [base(o.path), o.text]));
const meta = new Map(Object.entries(split.metafile.outputs).map(([p, o]) => [base(p), o]));

// The start bundle: the entry chunk and the chunks `camctl user clients` needs over the admin
// socket (the path start-up is measured on), with everything they import statically, merged into
// dist/camctl.cjs: one file to read instead of a score. Every other chunk stays a file of its own.
const START_MODULES = [
  "src/cli/user/clients.ts",
  "src/cli/output.ts",
  "src/config/contexts.ts",
  "src/transports/socket/socket-source.ts",
  "src/render/client-records.ts",
  "src/render/table.ts",
  // The account's status line (issue 18): its facts come in the listing's own reply (lua.ts listChunk).
  "src/render/account-status.ts",
];
// A module renamed or moved must be renamed here too, or start-up would quietly grow: refuse.
for (const m of START_MODULES) {
  if (!existsSync(`${root}${m}`)) {
    console.error(`build: START_MODULES names ${m}, which does not exist; update the list.`);
    process.exit(1);
  }
}
const start = new Set(["camctl.js"]);
for (const [name, o] of meta) if (Object.keys(o.inputs).some((i) => START_MODULES.some((m) => i.endsWith(m)))) start.add(name);
for (const name of start) for (const i of meta.get(name).imports) if (i.kind === "import-statement" && chunks.has(base(i.path))) start.add(base(i.path));
const nsName = (chunk) => `chunk_${chunk.replace(/^camctl-|\.js$/g, "").replace(/\W/g, "_")}`;
const merged = await build({
  ...common,
  stdin: {
    contents: [`export * from "./camctl.js";`, ...[...start].filter((c) => c !== "camctl.js").map((c) => `export * as ${nsName(c)} from "./${c}";`)].join("\n"),
    resolveDir: `${root}dist`,
    loader: "js",
  },
  format: "esm",
  legalComments: "none",
  write: false,
  plugins: [{
    name: "chunks-in-memory",
    setup(b) {
      b.onResolve({ filter: /^\.\/camctl.*\.js$/ }, (args) =>
        start.has(args.path.slice(2)) ? { path: args.path.slice(2), namespace: "chunk" } : { path: args.path, external: true });
      b.onLoad({ filter: /.*/, namespace: "chunk" }, (args) => ({ contents: chunks.get(args.path), loader: "js", resolveDir: `${root}dist` }));
    },
  }],
});

mkdirSync(`${root}dist`, { recursive: true });
const { writeFileSync: write } = await import("node:fs");
const { transform } = await import("esbuild");
/** ES module → CommonJS; a chunk named by another is required from its file or from the start bundle. */
async function toCommonJs(text) {
  const cjs = await transform(text, {
    format: "cjs",
    platform: "node",
    target: "node20",
    minify: true,
    legalComments: "none",
    // import("./chunk.js") becomes require("./chunk.js"): bin/camctl's loader serves it.
    supported: { "dynamic-import": false },
  });
  return cjs.code.replace(/require\("\.\/(camctl[\w-]*\.js)"\)/g, (_, chunk) =>
    start.has(chunk) ? `require("./camctl.cjs")${chunk === "camctl.js" ? "" : `.${nsName(chunk)}`}` : `require("./${chunk.replace(/\.js$/, ".cjs")}")`);
}
write(`${root}dist/camctl.cjs`, await toCommonJs(merged.outputFiles[0].text));
for (const [name, text] of chunks) if (!start.has(name)) write(`${root}dist/${name.replace(/\.js$/, ".cjs")}`, await toCommonJs(text));
// The licences of the bundled packages (esbuild's legal comments), for every piece in one file.
const legal = split.outputFiles.filter((o) => o.path.endsWith(".LEGAL.txt")).map((o) => o.text);
write(`${root}dist/camctl.cjs.LEGAL.txt`, [...new Set(legal.join("").split(/\n(?=\n)/))].join("\n"));
write(`${root}build/bundle-meta.json`, JSON.stringify({ ...split.metafile, start: [...start] }));

// What `camctl --version` prints, for bin/camctl to answer it without loading the bundle.
{
  const { writeFileSync } = await import("node:fs");
  const { VERSION } = await import(`${root}build/src/core/version.js`);
  writeFileSync(`${root}dist/version.txt`, `${VERSION}\n`);
}

// V8 code caches, one per piece: bin/camctl hands them to V8 so start-up skips most parsing and
// compiling. Made by loading the pieces exactly as bin/camctl does and running the warm-up listing
// in them (src/cli/warm-up.ts: `user clients` from a stand-in admin socket, as a table and as
// JSON, and against no socket at all); the pieces that did not run get a cache of their top level.
// V8 checks a cache against the source and its own version, and ignores it if stale.
{
  const Module = (await import("node:module")).default;
  const { createLoader } = Module.createRequire(import.meta.url)("../bin/camctl");
  const loader = createLoader(`${root}dist`, { useCache: false, keepScripts: true });
  const { warmUp } = loader.load("camctl.cjs");
  try {
    await warmUp();
  } catch (err) {
    console.error(`build: ${err.message}`);
    process.exit(1);
  }
  for (const name of readdirSync(`${root}dist`).filter((f) => f.endsWith(".cjs"))) {
    write(`${root}dist/${name}.cache`, loader.script(name).createCachedData());
  }
}
