// The floor for camctl's XMPP path: the least a script using @xmpp/client does to answer the
// same question — log in (SASL2, stable user-agent, STARTTLS to the sandbox with its CA), send one
// manage-clients <list/>, print how many clients came back, close.
// Usage: NODE_EXTRA_CA_CERTS=<ca.pem> node bench/minimal-xmpp.mjs <jid> <port> <password-file> <user-agent-id> [PLAIN]
import { readFileSync } from "node:fs";
import { client, xml } from "@xmpp/client";

const [jid, port, passwordFile, uaId, forceMechanism] = process.argv.slice(2);
const [username, domain] = jid.split("@");
const password = readFileSync(passwordFile, "utf8").trim();
const userAgent = xml("user-agent", { id: uaId }, xml("software", {}, "minimal"), xml("device", {}, "bench"));
const xmpp = client({
  service: `xmpp://127.0.0.1:${port}`,
  domain,
  username,
  // As a function, so the mechanism can be pinned; otherwise the library's own choice.
  credentials: async (authenticate, mechanisms) =>
    authenticate({ username, password }, forceMechanism ?? mechanisms[0], userAgent),
});
xmpp.reconnect.stop();
xmpp.timeout = 10_000; // the library's 2 s default for each step fails on a busy 2-core machine
xmpp.fast.auth = async () => false; // no FAST token per run (camctl asks for none either)
xmpp.on("error", (e) => {
  console.error(String(e));
  process.exit(3);
});
await xmpp.start();
const reply = await xmpp.iqCaller.request(
  xml("iq", { type: "get" }, xml("list", { xmlns: "xmpp:prosody.im/protocol/manage-clients" })),
  10_000,
);
console.log(reply.getChildren("client").length);
await xmpp.stop();
