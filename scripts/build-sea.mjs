// Builds camctl as one executable file for linux-x64 (Node's single-executable applications): the
// Node binary that runs this script, with the whole program injected as one CommonJS script. A
// server then needs neither npm nor a Node of its own. Run after `npm run build` (it takes the
// admin-socket library's variable name from build/, as scripts/build.mjs does).
//
//   node scripts/build-sea.mjs [output]     (default: dist-sea/camctl-linux-x64)
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const output = resolve(process.argv[2] ?? `${root}dist-sea/camctl-linux-x64`);
if (process.platform !== "linux" || process.arch !== "x64") {
  console.error(`build-sea: this builds for linux-x64 only, and this Node is ${process.platform}-${process.arch}.`);
  process.exit(1);
}
await import("./lua-text-hook.mjs");
let LIBRARY_VARIABLE;
try {
  ({ LIBRARY_VARIABLE } = await import(`${root}build/src/transports/socket/lua.js`));
} catch {
  console.error("build-sea: build/ is missing or stale; run npm run build first.");
  process.exit(1);
}

const work = mkdtempSync(`${tmpdir()}/camctl-sea-`);
try {
  // One script, no chunks: a single executable's main script can require only Node's built-ins.
  await build({
    entryPoints: [`${root}src/cli/single-executable.ts`],
    outfile: `${work}/camctl.cjs`,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
    loader: { ".lua": "text" },
    define: { CAMCTL_LIBRARY_VARIABLE: JSON.stringify(LIBRARY_VARIABLE) },
  });
  writeFileSync(`${work}/sea-config.json`, JSON.stringify({
    main: `${work}/camctl.cjs`,
    output: `${work}/camctl.blob`,
    disableExperimentalSEAWarning: true,
    // V8's code cache for the script, made now: start-up skips most compiling.
    useCodeCache: true,
  }));
  execFileSync(process.execPath, ["--experimental-sea-config", `${work}/sea-config.json`], { stdio: ["ignore", "ignore", "inherit"] });
  const executable = `${work}/camctl`;
  copyFileSync(process.execPath, executable);
  chmodSync(executable, 0o755);
  const { inject } = createRequire(import.meta.url)("postject");
  await inject(executable, "NODE_SEA_BLOB", readFileSync(`${work}/camctl.blob`), {
    sentinelFuse: "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
  });
  mkdirSync(dirname(output), { recursive: true });
  // Renamed into place: a half-written executable is never left under the final name.
  copyFileSync(executable, `${output}.partial`);
  renameSync(`${output}.partial`, output);
  console.error(`build-sea: wrote ${output} (Node ${process.versions.node}, ${process.platform}-${process.arch}).`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
