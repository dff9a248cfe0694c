// Lua sources are imported as their text: esbuild's "text" loader in the bundle, and
// scripts/lua-text-hook.mjs for the tsc-built files (see scripts/build.mjs).
declare module "*.lua" {
  const text: string;
  export default text;
}
