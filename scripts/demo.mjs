// npm run demo: a real Prosody 13 sandbox, a few realistic clients, and camctl against it.
// Starts the sandbox, lists alice's clients, revokes a grant, lists again, stops the sandbox.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const { startSandbox } = await import(`${root}build/test/sandbox/sandbox.js`);

const bold = process.stdout.isTTY ? (s) => `\x1b[1m${s}\x1b[0m` : (s) => s;
const say = (s) => process.stdout.write(`\n${bold(s)}\n`);
function camctl(...args) {
  process.stdout.write(`$ camctl ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [`${root}bin/camctl`, ...args], { stdio: "inherit" });
  process.stdout.write(`(exit ${r.status})\n`);
  return r.status;
}

say("Starting a sandbox Prosody 13 on loopback…");
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
} finally {
  for (const h of held) await h.close().catch(() => {});
  await sb.stop();
  say("Sandbox stopped.");
}
