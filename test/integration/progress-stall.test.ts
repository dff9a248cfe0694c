// The progress line of `host clients` when its output is not being read: stdout a pipe whose
// reader has not started, stderr a real terminal (util-linux script), a real Prosody with enough
// records to fill the pipe. The line must say the scan waits for the output, not keep showing
// the count of before as if the server were slow (issue 22, item 11).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startSandbox, type Sandbox } from "../sandbox/sandbox.js";
import { addBulkGrants } from "../helpers/bulk-grants.js";
import { haveScript } from "../helpers/terminal.js";
import { CAMCTL_BIN } from "../helpers/run-camctl.js";

let sb: Sandbox;
let dir: string;

before(async () => {
  sb = await startSandbox();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-stall-"));
  for (const name of ["stall1", "stall2"]) {
    const { jid } = await sb.createAccount(name);
    await addBulkGrants(sb, jid, 1500, "Piped app");
  }
});
after(async () => {
  await sb?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("stdout not read: the progress line says it waits for the output; once read, every record arrives", { skip: haveScript ? false : "util-linux script is not installed" }, async () => {
  const flag = path.join(dir, "read-now");
  const count = path.join(dir, "count");
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const camctl = [process.execPath, CAMCTL_BIN, "host", "clients", sb.host, "-o", "ndjson", "--socket", sb.socketPath].map(q).join(" ");
  // The reader starts reading only once the test has seen what the terminal shows.
  const reader = `{ while [ ! -e ${q(flag)} ]; do sleep 0.1; done; wc -l > ${q(count)}; }`;
  const child = spawn("script", ["-qec", `stty cols 160 rows 50; ${camctl} | ${reader}`, "/dev/null"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8", TERM: "xterm-256color", CAMCTL_CONFIG: "/nonexistent/camctl-test/config.toml" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let screen = "";
  const waiting = /scanned [\d,]+ \/ 2 accounts · waiting for the output to be read/;
  const seen = new Promise<boolean>((resolve) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      screen += d;
      if (waiting.test(screen)) resolve(true);
    });
    child.on("close", () => resolve(false));
    // Not a timing assertion: only a bound on a test that would otherwise hang.
    setTimeout(() => resolve(false), 120_000).unref();
  });
  const saw = await seen;
  fs.writeFileSync(flag, "");
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("close", resolve)));
  assert.ok(saw, `the terminal showed: ${JSON.stringify(screen.slice(-400))}`);
  assert.equal(code, 0, screen);
  assert.equal(Number(fs.readFileSync(count, "utf8").trim()), 3000, "every record reached the reader");
});
