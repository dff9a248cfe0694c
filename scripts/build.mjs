// Build: type-check and compile everything (src + tests) with tsc into build/, then bundle the
// CLI into dist/ with esbuild so start-up reads a few files instead of resolving hundreds.
// Heavy paths (XMPP client, prompts, table renderer) stay in separate chunks loaded on demand.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
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
await build({
  entryPoints: { camctl: `${root}src/cli.ts` },
  outdir: `${root}dist`,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  legalComments: "linked",
  logLevel: "warning",
  // CommonJS dependencies inside an ES module bundle still call require() for built-ins.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
});
