// An esbuild plugin for the bundles (scripts/build.mjs, scripts/build-sea.mjs). Commander requires
// node:child_process when it is loaded, only to run executable subcommands (camctl has none); it
// costs every start a few milliseconds, and the single executable's start-up snapshot would carry
// it. Here commander gets a stand-in that requires the real module the first time spawn is called.
export const lazyChildProcess = {
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
