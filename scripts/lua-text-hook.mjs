// Registers a module loader that turns `import text from "./x.lua"` into the file's text, the way
// esbuild's text loader does for the bundle. Used for the tsc-built files under build/ (tests):
// `node --import ./scripts/lua-text-hook.mjs …` (scripts/test.mjs passes it).
import { register } from "node:module";

register("data:text/javascript," + encodeURIComponent(`
import { readFile } from "node:fs/promises";
export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".lua")) return nextLoad(url, context);
  const text = await readFile(new URL(url), "utf8");
  return { format: "module", source: "export default " + JSON.stringify(text) + ";", shortCircuit: true };
}`));
