// The main script of the single executable (scripts/build-sea.mjs bundles it, with bin/camctl's
// loader, into one script): camctl for servers without npm or with an older Node.
//
// Node runs it once at build time to take a V8 start-up snapshot (sea-config `useSnapshot`): the
// start bundle (dist/camctl.cjs, read from disk then) is loaded and the warm-up listing run
// (src/cli/warm-up.ts), so the executable starts with its modules initialised and the listing's
// code compiled. Every other piece of dist/ is an asset of the executable, loaded when a command
// needs it, with its code cache. Nothing of the build machine is kept: the warm-up passes its own
// streams and an empty environment; argv, environment, terminal and colour are read in `start`.
"use strict";
const fs = require("node:fs");
const { startupSnapshot } = require("node:v8");
const { answeredVersion, createLoader } = require("./camctl");

if (!startupSnapshot.isBuildingSnapshot()) {
  // Built without a snapshot (or run as a plain script): nothing can start.
  process.stderr.write("camctl: this script is the single executable's build step (scripts/build-sea.mjs).\n");
  process.exit(1);
}

// Where the pieces come from: dist/ while the snapshot is built, the executable's assets after.
let readPiece;
const dist = process.env.CAMCTL_SEA_DIST;
// The warm-up's stand-in admin socket, served by build-sea.mjs: a server listening here would
// leave Node's cluster, child_process and dgram in the snapshot, and in every start.
const standInSocket = process.env.CAMCTL_SEA_WARM_UP_SOCKET;
if (!dist || !standInSocket) {
  process.stderr.write("build-sea: CAMCTL_SEA_DIST and CAMCTL_SEA_WARM_UP_SOCKET must name dist/ and the warm-up's stand-in socket.\n");
  process.exit(1);
}
const loader = createLoader(dist, { read: (name, what) => readPiece(name, what) });
readPiece = (name, what) => {
  if (what === "text") return fs.readFileSync(`${dist}/${name}`, "utf8");
  return undefined; // compiled here, then kept in the snapshot
};
const camctl = loader.load("camctl.cjs");
// What `camctl --version` prints, kept in the snapshot (bin/camctl reads the same line at each start).
const versionLine = fs.readFileSync(`${dist}/version.txt`, "latin1");

function start() {
  const argv = process.argv.slice(2);
  if (answeredVersion(argv, () => versionLine)) return;
  const sea = require("node:sea");
  readPiece = (name, what) => {
    if (what === "text") return sea.getAsset(name, "utf8");
    try {
      return Buffer.from(sea.getAsset(`${name}.cache`));
    } catch {
      return undefined;
    }
  };
  process.once("SIGINT", () => process.exit(camctl.interrupted()));
  void camctl.main(argv).then(camctl.exitWhenFlushed);
}

/**
 * Node's timers keep, in the snapshot, when they last asked to be woken. A timer cleared before it
 * was due (the warm-up's --timeout deadline, the admin socket's give-up) leaves that time behind,
 * and in the new process a timer due after it is never scheduled: --timeout would never fire. So
 * the build waits past every timer a listing leaves (the give-up's 200 ms, adminstream.ts close)
 * and lets that wait run out last, which leaves no such time. build-sea.mjs checks the result.
 */
const settleTimers = () => new Promise((resolve) => setTimeout(resolve, 500));

/**
 * Every module in the snapshot is deserialised by every start, `--version` too. Fails the build if
 * the warm-up left one that only a server or a child process needs (see standInSocket above).
 * process.moduleLoadList is Node's own, undocumented list; without it nothing is checked.
 */
function checkLoaded() {
  const extra = (process.moduleLoadList ?? []).filter((m) => /^NativeModule (cluster|child_process|dgram)$/.test(m));
  if (extra.length > 0) throw new Error(`the snapshot would carry ${extra.map((m) => `node:${m.slice(13)}`).join(", ")}, which no listing needs; not written.`);
}

startupSnapshot.setDeserializeMainFunction(start);
camctl
  .warmUp({ failedConnect: false, socketPath: standInSocket })
  .then(checkLoaded)
  .then(settleTimers)
  .catch((err) => {
    // A failed warm-up fails the build: no executable is written from this snapshot.
    process.stderr.write(`build-sea: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
