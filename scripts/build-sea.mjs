// Builds camctl as one executable file for linux-x64 (Node's single-executable applications): the
// Node binary that runs this script, carrying a V8 start-up snapshot of camctl and the pieces of
// dist/ as assets. A server then needs neither npm nor a Node of its own. Run after `npm run build`:
// the executable is made from dist/, the same pieces and code caches `bin/camctl` loads.
//
//   node scripts/build-sea.mjs [output]     (default: dist-sea/camctl-linux-x64)
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const dist = `${root}dist`;
const output = resolve(process.argv[2] ?? `${root}dist-sea/camctl-linux-x64`);
if (process.platform !== "linux" || process.arch !== "x64") {
  console.error(`build-sea: this builds for linux-x64 only, and this Node is ${process.platform}-${process.arch}.`);
  process.exit(1);
}
if (!existsSync(`${dist}/camctl.cjs`)) {
  console.error("build-sea: dist/ is missing; run npm run build first.");
  process.exit(1);
}

/**
 * The executable's timers work after its snapshot (see bin/single-executable.cjs settleTimers):
 * --timeout ends a wait on a socket that never answers, with exit 3. Fails the build otherwise.
 */
async function checkTimers(executable) {
  const socketPath = `${work}/silent.sock`;
  const server = createServer((c) => c.on("error", () => {}));
  await new Promise((resolve) => server.listen(socketPath, resolve));
  try {
    const code = await new Promise((resolve) => {
      const child = spawn(executable, ["user", "clients", "check@example.com", "--socket", socketPath, "--timeout", "1"], { stdio: "ignore" });
      const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.on("close", (c) => {
        clearTimeout(kill);
        resolve(c);
      });
    });
    if (code !== 3) throw new Error(`the executable's --timeout did not end a wait on a silent socket (exit ${code}, expected 3); not written.`);
  } finally {
    server.close();
  }
}

const work = mkdtempSync(`${tmpdir()}/camctl-sea-`);
try {
  // The main script: bin/single-executable.cjs with bin/camctl's loader, nothing else (a snapshot's
  // main script can require only Node's built-ins; the start bundle is read from dist/ by it).
  await build({
    entryPoints: [`${root}bin/single-executable.cjs`],
    outfile: `${work}/main.cjs`,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    legalComments: "none",
    logLevel: "warning",
    loader: { "": "js" }, // bin/camctl has no extension
  });
  // Every other piece, and every code cache, as an asset under its own name.
  const assets = Object.fromEntries(readdirSync(dist)
    .filter((f) => /^camctl-.*\.cjs(\.cache)?$/.test(f))
    .map((f) => [f, `${dist}/${f}`]));
  writeFileSync(`${work}/sea-config.json`, JSON.stringify({
    main: `${work}/main.cjs`,
    output: `${work}/camctl.blob`,
    disableExperimentalSEAWarning: true,
    // A V8 start-up snapshot taken after the main script has run here (it loads the start bundle
    // and runs the warm-up listing): the executable starts with the program loaded and the
    // listing's code compiled, where a code cache would still load and run every module.
    useSnapshot: true,
    assets,
  }));
  // The warm-up listing's stand-in admin socket is served from this process (the snapshotted one
  // holds only the client side), from the same dist/ through bin/camctl's loader.
  const { createLoader } = createRequire(import.meta.url)("../bin/camctl");
  const standIn = await createLoader(dist).load("camctl.cjs").startWarmUpStandIn();
  try {
    // --no-warnings: building the snapshot warns that node:tty (loaded for the terminal checks) is
    // "not yet fully verified" in snapshots; the suite runs the core commands with this executable.
    const code = await new Promise((resolve) => {
      spawn(process.execPath, ["--no-warnings", "--experimental-sea-config", `${work}/sea-config.json`], {
        stdio: ["ignore", "ignore", "inherit"],
        env: { ...process.env, CAMCTL_SEA_DIST: dist, CAMCTL_SEA_WARM_UP_SOCKET: standIn.socketPath },
      }).on("error", () => resolve(null)).on("close", resolve);
    });
    if (code !== 0) throw new Error("Node could not make the executable's snapshot (its message is above).");
  } finally {
    await standIn.close();
  }
  const executable = `${work}/camctl`;
  copyFileSync(process.execPath, executable);
  chmodSync(executable, 0o755);
  const { inject } = createRequire(import.meta.url)("postject");
  await inject(executable, "NODE_SEA_BLOB", readFileSync(`${work}/camctl.blob`), {
    sentinelFuse: "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
  });
  await checkTimers(executable);
  mkdirSync(dirname(output), { recursive: true });
  // Renamed into place: a half-written executable is never left under the final name.
  copyFileSync(executable, `${output}.partial`);
  renameSync(`${output}.partial`, output);
  console.error(`build-sea: wrote ${output} (Node ${process.versions.node}, ${process.platform}-${process.arch}).`);
} catch (err) {
  console.error(`build-sea: ${err.message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
