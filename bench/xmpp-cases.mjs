// The XMPP side of the bench: camctl --jid against a minimal @xmpp/client script that does the
// same login and request (the floor for that path).
import { chmodSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";

export async function xmppCases(sb, work, camctlBin) {
  const { jid, password } = await sb.createAccount("xbench");
  await sb.createGrant(jid, { software: "Bench client" });
  const pwFile = join(work, "password");
  writeFileSync(pwFile, password + "\n", { mode: 0o600 });
  chmodSync(pwFile, 0o600);
  // camctl keeps its user-agent id under XDG_STATE_HOME: one directory for all rounds.
  const env = { XDG_STATE_HOME: join(work, "state"), XDG_CONFIG_HOME: join(work, "config"), HOME: work };
  const camctl = (...extra) => [process.execPath, camctlBin, "user", "clients", jid, "--jid", jid, "--password-file", pwFile,
    "--server", `127.0.0.1:${sb.c2sPort}`, "--ca-file", sb.caFile, ...extra];
  const script = new URL("./minimal-xmpp.mjs", import.meta.url).pathname;
  const ua = randomUUID();
  const minimal = (...extra) => [process.execPath, script, jid, String(sb.c2sPort), pwFile, ua, ...extra];
  const caEnv = { NODE_EXTRA_CA_CERTS: sb.caFile };
  return [
    { name: "camctl user clients, xmpp, json, 1 client", cmd: camctl("--json"), env },
    { name: "camctl user clients, xmpp, table, 1 client", cmd: camctl(), env },
    { name: "minimal @xmpp/client script (floor for XMPP)", cmd: minimal(), env: caEnv },
    { name: "minimal @xmpp/client script, PLAIN", cmd: minimal("PLAIN"), env: caEnv },
  ];
}
