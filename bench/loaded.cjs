// Preloaded into a measured camctl (node --require bench/loaded.cjs bin/camctl …): at exit, writes
// to $CAMCTL_BENCH_LOADED_FILE which files of dist/ the process read (the bundle's pieces and
// their code caches), one "<bytes> <name>" line each: what a command's start-up loads.
"use strict";
const fs = require("node:fs");
const out = process.env.CAMCTL_BENCH_LOADED_FILE;
if (out) {
  const read = new Map();
  const readFileSync = fs.readFileSync;
  fs.readFileSync = function (file, ...rest) {
    const data = readFileSync.call(this, file, ...rest);
    const name = String(file);
    if (/[\\/]dist[\\/]/.test(name)) read.set(name.replace(/.*[\\/]dist[\\/]/, ""), Buffer.byteLength(data));
    return data;
  };
  process.on("exit", () => fs.writeFileSync(out, [...read].map(([n, b]) => `${b} ${n}`).join("\n") + "\n"));
}
