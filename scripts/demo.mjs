// npm run demo: a real Prosody 13 sandbox, a few realistic clients, and camctl against it.
// Starts the sandbox, lists alice's clients, revokes a grant, lists again, stops the sandbox.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);

const bold = process.stdout.isTTY ? (s) => `\x1b[1m${s}\x1b[0m` : (s) => s;
const say = (s) => process.stdout.write(`\n${bold(s)}\n`);
// camctl's XMPP state (its stable user-agent id) and the password file live here, not in $HOME.
const scratch = mkdtempSync(join(tmpdir(), "camctl-demo-"));
function camctl(...args) {
  process.stdout.write(`$ camctl ${args.join(" ")}\n`);
  const env = { ...process.env, XDG_STATE_HOME: join(scratch, "state") };
  const r = spawnSync(process.execPath, [`${root}bin/camctl`, ...args], { stdio: "inherit", env });
  process.stdout.write(`(exit ${r.status})\n`);
  return r.status;
}

say("Starting a sandbox Prosody 13 on loopback…");
// Say which mod_client_management answers: the project's stand-in unless the real one is given.
const realModules = process.env.CAMCTL_PROSODY_PLUGIN_PATHS;
say(realModules
  ? `mod_client_management: loaded from ${realModules} (CAMCTL_PROSODY_PLUGIN_PATHS) where it is there, else the project's stand-in.`
  : "mod_client_management: the project's stand-in (test/fixtures/prosody-plugins/, which behaves like the real module, its defects too). " +
    "To run this against the real module: CAMCTL_PROSODY_PLUGIN_PATHS=/path/to/prosody-modules npm run demo");
const sb = await startSandbox();
const held = [];
try {
  const { jid, password } = await sb.createAccount("alice");
  held.push(await sb.sasl2Login({ jid, password, userAgentId: randomUUID(), software: "Gajim", version: "1.9.5", device: "Juliet's laptop", keepConnected: true }));
  await sb.sasl2Login({ jid, password, userAgentId: randomUUID(), software: "Conversations", version: "2.17.2", device: "Pixel 8" });
  held.push(await sb.legacyLogin({ jid, password, resource: "profanity", keepConnected: true }));
  const grant = await sb.createGrant(jid, { software: "Nextcloud Talk bridge", uri: "https://nextcloud.com/" });
  await sb.createGrant(jid, { software: "Backup script" });
  const socket = ["--socket", sb.socketPath];

  say(`What has access to ${jid}?`);
  camctl("user", "clients", jid, ...socket);
  say("The same, for scripts:");
  camctl("user", "clients", jid, ...socket, "--json");
  say(`Revoke the bridge's grant (${grant}):`);
  camctl("user", "revoke_client", jid, grant, "--yes", ...socket);
  say("It is gone:");
  camctl("user", "clients", jid, ...socket);

  const passwordFile = join(scratch, "alice.pw");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  say("The same question over XMPP, logged in as alice (camctl's own login shows up as one client):");
  camctl("user", "clients", jid, "--jid", jid, "--password-file", passwordFile,
    "--server", `127.0.0.1:${sb.c2sPort}`, "--ca-file", sb.caFile);
} finally {
  for (const h of held) await h.close().catch(() => {});
  await sb.stop();
  rmSync(scratch, { recursive: true, force: true });
  say("Sandbox stopped.");
}
