// Build: type-check and compile everything (src + tests) with tsc into build/, then bundle the
// CLI into one file in dist/ with esbuild, so start-up reads one file instead of resolving hundreds.
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
  entryPoints: [`${root}src/cli.ts`],
  outfile: `${root}dist/camctl.cjs`,
  bundle: true,
  // One CommonJS file: Node 20 starts a CommonJS entry faster than an ES module graph, and the
  // lazily imported parts (XMPP client, prompts, renderers) are only parsed, not run, until needed.
  format: "cjs",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "linked",
  logLevel: "warning",
});
