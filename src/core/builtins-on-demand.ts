// Node built-ins that only some paths need (writing plans and config files), in a module of their
// own that those paths import on demand: camctl's start-up then never loads them. A local module,
// not `import("node:…")`: the bundle runs in a vm.Script (bin/camctl), where only bundled modules
// can be imported on demand.
export { default as fsPromises } from "node:fs/promises";
export { tmpdir } from "node:os";
export { randomBytes } from "node:crypto";
export { isDeepStrictEqual } from "node:util";
